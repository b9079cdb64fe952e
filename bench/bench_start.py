"""Start-up: `import riskbench`, and the first `riskbench demo` after install (issue 15).

Targets: `import riskbench` <= 0.5 s; first run after install <= 3 s before the first output
line, the compiled kernels cached in a user cache dir. Each measurement is a fresh process:
- import: median of 5 runs of `python -c "import riskbench"`, next to `import numpy` (the
  floor any numeric package pays) in the same loop;
- demo cold: a new, empty $XDG_CACHE_HOME (nothing compiled yet), time to the first line on
  stdout or stderr, and to the end; demo warm: the same cache again.

Run: python bench/bench_start.py
"""

from __future__ import annotations

import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def import_time(module: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def first_line(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """Seconds to the first output line (either stream), to the end, and that line."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    first, line = None, ""
    while first is None:
        for key, _ in sel.select():
            text = key.fileobj.readline()
            if text:
                first, line = time.perf_counter() - start, text.strip()
                break
        if proc.poll() is not None and first is None:
            first = time.perf_counter() - start
    proc.communicate()
    return first, time.perf_counter() - start, line


def main() -> None:
    runs = {"numpy": [], "riskbench": []}
    for _ in range(5):
        for module in runs:
            runs[module].append(import_time(module))
    print(f"load {os.getloadavg()[0]:.1f}")
    print("| start-up | first output line | total |")
    print("|---|---|---|")
    for module, times in runs.items():
        print(f"| `import {module}` (median of 5, fresh process) | | "
              f"{statistics.median(times):.2f} s |")
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
        env["XDG_CACHE_HOME"] = cache
        cmd = [str(BIN / "riskbench"), "demo", "--top", "3"]
        for name in ("cold (empty cache: compiles)", "warm (cached kernels)"):
            first, total, line = first_line(cmd, env)
            print(f"| `riskbench demo`, {name} | {first:.1f} s | {total:.1f} s |")
            print(f"|   first line: {line[:70]!r} | | |")


if __name__ == "__main__":
    main()
