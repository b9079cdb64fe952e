"""10^7 rows: `riskbench rank big.csv --metric score --n-resamples 200` on a long table of
20 models x 500,000 items (issue 15: <= 1.2 GiB peak, time stated; issue 16's last bullet).

One command: generates the long table (CSV, and Parquet) in a temporary folder, then runs
`riskbench rank FILE --metric score --n-resamples B --seed 0 --json` in a fresh subprocess per
case, with this tree's code and with today's (``--baseline``, default e4c0278: main before this
work, exported from the git history with ``git archive`` and put first on the child's path), and
prints each run's wall time
and peak resident memory (VmHWM of the child's own /proc/self/status, as
tests/peak_rss.py explains). Both versions must give the same ranking JSON (same seed); the
script says whether they do. `uptime` load is printed, the machine being shared.

Run: python bench/bench_rows.py [--models 20] [--items 500000] [--n-resamples 200]
         [--formats csv,parquet] [--baseline e4c0278|none] [--baseline-formats csv]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMAND = ["rank", None, "--metric", "score", "--n-resamples", None, "--seed", "0", "--json"]


def generate(folder: Path, k: int, n: int, formats: list[str]) -> dict[str, Path]:
    """A long table (model, item, metric, value) with scores in [0, 1] to 6 decimals."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    values = np.round(rng.beta(2 + np.linspace(0, 1, k)[:, None], 3, (k, n)), 6)
    frame = pd.DataFrame({
        "model": np.repeat(np.array([f"model-{i:02d}" for i in range(k)], dtype=object), n),
        "item": np.tile(np.arange(n).astype(str).astype(object), k),
        "metric": "score", "value": values.ravel()})
    paths = {}
    for fmt in formats:
        path = folder / f"big.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        paths[fmt] = path
    return paths


def export(commit: str) -> Path:
    """``src/riskbench`` at ``commit``, extracted once to the temporary directory: the folder
    to put first on ``sys.path``."""
    import io
    import tarfile

    base = Path(tempfile.gettempdir()) / f"riskbench-src-{commit}"
    if not (base / "src" / "riskbench" / "__init__.py").exists():
        blob = subprocess.run(["git", "-C", str(HERE.parent), "archive", commit,
                               "src/riskbench"], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(base, filter="data")
    return base / "src"


def child(source: str, out: str, args: list[str]) -> None:
    """Run the CLI of riskbench (from ``source``, a folder, or the installed one for "-") in
    this process; write wall time and VmHWM to ``out``."""
    if source != "-":
        sys.path.insert(0, source)
    import riskbench.cli as cli

    if source != "-":
        assert Path(cli.__file__).is_relative_to(source), cli.__file__
    start = time.perf_counter()
    code = 0
    try:
        cli.main(args, prog_name="riskbench")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    wall = time.perf_counter() - start
    peak = next(int(line.split()[1]) * 1024
                for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    Path(out).write_text(json.dumps({"wall_s": wall, "peak": peak, "code": code}))


def run(source: str, path: Path, b: int) -> tuple[dict, dict | None]:
    args = [str(path) if a is None and i == 1 else str(b) if a is None else a
            for i, a in enumerate(COMMAND)]
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", source, out, "--", *args],
                              capture_output=True, text=True)
        text = Path(out).read_text()
        if not text:
            raise RuntimeError(f"{source} on {path.name} failed:\n{proc.stderr[-3000:]}")
        stats = json.loads(text)
    finally:
        Path(out).unlink(missing_ok=True)
    if stats["code"] != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return stats, None
    return stats, json.loads(proc.stdout)


def comparable(payload: dict) -> dict:
    """The ranking JSON without what names the version or the file."""
    drop = {"riskbench_version", "input", "read", "input_sha256"}
    return {k: v for k, v in payload.items() if k not in drop}


def main() -> None:
    if "--child" in sys.argv:
        i = sys.argv.index("--child")
        child(sys.argv[i + 1], sys.argv[i + 2], sys.argv[sys.argv.index("--") + 1:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--items", type=int, default=500_000)
    parser.add_argument("--n-resamples", type=int, default=200)
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--baseline", default="e4c0278", help="commit, or 'none'")
    parser.add_argument("--baseline-formats", default="csv")
    args = parser.parse_args()
    formats = args.formats.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-rows-") as tmp:
        t0 = time.perf_counter()
        paths = generate(Path(tmp), args.models, args.items,
                         sorted(set(formats) | set(args.baseline_formats.split(","))))
        sizes = {f: p.stat().st_size / 1e6 for f, p in paths.items()}
        print(f"{args.models} models x {args.items:,} items = {args.models * args.items:,} "
              f"rows; files {', '.join(f'{f} {s:.0f} MB' for f, s in sizes.items())} "
              f"(made in {time.perf_counter() - t0:.0f} s); B = {args.n_resamples}")
        base_src = None
        if args.baseline != "none":
            base_src = str(export(args.baseline))
            # warm the baseline's compiled-kernel cache on a small table
            small = Path(tmp) / "small.csv"
            small.write_text("model,item,metric,value\n" + "".join(
                f"m{a},{i},score,{(a + 1) * (i % 7) / 10}\n" for a in range(3) for i in range(40)))
            run(base_src, small, 4)
        results = {}
        cases = [("this tree", "-", f) for f in formats]
        if base_src:
            cases += [(f"baseline {args.baseline}", base_src, f)
                      for f in args.baseline_formats.split(",")]
        print("| code | input | wall | peak memory | load |\n|---|---|---|---|---|")
        for label, source, fmt in cases:
            stats, payload = run(source, paths[fmt], args.n_resamples)
            results[(label, fmt)] = payload
            load = os.getloadavg()[0]
            status = "" if payload is not None else f" (exit {stats['code']})"
            print(f"| {label} | {fmt} | {stats['wall_s']:.1f} s | "
                  f"{stats['peak'] / 2**20:,.0f} MiB{status} | {load:.1f} |", flush=True)
        payloads = [comparable(p) for p in results.values() if p is not None]
        same = all(p == payloads[0] for p in payloads[1:])
        print(f"same ranking JSON in every run: {'yes' if same else 'NO'} "
              f"({len(payloads)} runs)")
        print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
