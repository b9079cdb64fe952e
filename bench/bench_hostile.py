"""Peak memory of riskbench on generated bombs, and how fast it stops on signals (issue 16).

Prints a Markdown table for bench/RESULTS.md. The peaks are the VmHWM of the command's own
process (tests/peak_rss.py); a baseline run on a small ordinary table shows what the imports
alone take, so the bombs' cost is the difference.

    python bench/bench_hostile.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bombs import MiB, deep_json, gzip_bomb, zip_bomb  # noqa: E402

PEAK = ROOT / "tests" / "peak_rss.py"
EVAL = ROOT / "tests" / "data" / "formats" / "inspect" / "inspect_ai_tests" / \
    "log_read_sample.eval"
HEADER = b"model,sample_id,metric,value\n"


def peak(*args: str) -> tuple[int, float, float]:
    """(exit status, peak MiB, wall seconds) of ``riskbench ARGS``."""
    with tempfile.NamedTemporaryFile() as out:
        start = time.monotonic()
        code = subprocess.run([sys.executable, str(PEAK), out.name, *args],
                              capture_output=True, check=False).returncode
        wall = time.monotonic() - start
        return code, int(Path(out.name).read_text()) / MiB, wall


def build(d: Path) -> list[tuple[str, list[str]]]:
    with zipfile.ZipFile(EVAL) as z:
        members = {n: z.read(n) for n in z.namelist()}
    sample = b'{"id": 9, "epoch": 1, "scores": {}, "pad": "'
    small = d / "small.csv"
    small.write_text("model,sample_id,metric,value\n" + "".join(
        f"{m},{i},acc,{(i * 7 % 10) / 10 + s}\n" for m, s in (("a", .2), ("b", 0), ("c", -.2))
        for i in range(30)))
    line = d / "line.csv"
    with open(line, "wb") as fh:
        fh.write(HEADER + b"x" * (100 * MiB))
    deep = d / "deep.jsonl"
    deep.write_text('{"model": ' + deep_json(100_000) + "}\n")
    long = d / "long.jsonl"
    long.write_text("".join(json.dumps({"model": ("m" * 10**6 if k == 0 else f"m{k}"),
                                        "sample_id": i, "metric": "acc",
                                        "value": (i * 7 % 10) / 10 + k / 10}) + "\n"
                            for k in range(3) for i in range(20)))
    cases = [
        ("baseline: rank of a 90-row CSV", ["rank", str(small), "--n-resamples", "20",
                                            "--seed", "0"]),
        ("baseline: logs of a real 5.5 KB .eval", ["logs", str(EVAL)]),
        (".eval of 3.1 MB, one member declaring 3 GiB",
         ["logs", str(zip_bomb(d / "big.eval", members, bomb="samples/9_epoch_1.json",
                               mib=3072, prefix=sample))]),
        (".eval of 1.6 MB, one member inflating 1.5 GiB (ratio 1,000)",
         ["logs", str(zip_bomb(d / "ratio.eval", members, bomb="samples/9_epoch_1.json",
                               mib=1500, prefix=sample))]),
        (".eval whose header understates a 3 GiB member",
         ["logs", str(zip_bomb(d / "liar.eval", members, bomb="samples/9_epoch_1.json",
                               mib=3072, prefix=sample, declared=1000))]),
        (".csv.gz of 2.1 MB: one 2 GiB line", ["rank", str(gzip_bomb(d / "line.csv.gz",
                                                                       mib=2048,
                                                                       head=HEADER))]),
        (".csv.gz of 4.2 MB: 2 GiB of rows",
         ["rank", str(gzip_bomb(d / "rows.csv.gz", mib=2048, head=HEADER,
                                pattern=b"m,1,acc,1\n"))]),
        (".jsonl.gz of 6.4 MB: 2 GiB of rows",
         ["rank", str(gzip_bomb(d / "rows.jsonl.gz", mib=2048,
                                pattern=b'{"model":"m","sample_id":1,"metric":"a",'
                                        b'"value":1}\n'))]),
        ("plain CSV, one 100 MiB line", ["rank", str(line)]),
        ("JSONL nested 100,000 deep", ["rank", str(deep)]),
        ("JSONL with a 10^6-character name (legal: ranked)",
         ["rank", str(long), "--n-resamples", "20", "--seed", "0"]),
    ]
    return cases


def stop_times(table: Path, sig: int, trials: int = 3) -> list[tuple[float, float]]:
    """(wall, CPU) seconds from the signal to the exit of a report in its bootstrap."""
    out = []
    for _ in range(trials):
        proc = subprocess.Popen([sys.executable, "-m", "riskbench.cli", "report", str(table),
                                 "-o", str(table.with_suffix(".html")), "--n-resamples",
                                 "20000", "--seed", "0"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        ps = psutil.Process(proc.pid)
        while sum(ps.cpu_times()[:2]) < 3.0:
            time.sleep(0.05)
        before = sum(ps.cpu_times()[:2])
        start = time.monotonic()
        proc.send_signal(sig)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.append((time.monotonic() - start, usage.ru_utime + usage.ru_stime - before))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print("| input | exit | peak RSS | wall |\n|---|---|---|---|")
        for label, args in build(d):
            code, mib, wall = peak(*args)
            print(f"| {label} | {code} | {mib:.0f} MiB | {wall:.1f} s |")
        rng = np.random.default_rng(0)
        table = d / "big.csv"
        pd.DataFrame([(f"m{a}", i, "acc", float(v)) for a in range(30)
                      for i, v in enumerate(rng.normal(a * 0.01, 1, 400))],
                     columns=["model", "sample_id", "metric", "value"]).to_csv(table,
                                                                              index=False)
        for name, sig in (("SIGINT", signal.SIGINT), ("SIGTERM", signal.SIGTERM)):
            times = stop_times(table, sig)
            print(f"\n{name} during a report's bootstrap, 3 trials: wall "
                  f"{', '.join(f'{w:.2f}' for w, _ in times)} s; CPU after the signal "
                  f"{', '.join(f'{c:.2f}' for _, c in times)} s")


if __name__ == "__main__":
    main()
