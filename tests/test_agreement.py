"""Baselines and agreement: Mean Win Rate, Borda, Kendall tau, stability (METHOD.md 9-10)."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

import riskbench
from riskbench.errors import InputError

# 3 models x 2 items, one metric; hand-checked below
TINY = {"a": [3.0, 1.0], "b": [2.0, 1.0], "c": [1.0, 5.0]}


def test_mean_win_rate_item_reading_hand_checked():
    # item 0: a beats b, c (1.0); b beats c (0.5); c (0.0)
    # item 1: a ties b, both lose to c: a = b = 0.25, c = 1.0
    wr = riskbench.mean_win_rate(TINY)
    np.testing.assert_allclose(wr.values, [(1 + 0.25) / 2, (0.5 + 0.25) / 2, (0 + 1) / 2])
    assert wr.ranked == ("a", "c", "b")


def test_mean_win_rate_helm_reading_hand_checked():
    frame = pd.DataFrame({
        "model": ["a", "a", "b", "b", "c", "c"] * 2,
        "item": ["1", "2"] * 6,
        "metric": ["acc"] * 6 + ["tox"] * 6,
        "value": [1, 1, 0, 1, 0, 0, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1],
    })
    table = riskbench.read_scores(frame, higher_is_better={"tox": False})
    wr = riskbench.mean_win_rate(table, reading="helm")
    # acc means a 1, b .5, c 0 -> 1, .5, 0; tox (lower better) a .5, b .1, c .1 -> 0, .75, .75
    np.testing.assert_allclose(wr.values, [0.5, 0.625, 0.375])
    with pytest.raises(InputError, match="reading must be one of 'item', 'helm'"):
        riskbench.mean_win_rate(table, reading="arena")


def test_borda_hand_checked():
    def fake(order):
        return riskbench.rank({m: np.arange(10.0) + 10 * (len(order) - i)
                               for i, m in enumerate(order)}, n_resamples=20, seed=0)

    r1, r2 = fake(["a", "b", "c"]), fake(["b", "a", "c"])
    assert r1.models == ("a", "b", "c") and r2.models == ("b", "a", "c")
    agg = riskbench.borda({"m1": r1, "m2": r2})
    # points: a 2 + 1 = 3, b 1 + 2 = 3, c 0 -> a and b tie
    assert agg.models == ("a", "b", "c")
    assert agg.points.tolist() == [3, 3, 0] and agg.group.tolist() == [1, 1, 2]
    frame = agg.to_frame()
    assert frame["rank_m2"].tolist() == [2, 1, 3]


def test_rank_without_portfolio_is_borda():
    result = riskbench.rank(riskbench.load_demo(), portfolio=None, n_resamples=20, seed=0)
    assert isinstance(result, riskbench.BordaRanking)
    assert set(result.per_metric) == {"length", "offensive", "win"}
    k = len(result.models)
    assert result.points.sum() == 3 * k * (k - 1) // 2


def test_kendall_tau_equals_scipy():
    rng = np.random.default_rng(0)
    models = [f"m{i}" for i in range(12)]
    a = list(rng.permutation(models))
    b = list(rng.permutation(models))[:10]  # only common models count
    tau, p, n = riskbench.kendall_tau(a, b)
    common = [m for m in a if m in b]
    ref = kendalltau([a.index(m) for m in common], [b.index(m) for m in common])
    assert n == 10 and tau == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    agreement = riskbench.compare_rankings({"a": a, "b": b, "a again": a})
    assert agreement.tau[0, 2] == pytest.approx(1.0) and agreement.tau[0, 1] == pytest.approx(tau)
    assert agreement.to_frame().loc["b", "a"] == pytest.approx(tau)


def test_kendall_reads_scores_mappings():
    tau, _, _ = riskbench.kendall_tau({"x": 3, "y": 2, "z": 1}, ["x", "y", "z"])
    assert tau == pytest.approx(1.0)
    with pytest.raises(InputError, match="Kendall tau needs two"):
        riskbench.kendall_tau(["x"], ["x"])


def test_stability_curve():
    table = riskbench.load_demo().select(metrics=["win"],
                                         models=riskbench.load_demo().models[:8])
    curve = riskbench.stability(
        table, lambda t, s: riskbench.rank(t, seed=s, n_resamples=30), sizes=[20, 799],
        repeats=3, seed=1)
    frame = curve.to_frame()
    assert frame["items"].tolist() == [20, 799]
    assert frame["tau_mean"].iloc[1] == pytest.approx(1.0)
    assert -1 <= frame["tau_mean"].iloc[0] < 1
    with pytest.raises(InputError, match=r"between 2 and the number of items \(799\)"):
        riskbench.stability(table, lambda t, s: None, sizes=[900])


def test_stability_gathers_the_warnings_of_its_rankings():
    """One warning per kind, counted, instead of one per subset ranking (a report with
    --stability printed 40 near-identical warnings and filled the report's box)."""
    import warnings

    from riskbench.errors import DegenerateDataWarning

    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    frame = pd.DataFrame([{"model": m, "sample_id": t, "metric": "s", "value": v}
                          for m, vals in (("a", x), ("b", x), ("c", x + 1)) for t, v in
                          enumerate(vals)])
    table = riskbench.read_scores(frame)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        riskbench.stability(table, lambda t, s: riskbench.rank(t, n_resamples=20, seed=s),
                            sizes=[20, 60], repeats=3, seed=0)
    ours = [w for w in caught if issubclass(w.category, DegenerateDataWarning)]
    assert len(ours) == 1
    assert "the 7 rankings of the stability curve" in str(ours[0].message)
    assert "raised 7 DegenerateDataWarning(s)" in str(ours[0].message)
    # the first message is quoted whole (it was cut at 300 characters, mid-word)
    assert str(ours[0].message).endswith("no test can separate them")


def test_default_stability_sizes_keep_points_below_all_items():
    """With 10 items the defaults were [10] alone: every 'subset' the whole table."""
    from riskbench.agreement import default_sizes

    assert default_sizes(805) == [50, 100, 200, 400, 805]
    assert default_sizes(120) == [50, 100, 120]
    assert default_sizes(60) == [15, 30, 45, 60]
    assert default_sizes(10) == [2, 5, 7, 10]
    assert default_sizes(3) == [2, 3]
    assert default_sizes(2) == [2]


def test_stability_on_all_items_only_says_it_measures_no_item_choice():
    import warnings

    from riskbench.errors import DegenerateDataWarning

    table = riskbench.load_demo().select(metrics=["win"], models=riskbench.load_demo().models[:3],
                                         items=riskbench.load_demo().items()[:10])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        riskbench.stability(table, lambda t, s: riskbench.rank(t, seed=s, n_resamples=20),
                            sizes=[10], repeats=2, seed=0)
    messages = [str(w.message) for w in caught if w.category is DegenerateDataWarning]
    assert any("every stability size is all 10 items" in m and "[2, 5, 7]" in m
               for m in messages)
