"""One-command GPU check of the torch backend: its tests, then W1 and W3 timings on CUDA.

The torch engine (``backend="torch"``) runs on CUDA when torch sees a GPU. This script
1. prints the torch build and the device it will use;
2. runs the backend tests that involve torch (``pytest tests/test_backends.py -k torch``);
3. times W1's 18 relative tests (12 x 5,000 x 8, B = 1000) and W3 (227 x 795 lengths, R-SSD,
   B = 1000) with ``backend="torch"`` next to the compiled CPU engine in the same process, and
   checks that both give the same numbers (max difference of the statistics and sds).

Run on a GPU machine: python bench/gpu_check.py   (add --quick for a small CPU smoke run).
It has not run on a GPU yet (no GPU was lent to the sessions so far; see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def max_gap(a, b) -> float:
    import numpy as np

    gaps = [np.nanmax(np.abs(x.statistic - y.statistic)) for x, y in zip(a, b, strict=True)]
    gaps += [np.nanmax(np.abs(x.sd - y.sd)) for x, y in zip(a, b, strict=True)]
    return float(max(gaps))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes (a CPU smoke run)")
    args = parser.parse_args()
    import torch

    import riskbench
    from riskbench.backends._torch import device
    from riskbench.errors import DataWarning

    from synthetic import synthetic_table

    dev = device()
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "CPU (no CUDA device)"
    print(f"torch {torch.__version__}, CUDA build {torch.version.cuda}, device: {name}")
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(HERE.parent / "tests" / "test_backends.py"), "-k", "torch"],
                           capture_output=True, text=True)
    print(f"backend tests with torch: {tests.stdout.strip().splitlines()[-1]} "
          f"(exit {tests.returncode})")

    k, n, b = (12, 500, 100) if args.quick else (12, 5000, 1000)
    table = synthetic_table(k, n, 8)
    riskbench.relative_test(table, metric="m0", order=(1, 2), n_resamples=4, seed=0,
                            backend="torch")  # CUDA context, kernels
    rows = []
    results = {}
    for backend in ("numba", "torch"):
        def w1(backend=backend):
            out = []
            for metric in table.metrics:
                out += riskbench.relative_test(table, metric=metric, order=(1, 2),
                                               n_resamples=b, seed=0, backend=backend)
            return out
        results[backend], took = timed(w1)
        rows.append((f"W1 tests ({k} x {n} x 8, 16 tests, B = {b})", backend, took))
    gap_w1 = max_gap(results["numba"], results["torch"])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        lengths = riskbench.read_scores(HERE / "data" / "alpacaeval_output_lengths_227.csv.gz",
                                        value="value", higher_is_better=False,
                                        align="intersect")
    if args.quick:
        lengths = lengths.select(models=lengths.models[:40])
    b3 = 100 if args.quick else 1000
    w3 = {}
    for backend in ("numba", "torch"):
        w3[backend], took = timed(lambda backend=backend: riskbench.relative_test(
            lengths, n_resamples=b3, seed=0, backend=backend))
        rows.append((f"W3 R-SSD ({len(lengths.models)} x 795, B = {b3})", backend, took))
    gap_w3 = max_gap([w3["numba"]], [w3["torch"]])

    print(f"\nload {os.getloadavg()[0]:.1f}")
    print("| workload | engine | time |")
    print("|---|---|---|")
    for workload, backend, took in rows:
        print(f"| {workload} | {backend}{' on ' + name if backend == 'torch' else ''} | "
              f"{took:.2f} s |")
    print(f"\nmax |numba - torch| of statistics and sds: W1 {gap_w1:.2e}, W3 {gap_w3:.2e}")
    sys.exit(0 if tests.returncode == 0 and max(gap_w1, gap_w3) < 1e-9 else 1)


if __name__ == "__main__":
    main()
