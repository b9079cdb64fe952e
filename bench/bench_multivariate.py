"""Multivariate first-order dominance by entropic OT (issue 8, METHOD.md 13): speed.

Target size: 12 models x 1,000 items x 8 metrics (``synthetic_table``: m3 and m4 are
lower-is-better), B = 200, relative test. The linear (delta-method) bootstrap is timed at full
size. The exact bootstrap (Sinkhorn on every replicate) is timed on all 1,000 items and all 200
replicates but a subset of the models, and extrapolated by the number of ordered pairs: its cost
is one warm-started Sinkhorn per ordered pair per replicate, so it grows as k (k - 1) (pairs
differ in difficulty, so the extrapolation is rough). The subset also gives the agreement of the
two bootstrap methods.

Run: python bench/bench_multivariate.py   (prints Markdown lines for bench/RESULTS.md)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from riskbench.inference import _difference_sd, relative_test_from
from riskbench.multivariate import DEFAULT_REG, build_multivariate, multivariate_bootstrap
from riskbench.portfolio import MetricCube

from synthetic import synthetic_table


def subset(cube: MetricCube, models: list[int]) -> MetricCube:
    return MetricCube(tuple(cube.models[a] for a in models), cube.items, cube.metrics,
                      cube.values[models], dict(cube.higher_is_better))


def timed_test(cube: MetricCube, method: str, n_resamples: int, reg: float):
    """Wall time (and, in ``timed_test.cpu``, the process's CPU time) of bootstrap + test."""
    start, cpu = time.perf_counter(), time.process_time()
    boot = multivariate_bootstrap(build_multivariate(cube, reg=reg), method=method,
                                  n_resamples=n_resamples, seed=0)
    test = relative_test_from(boot)
    timed_test.cpu = time.process_time() - cpu
    return time.perf_counter() - start, boot, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=12)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=8)
    parser.add_argument("--n-resamples", type=int, default=200)
    parser.add_argument("--exact-models", type=int, default=4,
                        help="models in the subset timed with the exact bootstrap")
    parser.add_argument("--reg", type=float, default=DEFAULT_REG)
    args = parser.parse_args()
    k, n, n_metrics, b = args.models, args.items, args.metrics, args.n_resamples
    print(f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} at start; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    cube = synthetic_table(k, n, n_metrics, seed=0).cube()
    pairs = k * (k - 1)

    t_lin, boot, test = timed_test(cube, "linear", b, args.reg)
    cpu_lin = timed_test.cpu
    print(f"linear bootstrap + relative test, {k} x {n} x {n_metrics}, B = {b}, lambda = "
          f"{args.reg:g}: {t_lin:.1f} s wall, {cpu_lin:.1f} s CPU ({pairs} ordered pairs, "
          f"{t_lin / pairs:.2f} s each); {int(test.reject.sum())} of {pairs // 2} pairs "
          f"separated; load average {os.getloadavg()[0]:.1f} after")

    chosen = [int(a) for a in np.linspace(0, k - 1, args.exact_models).round()]
    small = subset(cube, chosen)
    sub_pairs = len(chosen) * (len(chosen) - 1)
    t_sub_lin, lin, lin_test = timed_test(small, "linear", b, args.reg)
    t_sub_exact, exact, exact_test = timed_test(small, "exact", b, args.reg)
    t_exact = t_sub_exact * pairs / sub_pairs
    print(f"subset of models {chosen} ({sub_pairs} ordered pairs): linear {t_sub_lin:.1f} s, "
          f"exact {t_sub_exact:.1f} s ({t_sub_exact / t_sub_lin:.0f}x)")
    print(f"exact bootstrap at {k} models, extrapolated by ordered pairs: {t_exact:.0f} s "
          f"(= {t_sub_exact:.1f} s x {pairs} / {sub_pairs})")
    iu = np.triu_indices(len(chosen), 1)
    sd = lin.eps_matrix_sd[iu] / exact.eps_matrix_sd[iu]
    dsd = _difference_sd(lin.eps_replicates)[iu] / _difference_sd(exact.eps_replicates)[iu]
    same = bool((lin_test.reject == exact_test.reject).all())
    print(f"linear / exact bootstrap sd of E[i, j]: {sd.min():.3f} to {sd.max():.3f}; of "
          f"eps_i - eps_j (relative test): {dsd.min():.3f} to {dsd.max():.3f}; same decisions: "
          f"{same}")
    print()
    print(f"| {k} x {n} x {n_metrics}, B = {b}, relative test, lambda = {args.reg:g} | "
          f"linear (default) | exact |")
    print("|---|---|---|")
    print(f"| time | {t_lin:.1f} s wall, {cpu_lin:.1f} s CPU (measured) | {t_exact:.0f} s "
          f"(extrapolated from "
          f"{len(chosen)} models: {t_sub_exact:.1f} s) |")
    print(f"| linear / exact sd ({len(chosen)} models) | E[i, j]: {sd.min():.3f}-{sd.max():.3f}"
          f"; eps_i - eps_j: {dsd.min():.3f}-{dsd.max():.3f} | same decisions: {same} |")


if __name__ == "__main__":
    main()
