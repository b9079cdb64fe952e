"""The embedded demo at full scale: ranking time, agreement with the leaderboard, stability.

Run: python bench/bench_demo.py   (prints Markdown for bench/RESULTS.md)
"""

from __future__ import annotations

import time

import riskbench


def markdown(frame, index: bool = True) -> str:
    """A DataFrame as a Markdown table (no tabulate needed)."""
    frame = frame.reset_index() if index else frame
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def main() -> None:
    table = riskbench.load_demo()
    start = time.perf_counter()
    win = riskbench.rank(table, metric="win", n_resamples=1000, seed=0)
    t_win = time.perf_counter() - start
    start = time.perf_counter()
    port = riskbench.rank(table, portfolio="ic", n_resamples=1000, seed=0)
    t_port = time.perf_counter() - start
    start = time.perf_counter()
    ec = riskbench.rank(table, portfolio="ec", n_resamples=1000, seed=0)
    t_ec = time.perf_counter() - start
    print(f"rank on 'win' (48 models x 799 items, R-SSD, B = 1000): {t_win:.2f} s")
    print(f"rank on the IC portfolio (3 metrics), B = 1000: {t_port:.2f} s; EC: {t_ec:.2f} s")
    print()
    means = dict(zip(win.models, win.mean, strict=True))
    leaderboard = sorted(means, key=lambda m: (-means[m], m))
    rankings = {
        "leaderboard (mean win)": leaderboard,
        "MWR item (win)": riskbench.mean_win_rate(table, metric="win"),
        "MWR helm (3 metrics)": riskbench.mean_win_rate(table, reading="helm"),
        "R-SSD win": win,
        "R-SSD IC portfolio": port,
        "R-SSD EC portfolio": ec,
    }
    agreement = riskbench.compare_rankings(rankings)
    print("Kendall tau-b between rankings of the 48 demo models:")
    print()
    print(markdown(agreement.to_frame().round(3)))
    print()
    start = time.perf_counter()
    curve = riskbench.stability(
        table, lambda t, s: riskbench.rank(t, portfolio="ic", n_resamples=200, seed=s),
        sizes=[50, 100, 200, 400, 799], repeats=10, seed=0)
    print(f"Stability of the R-SSD IC-portfolio ranking (B = 200 per ranking, 10 subsets per "
          f"size, {time.perf_counter() - start:.0f} s):")
    print()
    print(markdown(curve.to_frame().round(3), index=False))


if __name__ == "__main__":
    main()
