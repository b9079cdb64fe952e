"""The riskbench command, run as a user runs it (a real subprocess for the entry point)."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from riskbench.cli import main

GOOD = "model,sample_id,metric,value\n" + "".join(
    f"{m},{i},acc,{v}\n" for m, shift in (("a", 0.3), ("b", 0.0), ("c", -0.3))
    for i, v in enumerate([round(shift + 0.1 * (t % 7), 2) for t in range(30)])
)


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_entry_point_demo_json():
    env = dict(os.environ, COLUMNS="120")
    out = subprocess.run([sys.executable, "-m", "riskbench.cli", "demo", "--json",
                          "--n-resamples", "100", "--seed", "3"],
                         capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert {"ranking", "seed", "order", "test", "h0", "best_set"} <= set(payload)
    assert payload["seed"] == 3 and payload["order"] == 2 and payload["test"] == "relative"
    assert len(payload["ranking"]) == 48
    assert set(payload["ranking"][0]) >= {"model", "rank", "eps", "wins", "group"}
    assert payload["input"]["dropped_items"]["win"] == 6


def test_rank_file_table_output(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(GOOD)
    result = run("rank", str(path), "--n-resamples", "100", "--seed", "1")
    assert result.exit_code == 0, result.output
    for text in ("R-SSD ranking of 3 models on 'acc'", "Best set", "Null hypothesis",
                 "seed 1", "TVaR 5%"):
        assert text in result.output
    lines = [ln for ln in result.output.splitlines() if "│" in ln and ln.split("│")[1].strip()]
    assert [ln.split("│")[3].strip().lstrip("★ ") for ln in lines] == ["a", "b", "c"]


def test_rank_json_is_reproducible(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(GOOD)
    args = ("rank", str(path), "--n-resamples", "50", "--seed", "4", "--json", "--order", "1",
            "--test", "absolute", "--correction", "holm")
    first, second = json.loads(run(*args).output), json.loads(run(*args).output)
    assert first == second
    assert first["order"] == 1 and first["test"] == "absolute" and first["correction"] == "holm"
    assert first["input"]["sha256"] and first["riskbench_version"]


def test_rank_without_path_uses_demo():
    result = run("rank", "--n-resamples", "20", "--seed", "0", "--top", "3", "--quiet")
    assert result.exit_code == 0, result.output
    assert "48 models on 'win'" in result.output and "45 more models" in result.output


def test_bad_input_exit_code_and_message(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("model,sample_id,metric,value\na,1,acc,x\n")
    result = run("rank", str(path))
    assert result.exit_code == 2
    assert f"error: {path}: field 'value' is not a number at line 2 ('x')" in result.output
    result = run("rank", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and "no such file" in result.output


def test_bad_option_exit_code():
    assert run("rank", "--order", "3").exit_code == 2
    result = run("rank", "--alpha", "0.9", "--n-resamples", "10")
    assert result.exit_code == 2 and "alpha must be a number in (0, 0.5)" in result.output


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help(flag):
    assert run(flag).exit_code == 0
