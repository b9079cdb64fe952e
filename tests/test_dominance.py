"""Violation-ratio kernels: oracle agreement, closed forms (METHOD.md 12), properties."""

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.special import ndtri

import riskbench
from riskbench.dominance import one_vs_all, pairwise_ragged, pairwise_sorted, union_grid
from riskbench.errors import DegenerateDataWarning, InputError

from oracle import eps_loop, matrix_loop

ORDERS = (1, 2)


def _samples(rng, kind, size):
    if kind == "continuous":
        return rng.normal(size=size)
    if kind == "ties":  # 5-point Likert
        return rng.integers(1, 6, size=size).astype(float)
    if kind == "binary":
        return rng.integers(0, 2, size=size).astype(float)
    return rng.lognormal(sigma=1.5, size=size)  # heavy tail


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("kind", ["continuous", "ties", "binary", "heavy"])
@pytest.mark.parametrize("n,m", [(1, 1), (1, 7), (5, 5), (12, 12), (7, 13), (30, 45), (64, 20)])
def test_violation_ratio_matches_loop(order, kind, n, m):
    rng = np.random.default_rng(hash((order, kind, n, m)) % 2**32)
    x, y = _samples(rng, kind, n), _samples(rng, kind, m) + rng.normal(0, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        fast = riskbench.violation_ratio(x, y, order=order)
    assert fast == pytest.approx(eps_loop(x, y, order), abs=1e-12)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("kind", ["continuous", "ties", "binary"])
def test_pairwise_sorted_matches_loop_and_chunking(order, kind):
    rng = np.random.default_rng(7)
    b, k, n = 3, 6, 17
    q = np.sort(_samples(rng, kind, (b, k, n)) + rng.normal(0, 0.5, (1, k, 1)), axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        oracle = np.stack([matrix_loop(list(q[r]), order) for r in range(b)])
    fast, _ = pairwise_sorted(q, order)
    np.testing.assert_allclose(fast, oracle, atol=1e-12)
    # chunking: one pair-replicate row at a time gives bit-identical results
    tiny, _ = pairwise_sorted(q, order, chunk_elements=1)
    np.testing.assert_array_equal(tiny, fast)


@pytest.mark.parametrize("order", ORDERS)
def test_pairwise_ragged_matches_loop(order):
    rng = np.random.default_rng(3)
    sizes = [4, 9, 6, 9]
    samples = [np.sort(rng.normal(a * 0.2, 1, size=(2, n)), axis=-1) for a, n in enumerate(sizes)]
    fast, _ = pairwise_ragged(samples, order)
    for r in range(2):
        oracle = matrix_loop([s[r] for s in samples], order)
        np.testing.assert_allclose(fast[r], oracle, atol=1e-12)


def test_union_grid_is_exact():
    ix, iy, h = union_grid(4, 6)
    # breakpoints 1/6, 1/4, 1/3, 1/2, 2/3, 3/4, 5/6, 1
    np.testing.assert_allclose(np.cumsum(h), [1/6, 1/4, 1/3, 1/2, 2/3, 3/4, 5/6, 1])
    assert ix.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert iy.tolist() == [0, 1, 1, 2, 3, 4, 4, 5]


# ----------------------------------------------------------------------------- closed forms

def _normal_quantiles(n):
    return ndtri((np.arange(1, n + 1) - 0.5) / n)


def test_closed_form_shift_dominates_first_order():
    z = _normal_quantiles(1000)
    assert riskbench.violation_ratio(z + 0.5, z, order=1) == 0.0
    assert riskbench.violation_ratio(z, z + 0.5, order=1) == 1.0


def test_closed_form_spread_crosses_at_half_first_order():
    z = _normal_quantiles(1000)
    assert riskbench.violation_ratio(z, 2 * z, order=1) == pytest.approx(0.5, abs=1e-12)


def test_closed_form_smaller_spread_dominates_second_order():
    z = _normal_quantiles(1000)
    assert riskbench.violation_ratio(z, 2 * z, order=2) == pytest.approx(0.0, abs=1e-12)
    assert riskbench.violation_ratio(2 * z, z, order=2) == pytest.approx(1.0, abs=1e-12)


def test_closed_forms_on_random_draws():
    rng = np.random.default_rng(12)
    x, y = rng.normal(0, 1, 20000), rng.normal(0, 2, 20000)
    assert riskbench.violation_ratio(x, y, order=1) == pytest.approx(0.5, abs=0.03)
    assert riskbench.violation_ratio(x, y, order=2) < 0.01
    assert riskbench.violation_ratio(rng.normal(0.5, 1, 20000), x, order=1) < 0.01


def test_second_order_of_normal_curves_matches_integral():
    # eps_2(N(0,1), N(mu,1)) from the exact G: G_Y - G_X = mu p, so eps = 1 for mu > 0.
    z = _normal_quantiles(500)
    assert riskbench.violation_ratio(z, z + 0.3, order=2) == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------- properties

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
sample = st.lists(finite, min_size=1, max_size=25)


@given(sample, sample, st.sampled_from(ORDERS))
def test_symmetry(x, y, order):
    assume(sorted(x) != sorted(y) or len(x) != len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        a = riskbench.violation_ratio(x, y, order=order)
        b = riskbench.violation_ratio(y, x, order=order)
    assert 0.0 <= a <= 1.0
    if a != 0.5 or b != 0.5:
        assert a + b == pytest.approx(1.0, abs=1e-9)


@given(st.lists(st.lists(finite, min_size=6, max_size=6), min_size=2, max_size=7),
       st.sampled_from(ORDERS))
def test_one_vs_all_averages_to_half(rows, order):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        eps = riskbench.violation_matrix(np.array(rows), order=order)
    assert one_vs_all(eps).mean() == pytest.approx(0.5, abs=1e-12)


@given(sample, st.lists(st.floats(0, 50), min_size=1, max_size=25))
def test_fsd_implies_ssd(x, gaps):
    # y is x lowered item by item, so x dominates y at first order, hence at second order
    n = min(len(x), len(gaps))
    x = np.array(x[:n])
    y = x - np.array(gaps[:n])
    # gaps below 1e-154 of the data's range vanish when squared: numerically identical data
    assume(np.any(x - y > 1e-9 * (1 + np.abs(x).max())))
    assert riskbench.violation_ratio(x, y, order=1) == 0.0
    assert riskbench.violation_ratio(x, y, order=2) == pytest.approx(0.0, abs=1e-12)


grid_sample = st.lists(st.integers(-1000, 1000).map(lambda v: v / 8), min_size=1, max_size=25)


@given(grid_sample, grid_sample, st.floats(0.01, 100), st.floats(-100, 100),
       st.sampled_from(ORDERS))
def test_invariant_to_common_affine_map(x, y, scale, shift, order):
    assume(sorted(x) != sorted(y) or len(x) != len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        base = riskbench.violation_ratio(x, y, order=order)
        moved = riskbench.violation_ratio(np.array(x) * scale + shift,
                                          np.array(y) * scale + shift, order=order)
    assert moved == pytest.approx(base, abs=1e-6)


# ----------------------------------------------------------------------------- deepsig

@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_deepsig_within_grid_error(seed):
    pytest.importorskip("deepsig")
    from deepsig.aso import compute_violation_ratio

    rng = np.random.default_rng(seed)
    n, m = 60 + 10 * seed, 45
    x, y = rng.normal(0.2, 1.0, n), rng.normal(0.0, 1.3, m)
    dt = 1e-4
    theirs = compute_violation_ratio(scores_a=x, scores_b=y, dt=dt)
    ours = riskbench.violation_ratio(x, y, order=1)
    # deepsig integrates on the grid dt, 2dt, ... (and drops the first point of the numerator):
    # each of the n + m steps of the quantile functions is misplaced by at most dt, so the
    # numerator and denominator are each off by at most (n + m + 2) dt max(d^2).
    t = np.arange(dt, 1, dt)
    d = np.sort(y)[np.clip(np.ceil(m * t).astype(int) - 1, 0, m - 1)] - \
        np.sort(x)[np.clip(np.ceil(n * t).astype(int) - 1, 0, n - 1)]
    slack = (n + m + 2) * dt * np.max(d**2)
    den = np.sum(d**2) * dt
    bound = slack * (1 + ours) / (den - slack)
    assert abs(ours - theirs) <= bound
    assert abs(ours - theirs) < 0.01


# ----------------------------------------------------------------------------- degenerate / errors

def test_identical_samples_warn_and_give_half():
    with pytest.warns(DegenerateDataWarning, match="identical empirical distributions"):
        assert riskbench.violation_ratio([1, 2, 3], [3, 2, 1], order=2) == 0.5


def test_constant_samples():
    assert riskbench.violation_ratio([1.0] * 5, [0.0] * 3, order=1) == 0.0
    assert riskbench.violation_ratio([0.0] * 5, [1.0] * 3, order=2) == 1.0


def test_violation_matrix_warns_for_identical_pair():
    with pytest.warns(DegenerateDataWarning, match=r"samples \[\(0, 2\)\] have identical"):
        eps = riskbench.violation_matrix([[1, 2, 3], [0, 1, 2], [3, 1, 2]], order=1)
    assert eps[0, 2] == 0.5 and np.isnan(eps[0, 0])


@pytest.mark.parametrize("bad,message", [
    ([], "x is empty; a sample needs at least one score"),
    ([1.0, float("nan")], "x has 1 NaN or infinite value(s) (positions 1); drop or fix them first"),
    ([[1.0, 2.0]], "x must be 1-D; got an array of shape (1, 2)"),
    (["a"], "x must be a 1-D array of numbers (could not convert string to float: 'a')"),
])
def test_bad_samples(bad, message):
    with pytest.raises(InputError) as info:
        riskbench.violation_ratio(bad, [1.0])
    assert str(info.value) == message


def test_bad_order():
    with pytest.raises(InputError) as info:
        riskbench.violation_ratio([1], [2], order=3)
    assert str(info.value) == ("order must be 1 (first-order dominance, quantile curves) or 2 "
                               "(second-order, integrated quantile curves); got 3")
