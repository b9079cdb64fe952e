"""Evaluation logs through read_scores and the CLI (the readers themselves: test_readers.py)."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import riskbench
from riskbench.cli import main
from riskbench.errors import InputError

FORMATS = Path(__file__).parent / "data" / "formats"
WINOGRANDE = "winogrande/exact_match,get-answer"


def test_read_scores_sniffs_an_lm_eval_tree():
    table = riskbench.read_scores(FORMATS / "lm_eval", metrics=[WINOGRANDE])
    assert table.metrics == (WINOGRANDE,)
    assert len(table.models) == 5 and len(table.items()) == 10
    means = table.to_frame().groupby("model")["value"].mean()
    assert means["gpt-4o"] == pytest.approx(0.3)  # results_*.json reports 0.3
    assert any("several runs" in note for note in table.notes)


def test_format_option_and_errors():
    with pytest.raises(InputError) as info:
        riskbench.read_scores(FORMATS / "lm_eval", format="csv")
    assert str(info.value) == ("format must be 'auto', 'table' or one of lm_eval, helm, inspect, "
                               "alpaca_eval, pairwise, eee; got 'csv'")
    with pytest.raises(InputError, match=r"no metric\(s\) 'nope'; the file has: "):
        riskbench.read_scores(FORMATS / "lm_eval", metrics=["nope"])
    with pytest.raises(InputError, match=r"has scores for only one model .* keep other metrics "
                                         r"with metrics=\[\.\.\.\]"):
        riskbench.read_scores(FORMATS / "lm_eval")


def test_cli_rank_on_a_log_folder():
    result = CliRunner().invoke(main, ["rank", str(FORMATS / "lm_eval"), "--metric", WINOGRANDE,
                                       "--n-resamples", "50", "--seed", "0", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["ranking"]) == 5 and payload["metric"] == WINOGRANDE
    assert payload["input"]["notes"]


def test_cli_logs_shows_the_recomputed_aggregates():
    result = CliRunner().invoke(main, ["logs", str(FORMATS / "helm"), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["checks"] and all(c["matched"] for c in payload["checks"])
    f1 = [c for c in payload["checks"] if c["metric"] == "narrative_qa/f1_score,test"][0]
    assert f1["reported"] == pytest.approx(0.174242, abs=1e-6)
    table = CliRunner().invoke(main, ["logs", str(FORMATS / "helm")])
    assert "recomputed" in table.output and "NO" not in table.output
