"""W1, paper scale: 12 models x 5,000 items x 8 metrics, B = 1000.

Relative tests of order 1 and 2 on the IC portfolio and on each metric (18 tests) plus the IC
and EC portfolios. Target: <= 3 s in total on 2 cores (the paper reports 17.7 s for its tests
and 1.5 h for the EC portfolio). The numpy reference engine runs the same work in the same
process as the baseline.

Run: python bench/bench_w1.py [--backends numba,numpy]
"""

from __future__ import annotations

import argparse
import time

import riskbench
from riskbench.portfolio import build_portfolio

from synthetic import synthetic_table


def w1(table, backend: str) -> dict[str, float]:
    times = {}
    start = time.perf_counter()
    cube = table.cube()
    t0 = time.perf_counter()
    ic = build_portfolio(cube, kind="ic")
    times["IC portfolio"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_portfolio(cube, kind="ec", backend=backend)
    times["EC portfolio"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # order (1, 2): both tests of a target from the same replicates (one resampling)
    tests = list(riskbench.relative_test(ic.samples(), order=(1, 2), n_resamples=1000, seed=0,
                                         backend=backend))
    for metric in table.metrics:
        tests += riskbench.relative_test(table, metric=metric, order=(1, 2), n_resamples=1000,
                                         seed=0, backend=backend)
    assert len(tests) == 18
    times["18 relative tests"] = time.perf_counter() - t0
    times["total"] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="numba,numpy")
    args = parser.parse_args()
    table = synthetic_table(12, 5000, 8)
    small = synthetic_table(12, 200, 8)
    backends = args.backends.split(",")
    for backend in backends:  # compile / warm caches outside the timed runs
        riskbench.relative_test(small, metric="m0", order=(1, 2), n_resamples=4, seed=0,
                                backend=backend)
        build_portfolio(small.cube(), kind="ec", backend=backend)
    results = {b: w1(table, b) for b in backends}
    print("| W1 part | " + " | ".join(backends) + " |")
    print("|---|" + "---|" * len(backends))
    for part in results[backends[0]]:
        print(f"| {part} | " + " | ".join(f"{results[b][part]:.2f} s" for b in backends) + " |")
    if len(backends) > 1:
        base = results[backends[-1]]["total"]
        print(f"\nspeed-up of {backends[0]} over {backends[-1]}: "
              f"{base / results[backends[0]]['total']:.1f}x")


if __name__ == "__main__":
    main()
