"""Scaling of the R-SSD bootstrap (numba engine): time vs models k, items n, replicates B.

Synthetic continuous scores (beta, with a per-model shift). Each point is the best of 2 runs of
``riskbench.bootstrap(order=2)`` (the part that grows; the test on top is O(k^2)). The exponent
is the least-squares slope of log(time) on log(size) over the points of each sweep.
Run: python bench/bench_scaling.py
"""

from __future__ import annotations

import time

import numpy as np

import riskbench


def data(k: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(k * 7919 + n)
    return rng.beta(2 + np.linspace(0, 1, k)[:, None], 3, (k, n))


def timed(k: int, n: int, b: int) -> float:
    x = data(k, n)
    best = float("inf")
    for rep in range(2):
        start = time.perf_counter()
        riskbench.bootstrap(x, order=2, n_resamples=b, seed=rep)
        best = min(best, time.perf_counter() - start)
    return best


def sweep(name: str, sizes, make) -> None:
    times = [timed(*make(s)) for s in sizes]
    slope = np.polyfit(np.log(sizes), np.log(times), 1)[0]
    upper = np.polyfit(np.log(sizes[-3:]), np.log(times[-3:]), 1)[0]
    print(f"| {name} | " + " | ".join(f"{s:,}: {t:.3g} s" for s, t in zip(sizes, times,
                                                                           strict=True))
          + f" | {slope:.2f} (largest three: {upper:.2f}) |")


def main() -> None:
    riskbench.bootstrap(data(3, 50), order=2, n_resamples=4, seed=0)  # load compiled kernels
    print("| sweep (others fixed) | time per size | exponent |")
    print("|---|---|---|")
    sweep("models k (n = 500, B = 100)", [10, 20, 50, 100, 200, 500], lambda k: (k, 500, 100))
    sweep("items n (k = 10, B = 100)", [100, 1000, 10_000, 100_000], lambda n: (10, n, 100))
    sweep("replicates B (k = 10, n = 1000)", [100, 1000, 10_000], lambda b: (10, 1000, b))


if __name__ == "__main__":
    main()
