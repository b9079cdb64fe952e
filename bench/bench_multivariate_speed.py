"""Multivariate OT ranking (issue 15): the compiled solver against the solver before issue 15.

Workloads of the issue, each timed as ``riskbench.rank(table, portfolio="multivariate",
n_resamples=B, seed=0)`` (linear bootstrap, relative test, lambda = 0.01):

- ``synthetic``: 37 models x 800 items x 2 metrics (``synthetic_table``), B = 200;
- ``demo``: the embedded AlpacaEval demo, 48 models x 799 items x 3 metrics, B = 1000.

The baseline is the multivariate module as it was before issue 15 (``--baseline`` names the
git revision; default 794c720), loaded from git into the same process and run on the same
table, seed and resample indices, so the ratio is measured under the same load. The new path
runs first, after a warm-up on a tiny table (numba compiles, or loads its cache, once: the
warm-up time is printed). Both rankings are compared: the largest difference of eps_i and of
the relative test's statistics eps_i - eps_j, the largest relative difference of their sd,
whether the order and the relative-test decisions agree.

Run: python bench/bench_multivariate_speed.py [--workloads synthetic demo] [--no-baseline]
(prints Markdown for bench/RESULTS.md)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import riskbench
import riskbench.ranking as ranking

from synthetic import synthetic_table

ROOT = Path(__file__).resolve().parents[1]


def _load(rev: str, relative: str, name: str, source: str | None = None):
    """``relative`` (a path under src/riskbench) at ``rev``, imported as module ``name``."""
    if source is None:
        source = subprocess.run(["git", "show", f"{rev}:src/riskbench/{relative}"], cwd=ROOT,
                                check=True, capture_output=True, text=True).stdout
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"riskbench_{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def baseline_module(rev: str):
    """src/riskbench/multivariate.py at ``rev``, imported as a module of its own; where ``rev``
    has the compiled solver (backends/_numba_ot.py, issue 15), that file at ``rev`` too, so
    the baseline runs its own kernels (they compile once, cached beside the copy)."""
    source = subprocess.run(["git", "show", f"{rev}:src/riskbench/multivariate.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    if "_numba_ot" in source:
        kernels = f"numba_ot_{rev}"
        _load(rev, "backends/_numba_ot.py", kernels)
        source = source.replace("from riskbench.backends import _numba_ot as compiled",
                                f"import {kernels} as compiled")
        source = source.replace("from riskbench.backends._numba_ot import",
                                f"from {kernels} import")
        assert "from riskbench.backends import _numba_ot" not in source
    return _load(rev, "multivariate.py", f"multivariate_{rev}", source)


def with_baseline(base):
    """A stand-in for ranking._multivariate_bootstrap that runs the baseline module."""
    def run(built, *, backend=None, **options):
        old = base.MultivariatePortfolio(*[getattr(built, f.name)
                                           for f in dataclasses.fields(built)])
        return base.multivariate_bootstrap(old, **options)
    return run


def table_of(name: str):
    if name == "synthetic":
        return synthetic_table(37, 800, 2, seed=0), 200
    return riskbench.load_demo(), 1000


def timed_rank(table, b: int):
    start, cpu = time.perf_counter(), time.process_time()
    result = riskbench.rank(table, portfolio="multivariate", n_resamples=b, seed=0)
    return time.perf_counter() - start, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["synthetic", "demo"],
                        choices=["synthetic", "demo"])
    parser.add_argument("--baseline", default="794c720")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s), "
          f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    start = time.perf_counter()
    tiny = riskbench.load_demo()
    riskbench.rank(tiny.select(models=tiny.models[:3]), portfolio="multivariate",
                   n_resamples=10, seed=0)
    print(f"warm-up (numba compile or cache load, 3 demo models): "
          f"{time.perf_counter() - start:.1f} s")
    base = None if args.no_baseline else baseline_module(args.baseline)
    rows = []
    for name in args.workloads:
        table, b = table_of(name)
        k, n_metrics = len(table.models), len(table.metrics)
        wall, cpu, new = timed_rank(table, b)
        load = os.getloadavg()[0]
        size = f"{k} x {new.n_items[0]} x {n_metrics}, B = {b}"
        print(f"{name} ({size}): {wall:.1f} s wall, {cpu:.1f} s CPU; load {load:.1f}")
        row = [name, size, f"{wall:.1f} s ({cpu:.1f} s CPU)"]
        if base is not None:
            original = ranking._multivariate_bootstrap
            ranking._multivariate_bootstrap = with_baseline(base)
            try:
                old_wall, old_cpu, old = timed_rank(table, b)
            finally:
                ranking._multivariate_bootstrap = original
            load = os.getloadavg()[0]
            before = dict(zip(old.models, old.eps, strict=True))
            eps = max(abs(e - before[m]) for m, e in zip(new.models, new.eps, strict=True))
            assert new.test.models == old.test.models
            stat = np.nanmax(np.abs(new.test.statistic - old.test.statistic))
            sd = np.nanmax(np.abs(new.test.sd / old.test.sd - 1))
            same = bool((new.test.reject == old.test.reject).all())
            print(f"  baseline {args.baseline}: {old_wall:.1f} s wall, {old_cpu:.1f} s CPU; "
                  f"ratio {old_wall / wall:.1f}x; max |d eps_i| {eps:.1e}, max |d (eps_i - "
                  f"eps_j)| {stat:.1e}, max rel d sd {sd:.1e}; same order "
                  f"{new.models == old.models}, same decisions {same}; load {load:.1f}")
            row += [f"{old_wall:.1f} s ({old_cpu:.1f} s CPU)", f"{old_wall / wall:.1f}x",
                    f"{eps:.1e} / {sd:.1e}", f"{new.models == old.models} / {same}"]
        rows.append(row + [f"{load:.1f}"])
    print()
    head = ["workload", "size", "now"]
    if base is not None:
        head += [f"before ({args.baseline})", "ratio", "max abs d eps_i / rel d sd",
                 "same order / decisions"]
    print("| " + " | ".join(head + ["load after"]) + " |")
    print("|" + "---|" * (len(head) + 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
