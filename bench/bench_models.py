"""Many models: 1,000 models x 50 items, R-SSD ranking, B = 1000 (issue 15).

Target: <= 60 s wall and <= 1.5 GiB peak on 2 cores; the cost should grow with the number of
pairs, k^2. Each run is a fresh subprocess, so its peak resident memory (ru_maxrss) is its own;
the compiled kernels are loaded from the cache (warmed on 3 models first). The exponent is the
least-squares slope of log(time) on log(k) over the sweep. Also reported: CPU time (user +
system, all threads) and `uptime` load, since the machine is shared.

Run: python bench/bench_models.py [--sizes 125,250,500,1000] [--n-resamples 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def child(k: int, n: int, b: int) -> None:
    import resource

    import numpy as np

    import riskbench

    rng = np.random.default_rng(0)
    x = rng.beta(2 + np.linspace(0, 1, k)[:, None], 3, (k, n))
    riskbench.rank(x[:3], n_resamples=4, seed=0)  # load the cached kernels
    cpu0 = time.process_time()
    start = time.perf_counter()
    ranking = riskbench.rank(x, n_resamples=b, seed=0)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"k": k, "n": n, "B": b, "wall_s": wall, "cpu_s": cpu, "peak_mib": peak,
                      "groups": int(ranking.group.max()), "load": os.getloadavg()[0]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="125,250,500,1000")
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--n-resamples", type=int, default=1000)
    parser.add_argument("--child", type=int, default=None)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.items, args.n_resamples)
        return
    import numpy as np

    rows = []
    for k in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--child", str(k), "--items",
                              str(args.items), "--n-resamples", str(args.n_resamples)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"| models x items, B = {args.n_resamples} | pairs | wall | CPU | peak memory | "
          "load |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        pairs = r["k"] * (r["k"] - 1) // 2
        print(f"| {r['k']:,} x {r['n']} | {pairs:,} | {r['wall_s']:.1f} s | {r['cpu_s']:.1f} s "
              f"| {r['peak_mib']:.0f} MiB | {r['load']:.1f} |")
    if len(rows) > 1:
        k = np.array([r["k"] for r in rows], dtype=float)
        wall = np.array([r["wall_s"] for r in rows])
        cpu = np.array([r["cpu_s"] for r in rows])
        print(f"\nexponent of cost in k: wall {np.polyfit(np.log(k), np.log(wall), 1)[0]:.2f}, "
              f"CPU {np.polyfit(np.log(k), np.log(cpu), 1)[0]:.2f} (pairs grow as k^2)")


if __name__ == "__main__":
    main()
