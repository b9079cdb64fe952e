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


# ----------------------------------------------------------------------------- any scale
# Issue 16: a common map of all values onto [-1, 1] erased every difference below ~1e-16 of the
# largest value. Now every kernel works on each pair's differences, scaled by a power of two.

def _huge_next_to_small():
    return [0.1, 0.2, 0.3, 1e20], [0.5, 0.6, 0.7, 1e20]


@pytest.mark.parametrize("order", ORDERS)
def test_one_huge_shared_value_does_not_erase_the_others(order):
    x, y = _huge_next_to_small()
    assert riskbench.violation_ratio(x, y, order=order) == 1.0  # y dominates
    assert riskbench.violation_ratio(y, x, order=order) == 0.0
    for backend in ("numpy", "numba"):
        boot = riskbench.bootstrap([x, y], order=order, n_resamples=20, seed=0,
                                   backend=backend)
        assert boot.eps_matrix[0, 1] == 1.0
        reps = boot.eps_replicates  # every replicate: y still dominates, or both identical
        assert np.isin(reps[:, 0], (0.5, 1.0)).all() and (reps[:, 0] == 1.0).mean() > 0.5


_scale = st.integers(-300, 300)
_mantissa = st.floats(-9.99, 9.99, allow_nan=False, allow_infinity=False)
_value = st.one_of(st.builds(lambda m, e: m * 10.0**e, _mantissa, _scale),
                   st.sampled_from([0.0, 1.0, -1.0, 1e300, -1e300, 1.7e308, -1.7e308,
                                    5e-324, 1e-300]))
_wide = st.lists(_value, min_size=1, max_size=6)


def _check_exact(eps: float, exact, order: int) -> None:
    if exact is None:
        assert eps == 0.5
        return
    assert abs(eps - float(exact)) <= 1e-12
    if order == 1:  # the sign of each difference is exact, so exact 0 and 1 are kept
        assert (exact != 0 or eps == 0.0) and (exact != 1 or eps == 1.0)


@given(_wide, _wide, st.sampled_from(ORDERS))
def test_exact_at_any_scale_against_rational_arithmetic(x, y, order):
    """Values from 1e-300 to 1e300 (and the float limits) in one sample, any sizes."""
    from oracle import eps_exact

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        eps = riskbench.violation_ratio(x, y, order=order)
    _check_exact(eps, eps_exact(x, y, order), order)


@given(st.lists(st.lists(_value, min_size=5, max_size=5), min_size=2, max_size=4),
       st.sampled_from(ORDERS), st.sampled_from(["numpy", "numba"]))
def test_engines_exact_at_any_scale_on_the_data_and_a_replicate(rows, order, backend):
    """Point estimates and one bootstrap replicate of every engine against exact rationals."""
    from riskbench.backends import ReplicateJob, compute_batch

    from oracle import eps_exact

    values = [np.array(r) for r in rows]
    order_idx = [np.argsort(v, kind="stable") for v in values]
    job = ReplicateJob(tuple(v[o] for v, o in zip(values, order_idx, strict=True)),
                       tuple(order_idx), "paired", (order,), 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        point = riskbench.violation_matrix(values, order=order)
        rep = compute_batch(job, 0, 1, backend)[0, 0]
    counts = job.resampler().counts(0, 1)[0][0]
    drawn = [np.repeat(v, counts) for v in values]
    for i in range(len(rows)):
        for j in range(len(rows)):
            if i != j:
                _check_exact(point[i, j], eps_exact(values[i], values[j], order), order)
                _check_exact(rep[i, j], eps_exact(drawn[i], drawn[j], order), order)


def test_a_ranking_with_one_item_everyone_scores_1e16_is_not_collapsed():
    """The item every model scores 1e16 is the top of every model's sample: it changes no
    difference, so the tests must give the same numbers as with that item scored 2."""
    rng = np.random.default_rng(0)
    x = np.clip(rng.normal(np.linspace(0.2, 0.8, 4)[:, None], 0.2, (4, 60)), 0, 1)
    for backend in ("numpy", "numba"):
        runs = []
        for top in (2.0, 1e16):
            data = x.copy()
            data[:, 0] = top
            runs.append(riskbench.relative_test(data, order=(1, 2), n_resamples=100, seed=1,
                                                backend=backend))
        for ref, huge in zip(*runs, strict=True):
            np.testing.assert_allclose(huge.statistic, ref.statistic, atol=1e-12)
            np.testing.assert_allclose(huge.sd, ref.sd, atol=1e-12)
            np.testing.assert_array_equal(huge.reject, ref.reject)
            assert huge.reject.sum() >= 3  # the four models are separated, not "identical"


def test_rank_based_statistics_are_exact_at_any_scale():
    """Portfolios and the equality gate's features use only ranks: the same numbers after any
    increasing map of the scores, here one that spreads them from 1e-300 to 1e300."""
    from riskbench.equality import legendre_features
    from riskbench.portfolio import MetricCube, build_portfolio

    rng = np.random.default_rng(3)
    cube = rng.uniform(-1, 1, (4, 50, 3))
    wide = np.sign(cube) * 10.0 ** (300 * np.abs(cube))  # increasing, 1e-300 .. 1e300
    args = (tuple("abcd"), tuple(map(str, range(50))), ("u", "v", "w"))
    for kind in ("ic", "ec"):
        np.testing.assert_array_equal(build_portfolio(MetricCube(*args, wide), kind=kind).scores,
                                      build_portfolio(MetricCube(*args, cube), kind=kind).scores)
    for a, b in zip(legendre_features(list(wide[:, :, 0])), legendre_features(list(cube[:, :, 0])),
                    strict=True):
        np.testing.assert_array_equal(a, b)


@given(st.lists(_value, min_size=1, max_size=6))
def test_mean_risk_scores_exact_at_any_scale(x):
    """mean, Gini and TVaR scores against exact rationals, relative to the largest |value|."""
    from fractions import Fraction

    from riskbench.risk import mean_risk_scores

    xs = np.sort(np.array(x))
    n = xs.size
    exact = [Fraction(float(v)) for v in xs]
    mu = sum(exact) / n
    gini = sum((2 * r - n - 1) * v for r, v in enumerate(exact, 1)) / n**2
    got = mean_risk_scores(xs, p=0.5, beta=0.5)
    peak = max(abs(v) for v in exact) or Fraction(1)
    below = sum(exact[:n // 2]) + (exact[n // 2] / 2 if n % 2 else 0)  # G(1/2) * n
    for name, want in (("mean", mu), ("gini", mu - gini), ("tvar", below / n / Fraction(1, 2))):
        # relative to the largest |value|, and never finer than the smallest subnormal
        assert abs(Fraction(float(got[name])) - want) <= peak * Fraction(1, 10**12) \
            + Fraction(2) ** -1074, name
