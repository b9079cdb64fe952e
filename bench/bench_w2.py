"""W2, head-to-head with deepsig: absolute eps-FSD (ASO) test, k = 4, n = 500, B = 200.

Same data for both. deepsig 1.2.8 (GPL; used here as an installed package, its code is not
copied) integrates on a grid (dt = 0.005 by default) and resamples through np.vectorize'd
quantile functions; riskbench integrates exactly. Both run on one process; deepsig with
num_jobs=1 and riskbench's numba kernel on the machine's threads (2 here), and riskbench also
with one thread for a like-for-like ratio.

Reported: time of the whole multi-model test in ``--runs`` runs (target, issue 15: >= 2,000x
deepsig in every run of 5), next to today's engine (riskbench at c96a759, ``bench/today.py``) in
the same process; time of the bootstrap kernel alone at equal B, and the agreement of eps (point
estimates) and of the upper confidence bounds (deepsig's eps_min).
Run: python bench/bench_w2.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
from deepsig.aso import (
    compute_violation_ratio,
    get_bootstrapped_violation_ratios,
    get_quantile_function,
    multi_aso,
)

import riskbench
from riskbench.backends import ReplicateJob, Resampler, compute_batch

K, N, B = 4, 500, 200


def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {f"model{a}": rng.beta(2 + 0.4 * a, 3, N) for a in range(K)}


def whole_tests(scores, runs: int) -> None:
    """The whole test, ``runs`` times: deepsig, today's engine and the new one in turn."""
    from today import load_today

    old = load_today()
    for rb in (riskbench, old):  # compile / load the kernels
        rb.absolute_test(scores, order=1, n_resamples=8, seed=0, design="independent")
    print("| run | deepsig 1.2.8 | today c96a759 | new | new vs deepsig | new vs today | "
          "load |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for run in range(runs):
        start = time.perf_counter()
        multi_aso(scores, confidence_level=0.95, num_bootstrap_iterations=B, num_jobs=1,
                  show_progress=False, seed=run, return_df=False)
        t_deepsig = time.perf_counter() - start
        took = {}
        for name, rb in (("today", old), ("new", riskbench)):
            best = float("inf")
            for rep in range(3):  # best of 3 (a different seed each: no cached draws)
                start = time.perf_counter()
                rb.absolute_test(scores, order=1, n_resamples=B, seed=100 * run + rep,
                                 eps0=0.5, design="independent")
                best = min(best, time.perf_counter() - start)
            took[name] = best
        ratios.append(t_deepsig / took["new"])
        print(f"| {run + 1} | {t_deepsig:.1f} s | {took['today'] * 1000:.1f} ms | "
              f"{took['new'] * 1000:.1f} ms | {t_deepsig / took['new']:,.0f}x | "
              f"{took['today'] / took['new']:.1f}x | {os.getloadavg()[0]:.1f} |")
    print(f"\nnew vs deepsig, whole test: {min(ratios):,.0f}x to {max(ratios):,.0f}x over "
          f"{runs} runs\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    scores = data()
    names = list(scores)
    whole_tests(scores, args.runs)
    start = time.perf_counter()
    theirs = multi_aso(scores, confidence_level=0.95, num_bootstrap_iterations=B, num_jobs=1,
                       show_progress=False, seed=0, return_df=False)
    t_deepsig = time.perf_counter() - start

    riskbench.absolute_test(scores, order=1, n_resamples=8, seed=0, design="independent")
    start = time.perf_counter()
    ours = riskbench.absolute_test(scores, order=1, n_resamples=B, seed=0, eps0=0.5,
                                   alpha=0.05, correction="bonferroni", design="independent")
    t_ours = time.perf_counter() - start

    # the kernel alone, one pair, B replicates: (a) each tool drawing its own resamples;
    # (b) the violation ratios of the same B pre-drawn resamples (no sampling at all)
    a, b = scores[names[0]], scores[names[1]]
    qa, qb = get_quantile_function(a), get_quantile_function(b)
    start = time.perf_counter()
    get_bootstrapped_violation_ratios(a, b, qa, qb, B, 0.005, 1, False, 0, None)
    t_deepsig_kernel = time.perf_counter() - start
    values = [np.sort(a), np.sort(b)]
    job = ReplicateJob(tuple(values), (np.argsort(a), np.argsort(b)), "independent", (1,), 0)
    compute_batch(job, 0, 2, "numba")  # compile / load the kernels
    kernel = {}
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        best = float("inf")
        for rep in range(3):  # best of 3; a new seed each time, so indices are drawn inside
            job = ReplicateJob(job.values, job.order_idx, "independent", (1,),
                               1000 * threads + rep)
            start = time.perf_counter()
            compute_batch(job, 0, B, "numba")
            best = min(best, time.perf_counter() - start)
        kernel[threads] = best
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    idx = Resampler(job.sizes, "independent", 99).indices(0, B)
    draws = [(a[idx[0][r]], b[idx[1][r]]) for r in range(B)]
    start = time.perf_counter()
    for x, y in draws:
        compute_violation_ratio(scores_a=x, scores_b=y, dt=0.005)
    t_deepsig_ratio = time.perf_counter() - start
    job = ReplicateJob(job.values, job.order_idx, "independent", (1,), 99)
    t_ratio = float("inf")
    for _ in range(3):  # best of 3 (the indices are cached: ratios only)
        start = time.perf_counter()
        mine = compute_batch(job, 0, B, "numba")[0][:, 0, 1]
        t_ratio = min(t_ratio, time.perf_counter() - start)
    grid = [compute_violation_ratio(scores_a=x, scores_b=y, dt=0.005) for x, y in draws[:20]]
    ratio_gap = float(np.max(np.abs(np.array(grid) - mine[:20])))

    print(f"| W2 (k = {K}, n = {N}, B = {B}) | deepsig 1.2.8 | riskbench | ratio |")
    print("|---|---|---|---|")
    print(f"| whole test, all {K * (K - 1)} ordered pairs | {t_deepsig:.1f} s | "
          f"{t_ours * 1000:.1f} ms | {t_deepsig / t_ours:,.0f}x |")
    for threads, took in kernel.items():
        print(f"| kernel incl. resampling, one pair, B replicates ({threads} thread(s)) | "
              f"{t_deepsig_kernel:.2f} s | {took * 1000:.2f} ms | "
              f"{t_deepsig_kernel / took:,.0f}x |")
    print(f"| kernel on the same B resamples, violation ratios only | {t_deepsig_ratio:.2f} s | "
          f"{t_ratio * 1000:.2f} ms | {t_deepsig_ratio / t_ratio:,.0f}x |")
    print()
    print("| pair | eps deepsig (grid dt=0.005) | eps riskbench (exact) | "
          "eps_min deepsig | upper bound riskbench |")
    print("|---|---|---|---|---|")
    ours_eps = ours.statistic
    # riskbench's upper bound at the same one-sided level as deepsig's Bonferroni-adjusted one
    level = 0.95 + 0.05 / (K * (K - 1))
    from scipy.stats import norm

    high = ours.statistic + norm.ppf(level) * ours.sd
    diffs = []
    for i, m in enumerate(names):
        for j, o in enumerate(names):
            if i == j:
                continue
            grid = compute_violation_ratio(scores[m], scores[o], dt=0.005)
            diffs.append(abs(grid - ours_eps[i, j]))
            print(f"| {m} vs {o} | {grid:.4f} | {ours_eps[i, j]:.4f} | {theirs[i, j]:.4f} | "
                  f"{min(1.0, high[i, j]):.4f} |")
    print(f"\nmax |eps deepsig - eps riskbench| = {max(diffs):.4f} on the data and "
          f"{ratio_gap:.4f} on the first 20 shared resamples (deepsig's grid error)")


if __name__ == "__main__":
    main()
