"""Hostile inputs, part 4: clean shutdown.

Promises checked:

* NO-ORPHAN - after SIGKILL of ``riskbench score``, its worker processes are gone within
              2 s (they kept scoring for minutes before);
* PROMPT    - SIGINT and SIGTERM stop a long run within a second (about 0.05 s measured:
              the CLI unwinds, then skips the interpreter's teardown), with exit 130 / 143;
              the CPU the child spends after the signal is checked too, as the machine's
              load cannot inflate it;
* NOTHING   - an interrupted run leaves no partial output and no temporary file, and an
              existing output file is left as it was.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from riskbench._atomic import atomic_path

pytestmark = pytest.mark.hostile

RISKBENCH = [sys.executable, "-m", "riskbench.cli"]
IFEVAL = Path(__file__).parents[1] / "src" / "riskbench" / "scorers" / "data" / \
    "ifeval_input_data.jsonl"


@pytest.fixture(scope="module")
def long_generations(tmp_path_factory):
    """IFEval's 541 prompts for 8 models with long responses: a minute of scoring."""
    prompts = [json.loads(line) for line in IFEVAL.read_text().splitlines() if line.strip()]
    path = tmp_path_factory.mktemp("gens") / "gens.jsonl"
    with open(path, "w") as fh:
        for m in range(8):
            for rec in prompts:
                fh.write(json.dumps({"model": f"m{m}", "item": str(rec["key"]),
                                     "prompt": rec["prompt"],
                                     "response": (rec["prompt"] + " ") * 30}) + "\n")
    return path


@pytest.fixture(scope="module")
def big_table(tmp_path_factory):
    """30 models x 400 items: a report with B = 20,000 takes far longer than the tests wait."""
    rng = np.random.default_rng(0)
    rows = [(f"m{a}", i, "acc", float(v)) for a in range(30)
            for i, v in enumerate(rng.normal(a * 0.01, 1, 400))]
    path = tmp_path_factory.mktemp("big") / "big.csv"
    pd.DataFrame(rows, columns=["model", "sample_id", "metric", "value"]).to_csv(path,
                                                                                index=False)
    return path


def _workers(proc: psutil.Process, count: int, timeout: float = 60) -> list[psutil.Process]:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        found = proc.children(recursive=True)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} workers after {timeout} s")


def _busy(proc: psutil.Process, cpu: float, timeout: float = 60) -> None:
    """Wait until ``proc`` has used ``cpu`` seconds of CPU (load-independent, unlike a sleep)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        times = proc.cpu_times()
        if times.user + times.system >= cpu:
            return
        time.sleep(0.05)
    raise AssertionError(f"not {cpu} s of CPU after {timeout} s")


def _stop(proc: subprocess.Popen, sig: int, group: bool = False):
    """Signal ``proc``; (exit status, wall seconds to exit, CPU seconds it used after the
    signal, stderr). CPU time, unlike wall time, does not grow with the machine's load."""
    before = sum(psutil.Process(proc.pid).cpu_times()[:2])
    chunks = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read()))
    reader.start()
    start = time.monotonic()
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout=10)
    cpu = usage.ru_utime + usage.ru_stime - before  # (includes reaped workers, if any)
    return proc.returncode, wall, cpu, "".join(chunks)


def _alive(processes) -> list:
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_gone(processes, timeout: float) -> float:
    start = time.monotonic()
    while _alive(processes) and time.monotonic() - start < timeout:
        time.sleep(0.02)
    return time.monotonic() - start


def test_sigkill_of_score_leaves_no_worker(long_generations, tmp_path):
    """NO-ORPHAN: kill -9 of the parent while both workers score."""
    out = tmp_path / "scores.parquet"
    proc = subprocess.Popen([*RISKBENCH, "score", str(long_generations), "--scorer", "ifeval",
                             "--jobs", "2", "-o", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = _workers(psutil.Process(proc.pid), 2)
    try:
        time.sleep(0.5)  # both busy with queued chunks
        proc.kill()
        proc.wait()
        _wait_gone(workers, 2)
        assert not _alive(workers), "workers outlived their parent"
        assert not out.exists()
    finally:
        for worker in _alive(workers):  # do not leave them to the rest of the suite
            worker.kill()


def test_parent_watch_fallback(tmp_path):
    """NO-ORPHAN without PR_SET_PDEATHSIG: the watcher thread alone ends a worker whose
    parent is gone (here: a process given a parent pid that exits)."""
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    code = ("import os, sys, time; from riskbench._workers import _watch; "
            f"_watch({parent.pid}, os.getppid())")
    watcher = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(1.0)
    assert watcher.poll() is None  # the parent lives: keep working
    parent.kill()
    parent.wait()
    start = time.monotonic()
    code = watcher.wait(timeout=10)
    assert code == 1 and time.monotonic() - start < 3.0  # one 0.2 s poll, then exit


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_stop_a_report_promptly_and_leave_nothing(big_table, tmp_path, sig, code):
    """PROMPT + NOTHING: a report in its bootstrap, an existing output left untouched."""
    out = tmp_path / "r.html"
    out.write_text("the previous report")
    proc = subprocess.Popen([*RISKBENCH, "report", str(big_table), "-o", str(out),
                             "--n-resamples", "20000", "--seed", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _busy(psutil.Process(proc.pid), cpu=3.0)  # past imports (~1.3 s of CPU), in the bootstrap
    assert proc.poll() is None, proc.communicate()
    returncode, wall, cpu, stderr = _stop(proc, sig)
    assert returncode == code, stderr
    assert cpu < 0.25, f"{cpu:.2f} s of CPU after the signal"
    assert wall < 1.0, f"stopped {wall:.2f} s after the signal"
    assert "nothing was written" in stderr and "Traceback" not in stderr
    assert out.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_to_the_process_group_of_score(long_generations, tmp_path, sig, code):
    """PROMPT + NOTHING + NO-ORPHAN: ^C in a terminal (or a service manager's SIGTERM)
    reaches the parent and its workers; the workers ignore it and the parent kills them."""
    out = tmp_path / "scores.csv"
    proc = subprocess.Popen([*RISKBENCH, "score", str(long_generations), "--scorer", "ifeval",
                             "--jobs", "2", "-o", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    workers = _workers(psutil.Process(proc.pid), 2)
    time.sleep(0.5)
    returncode, wall, _, stderr = _stop(proc, sig, group=True)
    assert returncode == code, stderr
    assert wall < 1.0, f"stopped {wall:.2f} s after ^C"
    assert _wait_gone(workers, 2) < 2 and not _alive(workers)
    assert "Traceback" not in stderr and list(tmp_path.iterdir()) == []


def test_atomic_path_removes_its_temporary_file_on_interrupt(tmp_path):
    """NOTHING: KeyboardInterrupt (and the CLI's SIGTERM exception) inside the write."""
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]
