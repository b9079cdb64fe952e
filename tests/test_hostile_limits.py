"""Hostile inputs, part 1: what an input may expand to (riskbench._limits).

Each test names its case and the promise it checks. The promises:

* BOUNDED  - the command's peak memory (ru_maxrss of the subprocess) stays under 500 MiB;
* EXIT2    - exit status 2 with a message naming the file (and the zip member), the limit and
             the flag that raises it, never a traceback;
* NO-BLOCK - a FIFO or device is refused at once, never read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import riskbench
from bombs import MiB, deep_json, gzip_bomb, zip_bomb
from riskbench._limits import Limits, format_size, parse_size
from riskbench.cli import main
from riskbench.errors import InputError, LimitError
from riskbench.io import read_log

pytestmark = pytest.mark.hostile

ROOT = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data"
EVAL = DATA / "formats" / "inspect" / "inspect_ai_tests" / "log_read_sample.eval"
RISKBENCH = [sys.executable, "-m", "riskbench.cli"]
PEAK_LIMIT = 500 * MiB
HEADER = b"model,sample_id,metric,value\n"


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def run_measured(*args: str, timeout: float = 120) -> tuple[int, str, int]:
    """Run ``riskbench ARGS`` in a subprocess: (exit status, stderr, peak RSS in bytes).

    The peak is the subprocess's own VmHWM (tests/peak_rss.py explains why not ru_maxrss).
    """
    env = dict(os.environ, COLUMNS="200")
    peak_file = Path(tempfile.mkstemp(prefix="peak")[1])
    try:
        out = subprocess.run([sys.executable, str(Path(__file__).parent / "peak_rss.py"),
                              str(peak_file), *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env=env, timeout=timeout, check=False)
        return out.returncode, out.stderr.decode("utf-8", "replace"), int(peak_file.read_text())
    finally:
        peak_file.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """Every generated bomb of this module, built once (a few seconds)."""
    d = tmp_path_factory.mktemp("bombs")
    with zipfile.ZipFile(EVAL) as z:
        members = {n: z.read(n) for n in z.namelist()}
    sample = b'{"id": 9, "epoch": 1, "scores": {}, "pad": "'
    return {
        # the case: 3.1 MB archive, one sample member declaring 3 GiB
        "eval_3g": zip_bomb(d / "big.eval", members, bomb="samples/9_epoch_1.json", mib=3072,
                            prefix=sample),
        # under the size limit, but 1,000 times smaller than it inflates
        "eval_ratio": zip_bomb(d / "ratio.eval", members, bomb="samples/9_epoch_1.json",
                               mib=1500, prefix=sample),
        # a header that understates the size: zipfile stops at the declared size, CRC fails
        "eval_liar": zip_bomb(d / "liar.eval", members, bomb="samples/9_epoch_1.json",
                              mib=3072, prefix=sample, declared=1000),
        # the 2.1 MB .csv.gz of one 2 GiB line, and a 4.2 MB one with rows
        "csv_line": gzip_bomb(d / "line.csv.gz", mib=2048, head=HEADER),
        "csv_rows": gzip_bomb(d / "rows.csv.gz", mib=2048, head=HEADER,
                              pattern=b"m,1,acc,1\n"),
        "jsonl_rows": gzip_bomb(d / "rows.jsonl.gz", mib=2048,
                                pattern=b'{"model":"m","sample_id":1,"metric":"a","value":1}\n'),
    }


# ----------------------------------------------------------------------------- bombs

@pytest.mark.parametrize("case, command, expected", [
    ("eval_3g", "logs", ["big.eval: member 'samples/9_epoch_1.json' declares 3 GiB, above the "
                         "input limit of 2 GiB (max_bytes)", "--max-input-bytes 4G"]),
    ("eval_ratio", "logs", ["ratio.eval: member 'samples/9_epoch_1.json' expands 1,0",
                            "above the limit of 100 times (max_ratio)", "--max-expansion"]),
    ("eval_liar", "logs", ["liar.eval: archive: cannot be read as a zip archive (Bad CRC-32 "
                           "for file 'samples/9_epoch_1.json')"]),
    ("csv_line", "rank", ["line.csv.gz expands", "decompression bomb", "--max-expansion"]),
    ("csv_rows", "rank", ["rows.csv.gz expands", "--max-expansion"]),
    ("jsonl_rows", "rank", ["rows.jsonl.gz expands", "--max-expansion"]),
])
def test_decompression_bombs_exit_2_in_bounded_memory(bombs, case, command, expected):
    """BOUNDED + EXIT2: zip members and gzip files inflating to GiBs."""
    code, stderr, peak = run_measured(command, str(bombs[case]))
    assert code == 2, stderr
    for text in expected:
        assert text in stderr, stderr
    assert "Traceback" not in stderr
    assert peak < PEAK_LIMIT, f"{case}: peak RSS {format_size(peak)}"


def test_many_small_members_that_add_up_to_a_bomb(tmp_path):
    """EXIT2: 40 sample members of 12 MiB each (each under the 16 MiB past which a member's
    ratio is checked), 480 MiB from 0.5 MB: refused for the archive as a whole."""
    with zipfile.ZipFile(EVAL) as z:
        members = {n: z.read(n) for n in z.namelist()}
    path = zip_bomb(tmp_path / "many.eval", members, mib=12,
                    bomb=[f"samples/{100 + i}_epoch_1.json" for i in range(40)])
    with pytest.raises(LimitError, match=r"many\.eval: its 46 members expand .* times "
                                         r"together .* above the limit of 100 times"):
        read_log(path, format="inspect")


def test_bomb_limits_can_be_raised_and_the_flag_is_obeyed(bombs):
    """EXIT2: the flag the message names raises the limit (the next limit then stops it)."""
    code, stderr, peak = run_measured("logs", str(bombs["eval_3g"]), "--max-input-bytes", "4G")
    assert code == 2 and "expands" in stderr and "--max-expansion" in stderr, stderr
    assert peak < PEAK_LIMIT


def test_a_100_mib_line_is_refused_by_the_line_limit(tmp_path):
    """BOUNDED + EXIT2: a plain CSV whose second line has no line break for 100 MiB."""
    path = tmp_path / "one_line.csv"
    with open(path, "wb") as fh:
        fh.write(HEADER)
        for _ in range(100):
            fh.write(b"x" * MiB)
    code, stderr, peak = run_measured("rank", str(path))
    assert code == 2, stderr
    assert "one_line.csv: line 2 is longer than 64 MiB (the max_line limit" in stderr
    assert "--max-line-bytes" in stderr
    assert peak < PEAK_LIMIT, format_size(peak)


def _long_line_table(path: Path, width: int) -> Path:
    """A JSONL table whose first model name is ``width`` characters long."""
    long_name = "m" * width
    rows = [{"model": m, "sample_id": i, "metric": "acc", "value": (i * 7 % 10) / 10 + s}
            for m, s in ((long_name, 0.2), ("b", 0.0), ("c", -0.2)) for i in range(20)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_million_character_lines_are_read_in_bounded_memory(tmp_path):
    """BOUNDED: 10^6-character lines are legal data: ranked, exit 0."""
    path = _long_line_table(tmp_path / "long.jsonl", 10**6)
    code, stderr, peak = run_measured("rank", str(path), "--n-resamples", "20", "--seed", "0",
                                      "--quiet")
    assert code == 0, stderr
    assert peak < PEAK_LIMIT, format_size(peak)


def test_a_lower_line_limit_names_the_line(tmp_path):
    """EXIT2: --max-line-bytes below the longest line."""
    path = _long_line_table(tmp_path / "long.jsonl", 10**6)
    result = cli("rank", str(path), "--max-line-bytes", "100K")
    assert result.exit_code == 2
    assert "long.jsonl: line 1 is longer than 100 KiB (the max_line limit" in result.output


def test_deep_nesting_exits_2_naming_the_line(tmp_path):
    """BOUNDED + EXIT2: 100,000-deep JSON in a JSONL table and in metric spec files."""
    table = tmp_path / "deep.jsonl"
    table.write_text('{"model": "a", "sample_id": 1, "metric": "m", "value": 1}\n'
                     '{"model": ' + deep_json(100_000) + "}\n")
    code, stderr, peak = run_measured("rank", str(table))
    assert code == 2, stderr
    assert "deep.jsonl: line 2 nests JSON arrays or objects too deeply to parse" in stderr
    assert peak < PEAK_LIMIT
    spec_json = tmp_path / "spec.json"
    spec_json.write_text('{"metrics": ' + deep_json(100_000) + "}")
    spec_toml = tmp_path / "spec.toml"
    spec_toml.write_text("x = " + deep_json(100_000) + "\n")
    for spec in (spec_json, spec_toml):
        with pytest.raises(InputError, match="nests tables or arrays too deeply"):
            riskbench.read_metric_spec(spec)
    result = cli("rank", "--metric-spec", str(spec_toml))
    assert result.exit_code == 2
    assert "spec.toml: nests tables or arrays too deeply" in result.output


def test_deep_nesting_in_a_log(tmp_path):
    """EXIT2: an Inspect JSON log nested 100,000 deep (read_log's JSON loading)."""
    log = tmp_path / "deep.json"
    log.write_text('{"version": 2, "status": "success", "eval": ' + deep_json(100_000) + "}")
    with pytest.raises(InputError, match="nests JSON arrays or objects too deeply"):
        read_log(log, format="inspect")


def test_parquet_whose_rows_decode_far_beyond_its_size(tmp_path):
    """EXIT2: a Parquet file of 2 million constant rows (a few KB, at least 64 MiB decoded)."""
    n = 2_000_000
    frame = pd.DataFrame({"model": pd.Categorical(["a"] * n), "sample_id": 0,
                          "metric": pd.Categorical(["m"] * n), "value": 1.0})
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path)
    assert path.stat().st_size < 100_000
    with pytest.raises(LimitError, match=r"rows\.parquet expands .* above the limit of 100 "
                                         r"times \(max_ratio\)"):
        riskbench.read_scores(path)


def test_a_header_of_a_million_columns(tmp_path):
    """BOUNDED + EXIT2: a 9.9 MB CSV whose header names 10^6 columns (pandas would build
    them in 2 GiB) and JSONL / Parquet records with too many fields."""
    n = 1_000_000
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("1" * n) + "\n")
    code, stderr, peak = run_measured("rank", str(path))
    assert code == 2, stderr[-500:]
    assert "wide.csv: its header has 1,000,000 columns, above the limit of 100,000 " \
           "(max_columns)" in stderr and "--max-columns 10000000" in stderr
    assert peak < PEAK_LIMIT, format_size(peak)
    record = {f"f{i}": 1 for i in range(100_001)}
    (tmp_path / "wide.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(LimitError, match=r"wide\.jsonl: line 1 has 100,001 columns"):
        riskbench.read_scores(tmp_path / "wide.jsonl")
    pd.DataFrame({"model": ["a"], "sample_id": [1], "metric": ["m"], "value": [1.0]}) \
        .to_parquet(tmp_path / "four.parquet")
    with riskbench.input_limits(max_columns=3), pytest.raises(LimitError, match="has 4 col"):
        riskbench.read_scores(tmp_path / "four.parquet")


def test_a_missing_column_message_lists_twenty_columns(tmp_path):
    """SHORT: the missing-column message of a 5,000-column table names 20 of them."""
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(5_000)) + "\n" + ",".join("1" * 5_000))
    with pytest.raises(InputError) as info:
        riskbench.read_scores(path)
    assert "'c19' and 4,980 more. Name the right column(s)" in str(info.value)
    assert len(str(info.value)) < 800


# ----------------------------------------------------------------------------- not files

def test_fifo_is_refused_without_blocking(tmp_path):
    """NO-BLOCK + EXIT2: a named pipe as the input of rank, logs and score (nobody writes to
    it: reading would block forever; the subprocess has a timeout)."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    out = subprocess.run([*RISKBENCH, "rank", str(fifo)], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 2, out.stderr
    assert f"{fifo}: is a named pipe (FIFO), not a regular file" in out.stderr
    for command in (["logs", str(fifo)],
                    ["score", str(fifo), "--scorer", "length", "-o", str(tmp_path / "o.csv")]):
        result = cli(*command)
        assert result.exit_code == 2, result.output
        assert f"{fifo}: is a named pipe (FIFO), not a regular file" in result.output


def test_fifo_as_metric_spec_and_devices(tmp_path):
    """NO-BLOCK + EXIT2: a FIFO --metric-spec, /dev/zero and /dev/null as inputs."""
    fifo = tmp_path / "spec.toml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is a named pipe"):
        riskbench.read_metric_spec(fifo)
    for device in ("/dev/zero", "/dev/null"):
        with pytest.raises(InputError, match="is a character device, not a regular file"):
            riskbench.read_scores(device)
        with pytest.raises(InputError, match="is a character device"):
            read_log(device)


# ----------------------------------------------------------------------------- the API

def test_limits_api():
    """The Python side: input_limits() nests and restores, sizes parse, bad limits refused."""
    assert riskbench.Limits() == Limits(2 << 30, 100.0, 64 << 20, 16 << 20, 100_000)
    assert parse_size("512M") == 512 * MiB and parse_size("1.5g") == 3 << 29
    assert parse_size(" 8 GiB ") == 8 << 30 and parse_size(7) == 7
    with pytest.raises(InputError, match="must be a number of bytes"):
        parse_size("lots")
    with pytest.raises(InputError, match="max_ratio must be a number >= 1"):
        Limits(max_ratio=0.5)
    from riskbench._limits import current_limits

    with riskbench.input_limits(max_bytes="1K") as inner:
        assert inner.max_bytes == 1024 and current_limits() is inner
        with riskbench.input_limits(max_ratio=5):
            assert current_limits().max_bytes == 1024 and current_limits().max_ratio == 5
    assert current_limits() == Limits()


def test_limits_apply_to_the_python_readers(tmp_path):
    """EXIT2 in Python: LimitError (an InputError) from read_scores and read_log, even with
    strict=False, which must not skip a bomb silently."""
    path = tmp_path / "s.csv"
    path.write_text("model,sample_id,metric,value\n" + "a,1,m,1\nb,1,m,2\n" * 100)
    with riskbench.input_limits(max_bytes=1000), pytest.raises(LimitError) as info:
        riskbench.read_scores(path)
    assert str(info.value) == (f"{path} is 1.59 KiB, above the input limit of 1000 bytes "
                               "(max_bytes); if the file is genuine, raise the limit, e.g. "
                               "with riskbench.input_limits(max_bytes='1M')")
    assert info.value.cli_message().endswith("raise the limit, e.g. --max-input-bytes 1M")
    with riskbench.input_limits(max_bytes="50K"), pytest.raises(LimitError) as info:
        read_log(EVAL.parent, format="inspect", strict=False)
    assert "members declare" in str(info.value) or "declares" in str(info.value)


# ----------------------------------------------------------------------------- the margins

def _survey():
    spec = importlib.util.spec_from_file_location("survey", ROOT / "scripts" /
                                                  "survey_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_are_far_above_every_real_log_in_tests_data():
    """The defaults leave a margin of at least 4x over the real logs copied into tests/data
    (scripts/survey_inputs.py; the README states the margins over all real logs measured)."""
    worst = _survey().survey([DATA, ROOT / "src" / "riskbench" / "data"])
    limits = Limits()
    assert worst["bytes"][0] * 100 < limits.max_bytes
    assert worst["ratio"][0] * 4 < limits.max_ratio
    assert worst["line"][0] * 1000 < limits.max_line
    assert worst["depth"][0] * 20 < 1000  # Python's JSON parser stops near 1,000 levels
    assert worst["columns"][0] * 1000 < limits.max_columns


def test_members_that_pass_one_by_one_but_not_together_name_the_total(tmp_path):
    """LIMITS: each member under max_bytes, all of them together over it."""
    import pytest

    from riskbench import _limits
    from riskbench.errors import LimitError

    path = tmp_path / "three.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for a in range(3):
            archive.writestr(f"m{a}.json", "x" * 2048)
    with riskbench.input_limits(max_bytes="5K"), zipfile.ZipFile(path) as archive:
        with pytest.raises(LimitError, match=r"three.zip: its 3 members declare 6 KiB "
                                             r"together, above the input limit of 5 KiB "
                                             r"\(max_bytes\); if the file is genuine"):
            _limits.check_archive(archive, "three.zip")
