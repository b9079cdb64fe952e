"""Multivariate OT (issue 15): time of one pair of models against the number of items n.

Both directions of one pair of ``synthetic_table`` models (3 metrics; m3-like kinds), solved by
the compiled engine (and, up to ``--numpy-max``, the numpy reference engine), one thread. The
work per Sinkhorn iteration is n^2; the number of iterations also moves with n, so the exponent
of the time in n is fitted (least squares on the logs) and printed with the memory per thread
(two float64 costs, a float32 and a float64 kernel: 28 n^2 bytes).

Run: python bench/bench_multivariate_scaling.py [--sizes 400 800 1600 3200]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import riskbench.multivariate as mv

from synthetic import synthetic_cube


def one_pair(values: np.ndarray, engine: str) -> float:
    """Seconds for OT(0 -> 1) and OT(1 -> 0) from the normalised scores."""
    target = mv.build_multivariate(values)
    x, y = target.normalised
    n = x.shape[0]
    uniform = np.full(n, 1.0 / n)
    start = time.perf_counter()
    work: dict = {}
    if engine == "numba":
        from riskbench.backends._numba_ot import hinge_costs

        costs = hinge_costs(x, y, 2)
    else:
        costs = mv._cost(x, y, 2, None), mv._cost(y, x, 2, None)
    for cost in costs:
        mv._sinkhorn(cost, uniform, uniform, mv.DEFAULT_REG, tol=mv.DEFAULT_TOL,
                     max_iter=mv.DEFAULT_MAX_ITER, engine=engine,
                     work=work if engine == "numba" else None)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[400, 800, 1600, 3200])
    parser.add_argument("--numpy-max", type=int, default=1600)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f} at start")
    one_pair(synthetic_cube(2, 50, 3, seed=0), "numba")  # compile or load the cache
    rows = []
    for n in args.sizes:
        values = synthetic_cube(2, n, 3, seed=n)
        fast = min(one_pair(values, "numba") for _ in range(2))
        plain = one_pair(values, "numpy") if n <= args.numpy_max else float("nan")
        rows.append((n, fast, plain))
        print(f"n = {n}: compiled {fast:.2f} s, numpy {plain:.2f} s per pair (2 solves), "
              f"{28 * n * n / 2**20:.0f} MiB per thread")
    sizes, times = np.log([r[0] for r in rows]), np.log([r[1] for r in rows])
    slope = np.polyfit(sizes, times, 1)[0]
    print(f"time ~ n^{slope:.2f} (compiled engine); load average {os.getloadavg()[0]:.1f} after")
    print()
    print("| n | compiled, s per pair | numpy, s per pair | ratio | memory per thread |")
    print("|---|---|---|---|---|")
    for n, fast, plain in rows:
        ratio = f"{plain / fast:.1f}x" if np.isfinite(plain) else "-"
        shown = f"{plain:.2f}" if np.isfinite(plain) else "-"
        print(f"| {n} | {fast:.2f} | {shown} | {ratio} | {28 * n * n / 2**20:.0f} MiB |")


if __name__ == "__main__":
    main()
