"""Mean-risk scores: closed forms, loop oracles, SSD consistency (METHOD.md 8)."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import riskbench
from riskbench.errors import InputError
from riskbench.risk import mean_risk_scores

from oracle import gini_loop, lorenz_loop


def _scores(x, **kw):
    return {k: float(v) for k, v in mean_risk_scores(np.sort(np.asarray(x, float)), **kw).items()}


def test_hand_computed_values():
    s = _scores(np.arange(1.0, 101.0), p=0.05, beta=0.05)
    assert s["mean"] == pytest.approx(50.5)
    assert s["tvar"] == pytest.approx(3.0)  # mean of 1..5
    s = _scores(np.arange(1.0, 101.0), p=0.055)
    assert s["tvar"] == pytest.approx((15 + 0.5 * 6) / 100 / 0.055)  # half of the 6th item
    s = _scores([0.0, 1.0])
    assert s["gini"] == pytest.approx(0.5 - 0.25)  # Gamma = (1/2) E|X - X'| = 1/4
    assert s["abs_semidev"] == pytest.approx(0.5 - 0.25)  # E(0.5 - X)_+ = 1/4
    assert s["std_semidev"] == pytest.approx(0.5 - np.sqrt(0.125))


@given(st.lists(st.floats(-100, 100), min_size=1, max_size=30), st.floats(0.01, 1.0),
       st.floats(0.01, 1.0))
def test_against_loops(x, p, beta):
    s = _scores(x, p=p, beta=beta)
    mu = np.mean(x)
    assert s["gini"] == pytest.approx(mu - gini_loop(x), abs=1e-9)
    assert s["tvar"] == pytest.approx(lorenz_loop(x, p) / p, abs=1e-9)
    grid = np.linspace(0, beta, 4001)
    g = np.array([lorenz_loop(x, t) for t in grid])
    area = np.sum((g[1:] + g[:-1]) / 2) * (beta / 4000)  # G is piecewise linear: near exact
    assert s["tail_gini"] == pytest.approx(2 * area / beta**2, abs=1e-3 * (1 + np.abs(x).max()))


@given(st.lists(st.floats(-100, 100), min_size=1, max_size=30))
def test_limits(x):
    s = _scores(x, p=1.0, beta=1.0)
    assert s["tvar"] == pytest.approx(s["mean"], abs=1e-9)  # TVaR_1 = mean
    assert s["tail_gini"] == pytest.approx(s["gini"], abs=1e-9)  # 2 int_0^1 G = mu - Gamma


@given(st.lists(st.floats(-50, 50), min_size=2, max_size=30),
       st.lists(st.floats(0, 10), min_size=2, max_size=30), st.floats(1.0, 3.0))
def test_ssd_implies_mean_risk_order(x, gaps, spread):
    # y1: x lowered item by item (FSD, so SSD); y2: a mean-preserving spread of x (SSD only)
    n = min(len(x), len(gaps))
    x = np.array(x[:n])
    y1 = x - np.array(gaps[:n])
    y2 = x.mean() + spread * (x - x.mean())
    for y in (y1, y2):
        assume(not np.allclose(np.sort(x), np.sort(y)))
        assert riskbench.violation_ratio(x, y, order=2) == pytest.approx(0.0, abs=1e-9)
        sx, sy = _scores(x, p=0.2, beta=0.3), _scores(y, p=0.2, beta=0.3)
        for name in riskbench.RISK_MEASURES:
            assert sx[name] >= sy[name] - 1e-9 * (1 + abs(sy[name])), name


def test_mean_risk_api_on_table_and_frame():
    table = riskbench.load_demo()
    result = riskbench.mean_risk(table, metric="length", p=0.1)
    frame = result.to_frame()
    assert list(frame.columns) == ["model", *riskbench.RISK_MEASURES]
    assert len(frame) == 48
    # lengths are lower-is-better: oriented scores are negated lengths
    raw = table.matrix("length")
    np.testing.assert_allclose(frame["mean"], -raw.mean(axis=1).to_numpy())
    assert (frame["tvar"] <= frame["mean"]).all()


def test_mean_risk_on_one_sample():
    result = riskbench.mean_risk(np.array([1.0, 2.0, 3.0, 4.0]), p=0.5)
    assert result.scores["tvar"][0] == pytest.approx(1.5)


@pytest.mark.parametrize("p", [0, 1.5, "0.1", True])
def test_bad_level(p):
    with pytest.raises(InputError, match=r"p must be a number in \(0, 1\]"):
        riskbench.mean_risk([1.0, 2.0], p=p)
