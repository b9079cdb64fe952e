"""The equality gate of the dominance tests (riskbench.equality): oracle and edge cases."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import f as f_dist

import riskbench
from riskbench.backends import Resampler
from riskbench.equality import EqualityAccumulator, _legendre, legendre_features, pooled_mid_ranks


def test_legendre_components_are_orthonormal_on_the_unit_interval():
    def product(u, a, b):
        row = _legendre(np.array([u]), 4)[0]
        return row[a] * row[b]

    for a in range(4):
        for b in range(4):
            value, _ = integrate.quad(product, 0, 1, args=(a, b))
            assert value == pytest.approx(1.0 if a == b else 0.0, abs=1e-10)


def test_mid_ranks_share_ties():
    u = pooled_mid_ranks([np.array([1.0, 2.0, 2.0]), np.array([2.0, 3.0])])
    # pooled sorted: 1, 2, 2, 2, 3 -> F(1) = 1/5; the three 2s share (1 + 4) / 2 / 5
    np.testing.assert_allclose(u[0], [0.1, 0.5, 0.5])
    np.testing.assert_allclose(u[1], [0.5, 0.9])


def _oracle(values, counts, units):
    """Plain loops: replicate means by expanding the drawn positions, covariance, pinv Wald."""
    feats = legendre_features(values)
    k, width = len(values), feats[0].shape[1]
    b = counts[0].shape[0]
    reps = np.zeros((b, k, width))
    for r in range(b):
        for a in range(k):
            c = counts[0][r] if len(counts) == 1 else counts[a][r]
            drawn = [t for t in range(c.size) for _ in range(int(c[t]))]
            reps[r, a] = np.mean([feats[a][t] for t in drawn], axis=0)
    out = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(k):
            if i == j:
                continue
            d = reps[:, i] - reps[:, j]
            cov = np.cov(d.T, ddof=1)
            s = feats[i].mean(axis=0) - feats[j].mean(axis=0)
            w = np.linalg.eigvalsh(cov)
            r_ = int((w > 1e-9 * w.max()).sum())
            stat = float(s @ np.linalg.pinv(cov, rcond=1e-9, hermitian=True) @ s)
            stat *= (units - 1) / units
            out[i, j] = f_dist.sf(stat * (units - r_) / (r_ * (units - 1)), r_, units - r_)
    return out


@pytest.mark.parametrize("design", ["paired", "independent"])
def test_pvalues_match_plain_loops_on_the_same_resamples(design):
    rng = np.random.default_rng(3)
    values = [rng.normal(0, 1, 40), rng.normal(0.3, 1, 40), rng.normal(0, 1.5, 40)]
    b = 60
    counts = Resampler((40, 40, 40), design, 5).counts(0, b)
    acc = EqualityAccumulator(legendre_features(values), b)
    acc.add(0, 25, [c[:25] for c in counts])
    acc.add(25, b, [c[25:] for c in counts])
    np.testing.assert_allclose(acc.pvalues(40), _oracle(values, counts, 40), rtol=1e-8)



def test_compiled_replicate_means_against_plain_dot_products_and_any_split():
    """The compiled means (4 x 4 blocks of products) equal plain dot products to rounding,
    and each replicate's means are the same bits however the replicates and features are
    split (blocks padded with zero rows), so they do not depend on the batch."""
    pytest.importorskip("numba")
    from riskbench.backends._numba import gate_means

    rng = np.random.default_rng(4)
    b, w, n = 11, 7, 203
    counts = rng.multinomial(n, np.full(n, 1 / n), size=b).astype(np.int64)
    features = rng.normal(size=(w, n))
    out = np.empty((b, w))
    gate_means(counts, features, out)
    plain = np.array([[sum(float(counts[r, t]) * features[f, t] for t in range(n)) / n
                       for f in range(w)] for r in range(b)])
    np.testing.assert_allclose(out, plain, rtol=1e-13, atol=1e-15)
    for cuts in ([0, 1, 11], [0, 3, 4, 9, 11], [0, 5, 6, 7, 11]):
        split = np.empty((b, w))
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=False):
            gate_means(counts[lo:hi], features, split[lo:hi])
        np.testing.assert_array_equal(split, out)
    for f in range(w):  # one feature alone, and the last three together
        alone = np.empty((b, 1))
        gate_means(counts, features[f:f + 1].copy(), alone)
        np.testing.assert_array_equal(alone[:, 0], out[:, f])
    last = np.empty((b, 3))
    gate_means(counts, features[4:].copy(), last)
    np.testing.assert_array_equal(last, out[:, 4:])

def test_bootstrap_carries_the_gate_of_its_own_resamples():
    rng = np.random.default_rng(4)
    values = [rng.normal(0, 1, 50), rng.normal(0.5, 1, 50)]
    boot = riskbench.bootstrap(values, order=1, n_resamples=80, seed=9)
    counts = Resampler((50, 50), "paired", 9).counts(0, 80)
    np.testing.assert_allclose(boot.equality_pvalue, _oracle(values, counts, 50), rtol=1e-8)


def test_binary_scores_reduce_to_one_component():
    rng = np.random.default_rng(5)
    x = (rng.random((2, 400)) < [[0.5], [0.6]]).astype(float)
    acc = EqualityAccumulator(legendre_features(list(x)), 400)
    counts = Resampler((400, 400), "paired", 1).counts(0, 400)
    acc.add(0, 400, counts)
    d = acc.replicates[:, 0] - acc.replicates[:, 1]
    assert np.linalg.matrix_rank(np.cov(d.T), tol=1e-9 * np.abs(np.cov(d.T)).max()) == 1
    # one component: a z-test of the two proportions with the paired bootstrap variance
    p = acc.pvalues(400)[0, 1]
    assert 0 < p < 0.05


def test_identical_samples_cannot_be_told_apart_and_a_constant_margin_is_certain():
    x = np.arange(30.0)
    acc = EqualityAccumulator(legendre_features([x, x.copy(), x + 100.0]), 50)
    acc.add(0, 50, Resampler((30, 30, 30), "paired", 0).counts(0, 50))
    p = acc.pvalues(30)
    assert p[0, 1] == 1.0
    assert p[0, 2] == p[1, 2] == 2.0 ** -29  # far below: the floor of 30 units
    two = EqualityAccumulator(legendre_features([x, x + 100.0]), 50)
    two.add(0, 50, Resampler((30, 30), "paired", 0).counts(0, 50))
    # the same rank margin on every item: no variation, so only the floor 2^(1 - n) is left
    assert two.pvalues(30)[0, 1] == 2.0 ** -29
    assert two.pvalues()[0, 1] == 0.0


def test_one_unit_tells_nothing():
    acc = EqualityAccumulator(legendre_features([np.array([1.0]), np.array([2.0])]), 10)
    acc.add(0, 10, [np.ones((10, 1), dtype=np.int64)])
    assert acc.pvalues(1)[0, 1] == 1.0


def test_dominance_p_value_is_the_larger_of_the_two():
    rng = np.random.default_rng(6)
    x = [rng.normal(0, 1, 60), rng.normal(0.4, 1, 60), rng.normal(0.1, 1, 60)]
    for test in (riskbench.relative_test(x, order=2, seed=1, n_resamples=200),
                 riskbench.absolute_test(x, order=1, seed=1, n_resamples=200)):
        off = ~np.eye(3, dtype=bool)
        assert (test.pvalue[off] >= test.equality_pvalue[off]).all()
        raw = (riskbench.relative_test if test.test == "relative" else riskbench.absolute_test)(
            x, order=test.order, seed=1, n_resamples=200, scale="auto")
        np.testing.assert_array_equal(raw.pvalue, test.pvalue)
        assert "intersection-union" in test.h0


def test_identical_models_are_never_separated_at_any_level():
    # the gate's whole point: 20 copies of one law, no claim of dominance, either test
    rng = np.random.default_rng(7)
    x = rng.normal(size=(20, 100))
    rel = riskbench.relative_test(x, order=2, seed=2, n_resamples=200)
    assert rel.reject.sum() == 0 and math.isfinite(np.nanmin(rel.pvalue))


def test_multivariate_claims_are_gated_by_the_marginals_of_every_metric():
    from riskbench.portfolio import MetricCube

    rng = np.random.default_rng(8)
    values = rng.normal(size=(3, 60, 2))
    values[2] += 0.8  # model c is better on both metrics
    cube = MetricCube(("a", "b", "c"), tuple(f"q{t}" for t in range(60)), ("m1", "m2"), values,
                      {"m1": True, "m2": True})
    boot = riskbench.multivariate_bootstrap(cube, n_resamples=100, seed=0)
    gate = boot.equality_pvalue
    assert gate[0, 1] > 0.05 and gate[0, 2] < 0.01 and gate[1, 2] < 0.01
    test = riskbench.inference.relative_test_from(boot)
    assert (test.pvalue[~np.eye(3, dtype=bool)] >= gate[~np.eye(3, dtype=bool)]).all()
    assert not test.reject[0, 1] and not test.reject[1, 0]
    assert boot.shrink == 0.5 / 60 and np.isfinite(boot.eps_matrix_logit_sd[0, 1])
