"""Selection under guardrails: the grammar, its exact errors, and the choice (METHOD.md 11)."""

import json

import numpy as np
import pandas as pd
import pytest

import riskbench
from riskbench.errors import InputError


@pytest.mark.parametrize("text,expected", [
    ("toxicity:tvar@0.05>=-0.2", dict(target="toxicity", measure="tvar", level=0.05, op=">=",
                                      threshold=-0.2)),
    (" win : mean > 0.5 ", dict(target="win", measure="mean", level=None, op=">",
                                threshold=0.5)),
    ("len:quantile<=1e3", dict(target="len", measure="quantile", level=0.05, op="<=",
                               threshold=1000.0)),
    ("win:dominates(ref_model,order=2)", dict(target="win", measure="dominates",
                                              reference="ref_model", order=2, eps0=0.25)),
    ("portfolio:dominates('odd,(name)', order=1, eps0=0.1, alpha=0.01)",
     dict(target="portfolio", reference="odd,(name)", order=1, eps0=0.1, alpha=0.01)),
])
def test_grammar(text, expected):
    g = riskbench.parse_guardrail(text)
    for key, value in expected.items():
        assert getattr(g, key) == value, key


@pytest.mark.parametrize("text,message", [
    ("toxicity tvar>=0",
     "guardrail 'toxicity tvar>=0': expected TARGET:CHECK (a metric or 'portfolio', a colon, a "
     "check) at character 17; e.g. 'toxicity:tvar@0.05>=-0.2' or "
     "'win:dominates(ref_model,order=2)'"),
    ("toxicity:tvar@0.05=>-0.2",
     "guardrail 'toxicity:tvar@0.05=>-0.2': expected a comparison (>=, <=, >, <) at character 19; "
     "e.g. 'toxicity:tvar@0.05>=-0.2' or 'win:dominates(ref_model,order=2)'"),
    ("toxicity:median>=0",
     "guardrail 'toxicity:median>=0': unknown measure 'median' at character 10; use one of mean, "
     "abs_semidev, std_semidev, gini, tvar, tail_gini, quantile, or dominates(MODEL)"),
    ("win:mean@0.1>=0",
     "guardrail 'win:mean@0.1>=0': 'mean' takes no @level at character 9; only tvar, tail_gini, "
     "quantile do, e.g. 'toxicity:tvar@0.05>=-0.2'"),
    ("win:tvar@1.5>=0",
     "guardrail 'win:tvar@1.5>=0': level 1.5 is not in (0, 1] at character 13; e.g. "
     "'toxicity:tvar@0.05>=-0.2' or 'win:dominates(ref_model,order=2)'"),
    ("win:tvar>=high",
     "guardrail 'win:tvar>=high': expected a number for the bound after '>=' at character 11; "
     "e.g. 'toxicity:tvar@0.05>=-0.2' or 'win:dominates(ref_model,order=2)'"),
    ("win:mean>=0.5 or more",
     "guardrail 'win:mean>=0.5 or more': unexpected text after the bound at character 15; e.g. "
     "'toxicity:tvar@0.05>=-0.2' or 'win:dominates(ref_model,order=2)'"),
    ("win:dominates(ref,level=2)",
     "guardrail 'win:dominates(ref,level=2)': unknown option 'level' in dominates(...) at "
     "character 19; options are order, eps0 and alpha"),
    ("win:dominates(ref",
     "guardrail 'win:dominates(ref': expected ',' or ')' in dominates(...) at character 18; e.g. "
     "'toxicity:tvar@0.05>=-0.2' or 'win:dominates(ref_model,order=2)'"),
    ("win:dominates(ref,order=3)", "guardrail 'win:dominates(ref,order=3)': order must be 1 or 2; "
                                   "got 3"),
    (":mean>=0", "guardrail ':mean>=0': missing the metric before ':' at character 1; e.g. "
                 "'toxicity:tvar@0.05>=-0.2' or 'win:dominates(ref_model,order=2)'"),
])
def test_grammar_errors(text, message):
    with pytest.raises(InputError) as info:
        riskbench.parse_guardrail(text)
    assert str(info.value) == message


def _table():
    rng = np.random.default_rng(0)
    rows = []
    for model, quality, tox in (("safe", 0.7, 0.05), ("risky", 0.9, 0.5), ("dull", 0.3, 0.05),
                                ("ref", 0.5, 0.05)):
        for t in range(200):
            rows.append((model, t, "quality", quality + rng.normal(0, 0.1)))
            rows.append((model, t, "toxicity", tox + abs(rng.normal(0, 0.05))))
    frame = pd.DataFrame(rows, columns=["model", "item", "metric", "value"])
    return riskbench.read_scores(frame, higher_is_better={"toxicity": False})


def test_select_excludes_with_measured_values():
    table = _table()
    sel = riskbench.select(table, guardrails=["toxicity:tvar@0.05>=-0.3",
                                              "quality:dominates(ref)"],
                           n_resamples=100, seed=0)
    excluded = sel.excluded
    assert set(excluded) == {"risky", "dull", "ref"}
    (tox,) = excluded["risky"]
    assert tox.guardrail == "toxicity:tvar@0.05>=-0.3" and tox.measured < -0.5
    assert excluded["dull"][0].guardrail == "quality:dominates(ref)"
    assert "the reference model itself" in excluded["ref"][0].detail
    assert sel.chosen == "safe" and sel.eligible == ("safe",) and sel.ranking is None
    frame = sel.to_frame()
    assert frame.iloc[0]["model"] == "safe" and bool(frame.iloc[0]["chosen"])


def test_select_ranks_eligible_by_rssd_of_portfolio():
    table = _table()
    sel = riskbench.select(table, guardrails=["toxicity:mean>=-0.2"], n_resamples=100, seed=1)
    assert set(sel.eligible) == {"safe", "dull", "ref"}
    assert sel.ranking is not None and sel.ranking.portfolio.kind == "ic"
    assert sel.ranking.models == ("safe", "ref", "dull") and sel.chosen == "safe"
    none = riskbench.select(table, guardrails=["quality:mean>=5"], n_resamples=20, seed=0)
    assert none.chosen is None and none.eligible == ()


def test_select_target_errors():
    table = _table()
    with pytest.raises(InputError) as info:
        riskbench.select(table, guardrails=["tox:mean>=0"], n_resamples=20)
    assert str(info.value) == ("guardrail 'tox:mean>=0': no metric 'tox' in the table (metrics: "
                               "quality, toxicity); use one of them or 'portfolio'")
    with pytest.raises(InputError, match="no model 'gpt' in the table"):
        riskbench.select(table, guardrails=["quality:dominates(gpt)"], n_resamples=20)


def test_dominates_tests_one_direction_and_says_which_test_decided():
    table = _table()
    sel = riskbench.select(table, guardrails=["quality:dominates(ref,order=1)"],
                           n_resamples=100, seed=0)
    checks = {c.model: c for c in sel.checks}
    safe = checks["safe"]
    # one hypothesis per candidate ("candidate beats ref"), Bonferroni over the 3 candidates
    assert safe.passed and safe.decided_by in ("dominance", "equality", "both")
    assert "level 0.9833" in safe.detail and safe.detail.count("safe beats ref") == 1
    dull = checks["dull"]
    assert not dull.passed and "dull does not beat ref: the dominance test decided" in dull.detail
    assert dull.upper_bound >= 0.25  # FAIL with a bound above eps0: the dominance test
    # the level each candidate is tested at, stated once; no "corrected" p-value of a
    # one-hypothesis family (it read as the raw p against a different alpha than the header)
    for check in (safe, dull):
        assert "Bonferroni over the 3 candidate models: each tested at alpha / 3 = 0.0167" \
            in check.detail
        assert "corrected" not in check.detail and "alpha = 0.0166667;" in check.detail
    assert "each tested at alpha / 3" in sel.to_dict()["guardrails"][0]["meaning"]


def test_no_decision_chooses_nothing():
    rng = np.random.default_rng(5)
    rows = [(m, t, "quality", rng.normal(0, 1)) for m in ("a", "b", "c") for t in range(40)]
    table = riskbench.read_scores(pd.DataFrame(rows, columns=["model", "item", "metric",
                                                              "value"]))
    sel = riskbench.select(table, n_resamples=50, seed=0)
    assert sel.no_decision and sel.chosen is None
    assert sel.decision == "no decision: the data do not separate these models"
    d = sel.to_dict()
    assert d["chosen"] is None and d["no_decision"] is True
    json.loads(json.dumps(d, allow_nan=False))


def test_a_model_picked_from_a_larger_top_set_is_not_called_singled_out():
    """A new user's finding: 'Chosen model' named one of 4 models the tests do not separate.
    The choice stays (the ranking's order), but the decision says how it was made."""
    rng = np.random.default_rng(0)
    close = {f"m{a}": rng.normal(0.02 * a, 1, 60) for a in range(3)}
    close["far"] = rng.normal(-3, 1, 60)
    sel = riskbench.select(close, n_resamples=60, seed=0)
    assert sel.chosen is not None and len(sel.top_set) > 1
    assert not sel.chosen_is_unique and sel.to_dict()["chosen_is_unique"] is False
    assert f"a top set of {len(sel.top_set)} models that no test separates" in sel.decision
    apart = {"best": rng.normal(3, 1, 60), "a": rng.normal(0, 1, 60), "b": rng.normal(0, 1, 60)}
    sel = riskbench.select(apart, n_resamples=60, seed=0)
    assert sel.top_set == ("best",) and sel.chosen_is_unique
    assert sel.decision == "chosen: best"
