"""Dask pairs axis: a 2-worker local cluster against 1 worker (issue 15).

A real ``distributed.LocalCluster`` (worker processes, one thread each, and one numba thread
per worker so that workers, not threads, share the cores), R-SSD bootstrap of 1,000 models x
50 items: from ``backends._dask.PAIRS_AXIS_MODELS`` models on, each batch of replicates is
split into blocks of pairs, about two per worker thread. Same seed, so both runs must give the
same numbers (checked), and the local engine runs the same work in this process as the
baseline. Load (`uptime`) is printed: the machine is shared.

Run: python bench/bench_dask.py [--models 1000] [--items 50] [--n-resamples 200]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--n-resamples", type=int, default=200)
    args = parser.parse_args()
    import distributed

    import riskbench

    rng = np.random.default_rng(0)
    x = rng.beta(2 + np.linspace(0, 1, args.models)[:, None], 3, (args.models, args.items))
    riskbench.bootstrap(x[:3], n_resamples=4, seed=0)
    start = time.perf_counter()
    local = riskbench.bootstrap(x, n_resamples=args.n_resamples, seed=0)
    times = {"local (this process, all cores)": time.perf_counter() - start}
    for workers in (1, 2):
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None,
                                           silence_logs=50, env={"NUMBA_NUM_THREADS": "1"})
        with distributed.Client(cluster):
            riskbench.bootstrap(x[:3], n_resamples=4, seed=0, backend="dask")  # warm workers
            start = time.perf_counter()
            remote = riskbench.bootstrap(x, n_resamples=args.n_resamples, seed=0,
                                         backend="dask")
            times[f"dask, {workers} worker(s)"] = time.perf_counter() - start
        cluster.close()
        np.testing.assert_array_equal(remote.eps_replicates, local.eps_replicates)
    print(f"| R-SSD bootstrap, {args.models:,} x {args.items}, B = {args.n_resamples} | wall "
          f"| load {os.getloadavg()[0]:.1f} |")
    print("|---|---|---|")
    for name, took in times.items():
        print(f"| {name} | {took:.1f} s | |")
    one, two = times["dask, 1 worker(s)"], times["dask, 2 worker(s)"]
    print(f"\nspeed-up of 2 workers over 1: {one / two:.2f}x (same numbers as local: yes)")


if __name__ == "__main__":
    main()
