"""EC portfolio speed: bitset dominance counting vs brute force (issue 3 target: seconds at
12 models x 5,000 items x 8 metrics, M = 60,000 points; the paper needed 1.5 hours).

Run: python bench/bench_portfolio.py   (prints a Markdown table for bench/RESULTS.md)
"""

from __future__ import annotations

import time

import numpy as np

from riskbench.portfolio import (
    MetricCube,
    build_portfolio,
    dominance_counts,
    dominance_counts_naive,
    pooled_ecdf,
)

from synthetic import synthetic_cube


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def cube(k, n, m):
    values = synthetic_cube(k, n, m)
    names = tuple(f"m{u}" for u in range(m))
    return MetricCube(tuple(f"model{a}" for a in range(k)), tuple(map(str, range(n))), names,
                      values, dict.fromkeys(names, True))


def main() -> None:
    rows = []
    for k, n, m in [(12, 5000, 8), (12, 5000, 3), (48, 799, 3)]:
        c = cube(k, n, m)
        t_ec, _ = timed(lambda c=c: build_portfolio(c, kind="ec"))
        t_ic, _ = timed(lambda c=c: build_portfolio(c, kind="ic"))
        rows.append(f"| {k} x {n} x {m} (M = {k * n:,}) | {t_ic:.3f} s | {t_ec:.2f} s |")
    print("| models x items x metrics | IC portfolio | EC portfolio |")
    print("|---|---|---|")
    print("\n".join(rows))
    print()
    print("| brute force vs bitsets, same ranks | brute force | bitsets | ratio |")
    print("|---|---|---|---|")
    for k, n, m in [(12, 250, 8), (12, 500, 8), (12, 1000, 8)]:
        ranks = pooled_ecdf(synthetic_cube(k, n, m).reshape(k * n, m))
        t_naive, slow = timed(lambda r=ranks: dominance_counts_naive(r), repeat=1)
        t_fast, fast = timed(lambda r=ranks: dominance_counts(r))
        assert np.array_equal(slow, fast)
        print(f"| M = {k * n:,}, N = {m} | {t_naive:.3f} s | {t_fast:.4f} s | "
              f"{t_naive / t_fast:.0f}x |")


if __name__ == "__main__":
    main()
