"""Hostile inputs, part 3: exit 2 for every bad input and environment fault; outputs.

Promises checked:

* EXIT2   - exit status 2 and a message saying what and where (never exit 1, which means a
            bug): numbers beyond the float range, huge ids, disk full, read-only folders;
* SHORT   - a message never echoes a huge offending value in full;
* ATOMIC  - ``-o FILE`` writes the same JSON as ``--json``, completely or not at all, fsyncs
            file and folder, keeps an existing file's permissions;
* INPUTS  - no command overwrites one of its inputs (same file, link, file in an input folder).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import riskbench
from riskbench.cli import main

pytestmark = pytest.mark.hostile

GOOD = "model,sample_id,metric,value\n" + "".join(
    f"{m},{i},acc,{round(shift + 0.1 * (i % 7), 2)}\n"
    for m, shift in (("a", 0.3), ("b", 0.0), ("c", -0.3)) for i in range(30))
GENERATIONS = Path(__file__).parent / "data" / "generations" / "ifeval_two_models.jsonl"
RISKBENCH = [sys.executable, "-m", "riskbench.cli"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) if isinstance(r, dict) else r + "\n" for r in rows))
    return path


def _rows(value_of=lambda m, i: (i % 5) / 5 + m, item_of=lambda i: i):
    return [json.dumps({"model": name, "sample_id": item_of(i), "metric": "acc",
                        "value": value_of(shift, i)})
            for name, shift in (("a", 0.2), ("b", 0.0)) for i in range(12)]


# ----------------------------------------------------------------------------- numbers, ids

def test_integers_beyond_the_float_range(tmp_path):
    """EXIT2 + SHORT: a JSONL value of 10^400 (was OverflowError, exit 1) and one of 10^5000
    digits (Python's int-parsing limit), each named by line."""
    rows = _rows()
    rows[3] = rows[3].replace('"value": 0.8', '"value": 1' + "0" * 400)
    result = run("rank", _jsonl(tmp_path / "big.jsonl", rows))
    assert result.exit_code == 2, result.output
    assert "big.jsonl: field 'value' is not a number at line 4 (10000000000" in result.output
    assert "(401 characters)" in result.output
    rows = _rows()
    rows[5] = rows[5].replace('"value": 0.2', '"value": 1' + "0" * 5000)
    result = run("rank", _jsonl(tmp_path / "huge.jsonl", rows))
    assert result.exit_code == 2, result.output
    assert "huge.jsonl: line 6 cannot be parsed as JSON (Exceeds the limit" in result.output
    assert len(result.output) < 600


def test_a_one_megabyte_value_is_not_echoed(tmp_path):
    """SHORT: a 1 MB non-numeric value: the message is cut, with the count of what was cut."""
    path = tmp_path / "wide.csv"
    path.write_text("model,sample_id,metric,value\na,1,acc," + "x" * 10**6 + "\nb,1,acc,1\n")
    result = run("rank", path)
    assert result.exit_code == 2
    assert "wide.csv: field 'value' is not a number at line 2 ('xxxx" in result.output
    assert len(result.output) < 1000
    path.write_text("model,sample_id,metric,value\n" + "m" * 10**6 + ",1,acc,1\n")
    result = run("rank", path)  # a 1 MB model name in a message of read_scores
    assert result.exit_code == 2 and len(result.output) < 2000, len(result.output)
    assert "characters cut]" in result.output


def test_huge_integer_valued_float_ids(tmp_path):
    """Item ids written as floats >= 2^63 (was TypeError, exit 1) are read exactly."""
    rows = _rows(item_of=lambda i: float(2**63 + 2**11 * i) if i else 1e19)
    result = run("rank", _jsonl(tmp_path / "ids.jsonl", rows), "--n-resamples", "20",
                 "--seed", "0", "--json")
    assert result.exit_code == 0, result.output
    table = riskbench.read_scores(tmp_path / "ids.jsonl")
    assert table.items()[:3] == (str(2**63 + 2**11), str(2**63 + 2**12),
                                 str(2**63 + 3 * 2**11))
    assert "10000000000000000000" in table.items()


def test_corrupted_and_truncated_gzip(tmp_path):
    """EXIT2: a .csv.gz / .jsonl.gz with flipped bytes (was zlib.error, exit 1), and cut
    files for rank and score (score: was EOFError, exit 1)."""
    import gzip

    data = bytearray(gzip.compress(GOOD.encode()))
    cut = bytes(data[:len(data) // 2])
    for i in range(20, len(data) - 10, 7):
        data[i] ^= 0x55
    for name in ("bad.csv.gz", "bad.jsonl.gz"):
        (tmp_path / name).write_bytes(bytes(data))
        result = run("rank", tmp_path / name)
        assert result.exit_code == 2, result.output
        assert f"{name}: cannot be inflated as gzip (Error -3" in result.output
        assert "the file is truncated or corrupted" in result.output
    (tmp_path / "cut.csv.gz").write_bytes(cut)
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(GENERATIONS.read_bytes())[:300])
    result = run("rank", tmp_path / "cut.csv.gz")
    assert result.exit_code == 2 and "cut.csv.gz: cannot be read as .csv.gz (Compressed file " \
        "ended before the end-of-stream marker was reached)" in result.output
    result = run("score", tmp_path / "cut.jsonl.gz", "--scorer", "length", "-o",
                 tmp_path / "o.csv")
    assert result.exit_code == 2 and "cut.jsonl.gz: cannot be read (Compressed file ended" \
        in result.output, result.output


def test_metric_spec_weight_beyond_the_float_range(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text('{"metrics": {"acc": {"weight": 1' + "0" * 400 + "}}}")
    with pytest.raises(riskbench.InputError, match="weight is an integer beyond the float"):
        riskbench.read_metric_spec(spec)


# ----------------------------------------------------------------------------- environment

def _unshare() -> list[str] | None:
    """``unshare -r -m``: a private mount namespace where a test may mount a small tmpfs."""
    tool = shutil.which("unshare")
    if tool is None:
        return None
    ok = subprocess.run([tool, "-r", "-m", "true"], capture_output=True, check=False)
    return [tool, "-r", "-m"] if ok.returncode == 0 else None


UNSHARE = _unshare()
needs_mounts = pytest.mark.skipif(UNSHARE is None, reason="needs unshare -r -m (user "
                                  "namespaces) to mount a small or read-only tmpfs")


def _in_tmpfs(tmp_path: Path, options: str, command: str) -> subprocess.CompletedProcess:
    """Run ``command`` (shell) with a private tmpfs mounted on tmp_path/mnt, then list it."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (f"mount -t tmpfs -o {options} tmpfs {mnt} && {command}; echo \"rc=$?\"; "
              f"echo listing: $(ls -A {mnt})")
    return subprocess.run([*UNSHARE, "sh", "-c", script], capture_output=True, text=True,
                          timeout=120, check=False, cwd=tmp_path)


@needs_mounts
def test_disk_full_exits_2_and_leaves_nothing(tmp_path):
    """EXIT2 + ATOMIC: ENOSPC while writing the 16 KB JSON of the demo ranking into an 8 KiB
    file system (was exit 1, "a bug")."""
    cmd = " ".join(RISKBENCH) + f" rank -o {tmp_path}/mnt/r.json --n-resamples 20 " \
                                "--seed 0 --quiet"
    out = _in_tmpfs(tmp_path, "size=8k", cmd)
    assert "rc=2" in out.stdout, out.stdout + out.stderr
    assert "mnt/r.json: cannot be written (No space left on device); nothing was written" \
        in out.stderr
    assert out.stdout.strip().endswith("listing:")  # no partial file, no temporary file


@needs_mounts
def test_read_only_folder_exits_2(tmp_path):
    """EXIT2: the output folder is on a read-only file system (root ignores chmod)."""
    (tmp_path / "s.csv").write_text(GOOD)
    cmd = " ".join(RISKBENCH) + f" rank s.csv -o {tmp_path}/mnt/r.json --n-resamples 20 " \
                                "--seed 0 --quiet"
    out = _in_tmpfs(tmp_path, "ro", cmd)
    assert "rc=2" in out.stdout, out.stdout + out.stderr
    assert "mnt/r.json: cannot be written (Read-only file system)" in out.stderr


def test_out_of_memory_exits_2():
    """EXIT2: a MemoryError (here: power planning for 3 * 10^8 items under a 3 GiB address
    space limit) is an environment fault with a message, not a traceback."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    out = subprocess.run([*RISKBENCH, "power", "--effect", "0.2", "--sizes", "300000000",
                          "--n-datasets", "10", "--n-resamples", "10"], capture_output=True,
                         text=True, preexec_fn=limit, timeout=120, check=False)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "error: out of memory: the input, or what the options ask for" in out.stderr
    assert "Traceback" not in out.stderr


def test_closed_stdout_is_not_a_bug():
    """A reader that leaves early (``riskbench logs --json | head``): exit 141 like a tool
    killed by SIGPIPE, no traceback."""
    helm = Path(__file__).parent / "data" / "formats" / "helm"
    proc = subprocess.Popen([*RISKBENCH, "logs", str(helm), "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, stderr
    assert stderr == ""


# ----------------------------------------------------------------------------- -o outputs

@pytest.mark.parametrize("command", [
    ["rank", "--n-resamples", "30", "--seed", "2"],
    ["select", "--n-resamples", "30", "--seed", "2", "--guardrail", "acc:mean>=0"],
    ["stability", "--n-resamples", "10", "--seed", "2", "--repeats", "2", "--sizes", "10,20"],
])
def test_output_file_holds_the_json(tmp_path, command):
    """ATOMIC: -o writes exactly what --json prints."""
    (tmp_path / "s.csv").write_text(GOOD)
    args = [command[0], tmp_path / "s.csv", *command[1:]]
    printed = run(*args, "--json")
    assert printed.exit_code == 0, printed.output
    out = tmp_path / "out.json"
    result = run(*args, "-o", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == json.loads(printed.stdout)
    assert f"JSON written to {out}" in result.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.json")]


def test_output_of_logs_power_and_demo(tmp_path):
    logs = Path(__file__).parent / "data" / "formats" / "inspect" / "inspect_ai_tests"
    result = run("logs", logs, "-o", tmp_path / "logs.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "logs.json").read_text())["rows"] > 0
    (tmp_path / "s.csv").write_text(GOOD)
    result = run("power", "--effect", "0.5", "--sizes", "20,40", "--n-datasets", "10",
                 "--n-resamples", "10", "-o", tmp_path / "p.json", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "p.json").read_text()) == json.loads(result.stdout)


def test_atomic_write_keeps_permissions_and_fsyncs(tmp_path, monkeypatch):
    """ATOMIC: an existing 0600 output stays 0600; the file and its folder are fsync'ed
    (os.fsync is wrapped to record what it was called on; it still runs)."""
    (tmp_path / "s.csv").write_text(GOOD)
    out = tmp_path / "r.json"
    out.write_text("old")
    out.chmod(0o600)
    synced = []
    real = os.fsync

    def recording(fd):
        synced.append(os.fstat(fd))
        return real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    result = run("rank", tmp_path / "s.csv", "--n-resamples", "20", "--seed", "0", "-o", out)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["seed"] == 0
    inodes = {(s.st_dev, s.st_ino) for s in synced}
    assert (out.stat().st_dev, out.stat().st_ino) in inodes  # the file, before the rename
    assert (tmp_path.stat().st_dev, tmp_path.stat().st_ino) in inodes  # and its folder


def test_no_command_overwrites_its_inputs(tmp_path):
    """INPUTS: score -o gens.jsonl (the issue's case), rank -o s.csv, through a symlink and a
    hard link, -o onto the metric spec, and onto a file inside an input log folder."""
    gens = tmp_path / "gens.jsonl"
    shutil.copy(GENERATIONS, gens)
    before = gens.read_bytes()
    result = run("score", gens, "--scorer", "length", "-o", gens)
    assert result.exit_code == 2
    assert f"{gens}: is one of the command's inputs ({gens}); writing it would destroy the " \
           "input" in result.output
    assert gens.read_bytes() == before
    scores = tmp_path / "s.csv"
    scores.write_text(GOOD)
    (tmp_path / "link.csv").symlink_to(scores)
    os.link(scores, tmp_path / "hard.csv")
    spec = tmp_path / "spec.json"
    spec.write_text('{"metrics": {"acc": {"weight": 1}}}')
    for output in (scores, tmp_path / "link.csv", tmp_path / "hard.csv"):
        for command in ("rank", "select", "stability"):
            result = run(command, scores, "--n-resamples", "10", "-o", output)
            assert result.exit_code == 2 and "is one of the command's inputs" in result.output
        result = run("report", scores, "--n-resamples", "10", "-o", output)
        assert result.exit_code == 2, result.output  # (.csv is also not .html)
    result = run("rank", scores, "--metric-spec", spec, "--n-resamples", "10", "-o", spec)
    assert result.exit_code == 2 and "is one of the command's inputs" in result.output
    assert scores.read_text() == GOOD and spec.read_text().startswith('{"metrics"')
    logs = tmp_path / "logs"
    shutil.copytree(Path(__file__).parent / "data" / "formats" / "inspect" / "eee_tests", logs)
    victim = logs / "data_arc_qwen.json"
    result = run("logs", logs, "-o", victim)
    assert result.exit_code == 2
    assert f"{victim}: is a file inside the input folder {logs}" in result.output
    fresh = run("logs", logs, "-o", logs / "new.json")  # not there yet: refused all the same
    assert fresh.exit_code == 2 and "is a file inside the input folder" in fresh.output
    assert not (logs / "new.json").exists()
    assert run("logs", logs, "-o", tmp_path / "new.json").exit_code == 0


def test_output_onto_devices_and_symlinks(tmp_path):
    """ATOMIC: -o /dev/null, /dev/stdout or a FIFO is refused (the rename would replace the device
    node); -o onto a symlink writes its target and leaves the link a link."""
    scores = tmp_path / "s.csv"
    scores.write_text(GOOD)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # (/dev/stdout is a regular capture file under pytest, so not used here)
    for device in ("/dev/null", str(fifo)):
        result = run("rank", scores, "--n-resamples", "10", "-o", device)
        assert result.exit_code == 2, result.output
        assert f"{device}: is not a regular file (a device, FIFO or socket)" in result.output
    assert Path("/dev/null").is_char_device()
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target.name)
    result = run("rank", scores, "--n-resamples", "10", "--seed", "0", "-o", link, "--quiet")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and json.loads(target.read_text())["seed"] == 0


def test_report_refuses_its_input_before_computing(tmp_path):
    """INPUTS: report -o onto its own input .html-named table is refused up front."""
    scores = tmp_path / "s.csv"
    scores.write_text(GOOD)
    html = tmp_path / "t.html"
    os.link(scores, html)
    result = run("report", scores, "-o", html, "--n-resamples", "10")
    assert result.exit_code == 2 and "is one of the command's inputs" in result.output
    assert html.read_text() == GOOD
