"""Multivariate first-order dominance (entropic OT) on the embedded demo: the ranking, its time,
and its Kendall tau-b agreement with the IC and EC portfolio rankings and the mean win rate.

48 AlpacaEval 2.0 models x 799 instructions x 3 metrics (win up; offensive and length down).
The multivariate ranking is ``riskbench.rank(table, portfolio="multivariate")`` (defaults:
squared hinge, lambda = 0.01, linear bootstrap), ordered as any ranking: by the number of models
each one significantly beats in the relative test, then by eps_i, then by name. The IC and EC
portfolio rankings are R-SSD with B = 1000; the mean win rates are both readings of METHOD.md 10.

Run: python bench/bench_multivariate_demo.py [--n-resamples 200] [--models 48]
(prints Markdown for bench/RESULTS.md)
"""

from __future__ import annotations

import argparse
import os
import time

from bench_demo import markdown

import riskbench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-resamples", type=int, default=200)
    parser.add_argument("--models", type=int, default=None,
                        help="only the first N models (alphabetical), for quicker runs")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} at start")
    table = riskbench.load_demo()
    if args.models is not None:
        table = table.select(models=table.models[:args.models])
    k, n_metrics = len(table.models), len(table.metrics)

    start = time.perf_counter()
    mv = riskbench.rank(table, portfolio="multivariate", n_resamples=args.n_resamples, seed=0)
    elapsed = time.perf_counter() - start
    pairs = k * (k - 1) // 2
    print(f"multivariate R-FSD (entropic OT, lambda = {mv.portfolio.reg:g}, linear bootstrap, "
          f"B = {args.n_resamples}) of {k} models x {mv.n_items[0]} items x {n_metrics} "
          f"metrics: {elapsed:.0f} s; {int(mv.test.reject.sum())} of {pairs} pairs separated; "
          f"{int(mv.group.max())} tie groups; best set {', '.join(mv.best_set)}")
    print("top 10: " + "; ".join(f"{m} (wins {w}, eps {e:.3f})"
                                 for m, w, e in zip(mv.models[:10], mv.wins, mv.eps,
                                                    strict=False)))
    print()

    rankings = {
        "multivariate OT (R-FSD)": mv,
        "IC portfolio (R-SSD)": riskbench.rank(table, portfolio="ic", seed=0),
        "EC portfolio (R-SSD)": riskbench.rank(table, portfolio="ec", seed=0),
        "MWR item (win)": riskbench.mean_win_rate(table, metric="win"),
        "MWR helm (3 metrics)": riskbench.mean_win_rate(table, reading="helm"),
    }
    agreement = riskbench.compare_rankings(rankings)
    print(f"Kendall tau-b between rankings of the {k} demo models:")
    print()
    print(markdown(agreement.to_frame().round(3)))


if __name__ == "__main__":
    main()
