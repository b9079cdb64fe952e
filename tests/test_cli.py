"""The riskbench command, run as a user runs it (a real subprocess for the entry point)."""

import html
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from riskbench.cli import main

GOOD = "model,sample_id,metric,value\n" + "".join(
    f"{m},{i},acc,{v}\n" for m, shift in (("a", 0.3), ("b", 0.0), ("c", -0.3))
    for i, v in enumerate([round(shift + 0.1 * (t % 7), 2) for t in range(30)])
)


def run(*args):
    return CliRunner().invoke(main, list(args))


def strict(text):
    """Parse JSON refusing NaN / Infinity tokens (not JSON, though Python writes them)."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_entry_point_rank_json_on_demo():
    env = dict(os.environ, COLUMNS="120")
    out = subprocess.run([sys.executable, "-m", "riskbench.cli", "rank", "--json",
                          "--n-resamples", "100", "--seed", "3"],
                         capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    payload = strict(out.stdout)
    assert {"ranking", "seed", "order", "test", "h0", "top_set", "pairs", "decision"} \
        <= set(payload)
    assert payload["seed"] == 3 and payload["order"] == 2 and payload["test"] == "relative"
    assert len(payload["ranking"]) == 48 and len(payload["pairs"]) == 48 * 47
    assert set(payload["ranking"][0]) >= {"model", "rank", "rank_interval", "letters", "eps",
                                          "wins", "top"}
    assert set(payload["pairs"][0]) >= {"reject", "pvalue_adjusted", "decided_by"}
    assert payload["input"]["dropped_items"]["win"] == 6


def test_rank_file_table_output(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(GOOD)
    result = run("rank", str(path), "--n-resamples", "100", "--seed", "1")
    assert result.exit_code == 0, result.output
    for text in ("R-SSD ranking of 3 models on 'acc'", "Top set", "Null hypothesis",
                 "seed 1", "TVaR 5%", "rank interval", "letters", "6 ordered pairs"):
        assert text in result.output
    lines = [ln for ln in result.output.splitlines() if "│" in ln and ln.split("│")[1].strip()]
    assert [ln.split("│")[4].strip().lstrip("★ ") for ln in lines] == ["a", "b", "c"]
    # no horizontal rules between groups: letters say which models are not separated
    assert "├" not in result.output


def test_rank_under_bh_names_no_top_set(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(GOOD)
    result = run("rank", str(path), "--n-resamples", "100", "--seed", "1", "--correction", "bh")
    assert result.exit_code == 0, result.output
    assert "No top set" in result.output and "false discovery rate" in result.output
    assert "rank bounds (no guarantee)" in result.output
    payload = strict(run("rank", str(path), "--n-resamples", "100", "--seed", "1",
                         "--correction", "bh", "--json").stdout)
    assert payload["top_set"] is None and payload["interval_level"] is None


def test_rank_says_when_nothing_is_decided(tmp_path):
    path = tmp_path / "same.csv"
    path.write_text("model,sample_id,metric,value\n" + "".join(
        f"{m},{i},acc,{(i * 7 + a) % 10 / 10}\n" for a, m in enumerate("xyz")
        for i in range(20)))
    result = run("rank", str(path), "--n-resamples", "50", "--seed", "0", "--quiet")
    assert result.exit_code == 0, result.output
    assert "No decision: the data do not separate these models" in result.output
    payload = strict(run("rank", str(path), "--n-resamples", "50", "--seed", "0", "--quiet",
                         "--json").stdout)
    assert payload["decision"] == "no decision: the data do not separate these models"


def test_rank_json_is_reproducible(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(GOOD)
    args = ("rank", str(path), "--n-resamples", "50", "--seed", "4", "--json", "--order", "1",
            "--test", "absolute", "--correction", "holm")
    first, second = json.loads(run(*args).stdout), json.loads(run(*args).stdout)
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


def test_demo_compares_portfolio_with_mean_win_rate():
    result = run("demo", "--n-resamples", "50", "--seed", "1", "--top", "3", "--quiet")
    assert result.exit_code == 0, result.output
    assert "R-SSD ranking of 48 models on 'win'" in result.output
    assert "on the IC portfolio of length, offensive, win" in result.output
    assert "Kendall tau" in result.output and "Moved most" in result.output
    payload = json.loads(run("demo", "--n-resamples", "50", "--seed", "1", "--json").stdout)
    assert payload["portfolio"]["portfolio"]["kind"] == "ic"
    assert -1 <= payload["kendall_tau"]["portfolio_vs_mean"] <= 1
    assert len(payload["moved_most"]) == 6


PORTFOLIO = "model,sample_id,metric,value\n" + "".join(
    f"{m},{i},{metric},{v}\n"
    for m, q, tox in (("good", 0.8, 0.1), ("toxic", 0.9, 0.6), ("weak", 0.2, 0.1))
    for i in range(40)
    for metric, v in (("quality", round(q + 0.01 * (i % 9), 3)),
                      ("toxicity", round(tox + 0.01 * (i % 5), 3)))
)


def test_rank_portfolio_weights_and_borda(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(PORTFOLIO)
    base = ("rank", str(path), "--lower-is-better", "toxicity", "--n-resamples", "50",
            "--seed", "0", "--json")
    ic = json.loads(run(*base).stdout)
    assert ic["portfolio"]["kind"] == "ic"
    assert ic["portfolio"]["higher_is_better"] == {"quality": True, "toxicity": False}
    heavy = json.loads(run(*base, "--weight", "quality=9").stdout)
    assert heavy["portfolio"]["weights"]["quality"] == pytest.approx(0.9)
    assert heavy["ranking"][0]["model"] == "toxic"
    ec = json.loads(run(*base, "--portfolio", "ec").stdout)
    assert ec["portfolio"]["kind"] == "ec"
    borda = json.loads(run(*base, "--portfolio", "none").stdout)
    assert borda["aggregation"] == "borda" and set(borda["per_metric"]) == {"quality", "toxicity"}
    table = run(*base[:-1], "--portfolio", "none")
    assert "Borda count of 2 per-metric R-SSD rankings of 3 models" in table.output
    bad = run(*base, "--weight", "quality")
    assert bad.exit_code == 2
    assert "--weight expects METRIC=NUMBER, e.g. --weight win=2; got 'quality'" in bad.output


def _portfolio_and_spec(tmp_path):
    """PORTFOLIO as a CSV, and a metric spec: quality weight 3, toxicity lower-is-better, 1."""
    path = tmp_path / "p.csv"
    path.write_text(PORTFOLIO)
    spec = tmp_path / "metrics.toml"
    spec.write_text("[metrics.quality]\nweight = 3\n[metrics.toxicity]\n"
                    "higher_is_better = false\nweight = 1\n")
    return path, spec


def test_metric_spec_file(tmp_path):
    path, spec = _portfolio_and_spec(tmp_path)
    out = json.loads(run("rank", str(path), "--metric-spec", str(spec), "--n-resamples", "50",
                         "--seed", "0", "--json").stdout)
    assert out["portfolio"]["weights"] == {"quality": 0.75, "toxicity": 0.25}
    assert out["portfolio"]["higher_is_better"]["toxicity"] is False


def test_select_command(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(PORTFOLIO)
    args = ("select", str(path), "--lower-is-better", "toxicity", "--n-resamples", "50",
            "--seed", "0", "--guardrail", "toxicity:tvar@0.1>=-0.3")
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "Chosen model: good (2 of 3 models pass every guardrail)" in result.output
    assert "toxic" in result.output and "Excluded models (1)" in result.output
    payload = strict(run(*args, "--json").stdout)
    assert payload["chosen"] == "good"
    assert payload["excluded"][0]["model"] == "toxic"
    assert payload["excluded"][0]["failed"][0]["measured"] == pytest.approx(-0.64)
    bad = run("select", str(path), "--guardrail", "toxicity:tvar@0.1=>-0.3")
    assert bad.exit_code == 2 and "expected a comparison (>=, <=, >, <)" in bad.output


def test_stability_command(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(PORTFOLIO)
    result = run("stability", str(path), "--lower-is-better", "toxicity", "--sizes", "10,40",
                 "--repeats", "3", "--n-resamples", "30", "--seed", "0", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["stability"]
    assert [r["items"] for r in rows] == [10, 40]
    assert rows[1]["tau_mean"] == pytest.approx(1.0)  # all 40 items: the full ranking itself
    text = run("stability", str(path), "--lower-is-better", "toxicity", "--sizes", "10,40",
               "--repeats", "2", "--n-resamples", "30", "--seed", "0")
    flat = " ".join(text.output.split())
    assert "Each ranking: R-SSD on the IC portfolio of 2 metrics, B = 30, alpha = 0.05" in flat
    assert "40 (all)" in flat and "tau 1 by construction" in flat
    bad = run("stability", str(path), "--sizes", "10,x")
    assert bad.exit_code == 2 and "--sizes expects comma-separated integers" in bad.output


def test_select_dominates_says_which_test_decided(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(PORTFOLIO)
    args = ("select", str(path), "--lower-is-better", "toxicity", "--n-resamples", "100",
            "--seed", "0", "--guardrail", "quality:dominates(weak,order=1)")
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "which test decided" in result.output
    payload = strict(run(*args, "--json").stdout)
    checks = {c["model"]: c for c in payload["checks"]}
    assert checks["good"]["decided_by"] in ("dominance", "equality", "both")
    assert checks["weak"]["passed"] is False and checks["weak"]["measured"] is None
    for c in payload["checks"]:
        if not c["passed"] and c["upper_bound"] is not None and c["upper_bound"] < 0.25:
            # a bound below eps0 next to FAIL: the equality test decided, and it says so
            assert c["decided_by"] == "equality" and "equality test decided" in c["detail"]


def test_directions_of_metrics_not_selected_are_ignored(tmp_path):
    # a script passes every metric's direction (or a metric spec with weights) and picks one
    # metric: the other's direction is no error (that metric is named as not selected), the
    # spec's weights do not apply; a metric the file lacks still is an error
    path, spec = _portfolio_and_spec(tmp_path)
    common = ("--n-resamples", "50", "--seed", "0", "--json")
    one = run("rank", str(path), "--lower-is-better", "toxicity", "--metric", "quality", *common)
    assert one.exit_code == 0, one.output
    payload = strict(one.stdout)
    assert payload["metric"] == "quality"
    assert payload["read"]["skipped"]["metric not selected"]["names"] == ["toxicity"]
    tox = strict(run("rank", str(path), "--lower-is-better", "toxicity", "--metric", "toxicity",
                     *common).stdout)
    assert tox["higher_is_better"] is False
    from_spec = strict(run("rank", str(path), "--metric-spec", str(spec), "--metric",
                           "toxicity", *common).stdout)
    assert from_spec["metric"] == "toxicity" and from_spec["higher_is_better"] is False
    assert from_spec["portfolio"] is None  # the spec's weights did not make a portfolio
    weighted = run("rank", str(path), "--weight", "quality=2", "--metric", "quality", *common)
    assert weighted.exit_code == 2
    assert "a weight (--weight) applies only to a portfolio of several metrics" in weighted.output
    bad = run("rank", str(path), "--lower-is-better", "toxic", "--metric", "quality", *common)
    assert bad.exit_code == 2
    assert "--lower-is-better/--metric-spec names metric(s) 'toxic' not in the table " \
        "(metrics: quality, toxicity)" in bad.output


def test_the_reports_reproduce_command_is_shell_quoted(tmp_path, monkeypatch):
    # a guardrail holds '>' and '=': pasted unquoted into a shell it would redirect output
    path = tmp_path / "p q.csv"
    path.write_text(PORTFOLIO)
    out = tmp_path / "r.html"
    args = ["report", str(path), "-o", str(out), "--lower-is-better", "toxicity",
            "--guardrail", "toxicity:tvar@0.05>=-0.9", "--n-resamples", "20", "--seed", "0"]
    monkeypatch.setattr(sys, "argv", ["riskbench", *args])
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "of 3 models pass every guardrail" in " ".join(result.output.split())
    page = out.read_text()
    shown = html.unescape(page.split("Reproduce with:</p><pre>", 1)[1].split("</pre>", 1)[0])
    assert "'toxicity:tvar@0.05>=-0.9'" in shown
    assert shlex.split(shown) == ["riskbench", *args]


def test_option_errors_name_the_flags(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("model,item,metric,value,sample\n" + "".join(
        f"{m},{i},{met},{(i * 7 + s + len(m)) % 5 / 4},{s}\n"
        for m in ("a", "b") for i in range(12) for met in ("q", "r") for s in (0, 1)))
    few = run("rank", str(path), "--repeat-col", "sample", "--metric", "q", "--n-resamples", "1")
    assert few.exit_code == 2 and "--n-resamples must be an integer >= 2; got 1" in few.output
    gens = run("rank", str(path), "--repeat-col", "sample", "--generations", "two-stage",
               "--n-resamples", "20")
    assert gens.exit_code == 2
    assert "read the scores with --generations mean, or rank one metric (--metric)" \
        in " ".join(gens.output.split())
    one = run("rank", str(path), "--repeat-col", "sample", "--generations", "two-stage",
              "--metric", "q", "--n-resamples", "20", "--json")
    assert one.exit_code == 0, one.output
    power = run("power", "--effect", "0.5", "--n-datasets", "5")
    assert power.exit_code == 2 and "--n-datasets must be an integer >= 10; got 5" in power.output


def test_an_output_folder_that_does_not_exist_is_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short relative paths: the message is not wrapped inside one
    Path("s.csv").write_text(GOOD)
    result = run("rank", "s.csv", "--n-resamples", "20", "-o", "nodir/x.json")
    assert result.exit_code == 2
    assert "nodir/x.json: the folder nodir does not exist; create it first (mkdir -p)" \
        in " ".join(result.output.split())
    assert not (tmp_path / "nodir").exists()
