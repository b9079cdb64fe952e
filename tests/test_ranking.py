"""Rankings: wins, tie groups, best set, criteria (METHOD.md 7)."""

import json
import warnings

import numpy as np
import pytest

import riskbench
from riskbench.errors import DegenerateDataWarning, InputError


def test_tie_groups_hand_checked():
    # rank order 0..4; 0 beats 2, 3, 4; 1 beats 3, 4; 2 beats 4
    reject = np.zeros((5, 5), dtype=bool)
    for i, j in [(0, 2), (0, 3), (0, 4), (1, 3), (1, 4), (2, 4)]:
        reject[i, j] = True
    groups = riskbench.tie_groups(np.arange(5), reject)
    # {0, 1}: 2 is separated from 0 -> new group {2, 3} (2 vs 3 not separated); 4 vs 2 -> new
    assert groups.tolist() == [1, 1, 2, 2, 3]


def test_separated_models_get_their_own_groups():
    rng = np.random.default_rng(0)
    data = {f"m{a}": rng.normal(2.0 * a, 1.0, 400) for a in range(4)}
    ranking = riskbench.rank(data, n_resamples=200, seed=1)
    assert ranking.models == ("m3", "m2", "m1", "m0")
    assert ranking.group.tolist() == [1, 2, 3, 4]
    assert ranking.wins.tolist() == [3, 2, 1, 0]
    assert ranking.best_set == ("m3",)
    assert ranking.decisions[0, 1:].all() and not ranking.decisions[1:, 0].any()


def test_indistinguishable_models_share_a_group():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 300)
    data = {"a": base + rng.normal(0, 0.01, 300), "b": base + rng.normal(0, 0.01, 300),
            "c": base - 3.0}
    ranking = riskbench.rank(data, n_resamples=200, seed=2)
    frame = ranking.to_frame()
    assert frame["group"].tolist() == [1, 1, 2]
    assert set(ranking.best_set) == {"a", "b"}
    assert list(frame.columns)[:7] == ["model", "rank", "group", "eps", "eps_sd", "wins", "best"]


def test_identical_models_warn():
    x = np.arange(20.0)
    with pytest.warns(DegenerateDataWarning, match="identical score distributions"):
        ranking = riskbench.rank({"a": x, "b": x[::-1].copy(), "c": x - 5}, n_resamples=50,
                                 seed=0)
    assert ranking.group.tolist()[:2] == [1, 1]


def test_rank_orders_by_wins_then_eps():
    rng = np.random.default_rng(4)
    data = {f"m{a}": rng.normal(0.05 * a, 1.0, 100) for a in range(5)}
    ranking = riskbench.rank(data, n_resamples=100, seed=0)
    keys = list(zip(-ranking.wins, ranking.eps, strict=True))
    assert keys == sorted(keys)


def test_absolute_test_ranking_and_dict():
    rng = np.random.default_rng(5)
    data = {f"m{a}": rng.normal(a, 1.0, 200) for a in range(3)}
    ranking = riskbench.rank(data, test="absolute", order=1, n_resamples=100, seed=3)
    d = ranking.to_dict()
    json.dumps(d)
    assert d["test"] == "absolute" and d["order"] == 1 and d["eps0"] == 0.25 and d["seed"] == 3
    assert [r["model"] for r in d["ranking"]] == ["m2", "m1", "m0"]
    assert "eps-FSD" in d["h0"]


def test_mean_risk_criterion():
    rng = np.random.default_rng(6)
    # same mean, different spread: the tail criterion prefers the narrow model
    data = {"narrow": rng.normal(0, 0.5, 500), "wide": rng.normal(0, 3.0, 500)}
    ranking = riskbench.rank(data, criterion="tvar", p=0.1, n_resamples=200, seed=0)
    assert ranking.models[0] == "narrow" and ranking.wins[0] == 1
    assert "score_tvar" in ranking.to_frame().columns
    with pytest.raises(InputError, match="has no absolute test"):
        riskbench.rank(data, criterion="tvar", test="absolute")


def test_lower_is_better_metric_is_oriented():
    table = riskbench.load_demo()
    ranking = riskbench.rank(table, metric="length", n_resamples=50, seed=0)
    means = ranking.to_frame()["mean"]
    # the shortest answers come first, in the metric's own units
    assert means.iloc[0] < means.iloc[-1]
    assert means.iloc[0] > 0
    assert any("lower-is-better" in note for note in ranking.notes)


def test_ranking_with_independent_design_on_ragged_table():
    rng = np.random.default_rng(8)
    data = {"a": rng.normal(1, 1, 80), "b": rng.normal(0, 1, 60), "c": rng.normal(0, 1, 70)}
    ranking = riskbench.rank(data, design="independent", n_resamples=100, seed=0)
    assert ranking.models[0] == "a"
    assert dict(zip(ranking.models, ranking.n_items, strict=True)) == {"a": 80, "b": 60, "c": 70}


def test_samples_require_metric_for_multi_metric_table():
    with pytest.raises(InputError) as info:
        riskbench.load_demo().samples()
    assert str(info.value) == ("riskbench demo (AlpacaEval 2.0): the table has 3 metrics (length, "
                               "offensive, win); choose one with metric= (CLI: --metric)")


def test_same_seed_same_ranking():
    rng = np.random.default_rng(9)
    data = {f"m{a}": rng.normal(0.1 * a, 1.0, 120) for a in range(6)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = riskbench.rank(data, n_resamples=100, seed=7, batch=3).to_frame()
        b = riskbench.rank(data, n_resamples=100, seed=7).to_frame()
    assert a.equals(b)


def test_results_carry_version_seed_and_input_checksum():
    table = riskbench.load_demo().select(models=riskbench.load_demo().models[:4])
    d = riskbench.rank(table, metric="win", n_resamples=20, seed=3).to_dict()
    assert d["seed"] == 3 and d["riskbench_version"] == riskbench.__version__
    assert d["input_sha256"] == table.checksum and len(table.checksum) == 64
    frame = riskbench.read_scores(table.to_frame(), higher_is_better=table.higher_is_better)
    again = riskbench.read_scores(table.to_frame(), higher_is_better=table.higher_is_better)
    assert frame.checksum == again.checksum  # a DataFrame gets a checksum of its content
