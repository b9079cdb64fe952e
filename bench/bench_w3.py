"""W3, wide: 227 models x 805 items (AlpacaEval output lengths), R-SSD, B = 1000.

Target (issue 15): <= 12 s wall, peak memory <= 500 MiB (issue 6: <= 30 s, <= 1 GB). Each
engine runs in its own subprocess so that its peak resident memory (ru_maxrss) is its own;
"today-numba" is riskbench at c96a759 (bench/today.py). CPU time and load are printed too.
Run: python bench/bench_w3.py [--backends numba,today-numba,numpy]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

DATA = Path(__file__).parent / "data" / "alpacaeval_output_lengths_227.csv.gz"


def child(backend: str, n_resamples: int) -> None:
    import resource

    label = backend
    if backend.startswith("today-"):  # riskbench at c96a759 (bench/today.py)
        from today import load_today

        riskbench = load_today()
        backend = backend.split("-", 1)[1]
        DataWarning = riskbench.DataWarning
    else:
        import riskbench
        from riskbench.errors import DataWarning

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        table = riskbench.read_scores(DATA, value="value", higher_is_better=False,
                                      align="intersect")
    read = time.perf_counter() - start
    # warm the compiled kernels on a small input first (cached after the first run)
    riskbench.rank(table.select(models=table.models[:3]), n_resamples=4, seed=0,
                   backend=backend)
    cpu = time.process_time()
    start = time.perf_counter()
    ranking = riskbench.rank(table, n_resamples=n_resamples, seed=0, backend=backend)
    took = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    print(json.dumps({"backend": label, "models": len(ranking.models),
                      "items": ranking.n_items[0], "read_s": read, "rank_s": took,
                      "cpu_s": cpu, "load": os.getloadavg()[0],
                      "peak_mib": peak, "top": ranking.models[:3],
                      "groups": int(ranking.group.max())}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="numba,today-numba",
                        help="engines; today-<engine> is riskbench at c96a759")
    parser.add_argument("--n-resamples", type=int, default=1000)
    parser.add_argument("--child", default=None)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n_resamples)
        return
    rows = []
    for backend in args.backends.split(","):
        out = subprocess.run([sys.executable, __file__, "--child", backend, "--n-resamples",
                              str(args.n_resamples)], capture_output=True, text=True,
                             check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| engine | models x items | B | rank time (wall) | CPU | peak memory (whole process) "
          "| load |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['models']} x {r['items']} | {args.n_resamples} | "
              f"{r['rank_s']:.1f} s | {r['cpu_s']:.1f} s | {r['peak_mib']:.0f} MiB | "
              f"{r['load']:.1f} |")
    if len(rows) > 1:
        print(f"\nspeed-up of {rows[0]['backend']} over {rows[-1]['backend']}: "
              f"{rows[-1]['rank_s'] / rows[0]['rank_s']:.1f}x")


if __name__ == "__main__":
    main()
