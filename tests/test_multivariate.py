"""Multivariate first-order dominance by entropic OT (METHOD.md 13) against independent oracles.

Oracles: eps_1 of section 3 (one metric), a linear program for unregularised OT, a direct
maximisation of the entropic dual, closed-form shifted copies, and a plain per-replicate loop
over the Resampler's draws (each resample written out as repeated points).
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linprog, minimize

import riskbench
from riskbench.backends import Resampler
from riskbench.dominance import one_vs_all
from riskbench.errors import DegenerateDataWarning, InputError
from riskbench.inference import _difference_sd, absolute_test_from, relative_test_from
from riskbench.multivariate import (
    ConvergenceWarning,
    MultivariatePortfolio,
    _cost,
    _kernel,
    _sinkhorn,
    _sinkhorn_replicates,
    _Solution,
    build_multivariate,
    entropic_ot,
    multivariate_bootstrap,
    ot_violation_ratio,
)
from riskbench.portfolio import MetricCube


def cost_loop(x, y, power=2, smooth=None):
    """c[s][t] = sum_d h(y[t, d] - x[s, d]), one entry at a time."""
    out = np.empty((len(x), len(y)))
    for s in range(len(x)):
        for t in range(len(y)):
            total = 0.0
            for d in range(x.shape[1]):
                z = float(y[t, d] - x[s, d])
                h = max(z, 0.0) if smooth is None else math.log1p(math.exp(smooth * z)) / smooth
                total += h ** power
            out[s, t] = total
    return out


def lp_ot(cost):
    """Unregularised OT with uniform marginals by linear programming (HiGHS)."""
    n, m = cost.shape
    rows = np.kron(np.eye(n), np.ones(m))  # sum_t pi[s, t] = 1/n
    cols = np.kron(np.ones(n), np.eye(m))  # sum_s pi[s, t] = 1/m
    res = linprog(cost.ravel(), A_eq=np.vstack([rows, cols]),
                  b_eq=np.concatenate([np.full(n, 1 / n), np.full(m, 1 / m)]),
                  bounds=(0, None), method="highs")
    assert res.status == 0
    return res.fun


def entropic_dual(cost, reg, a=None, b=None):
    """Entropic OT by maximising its smooth concave dual with L-BFGS (a few points only)."""
    n, m = cost.shape
    a = np.full(n, 1 / n) if a is None else a
    b = np.full(m, 1 / m) if b is None else b
    log_ab = np.log(a)[:, None] + np.log(b)[None, :]

    def negative(z):
        f, g = z[:n], z[n:]
        e = np.exp(log_ab + (f[:, None] + g[None, :] - cost) / reg)
        value = a @ f + b @ g - reg * e.sum() + reg
        return -value, -np.concatenate([a - e.sum(axis=1), b - e.sum(axis=0)])

    res = minimize(negative, np.zeros(n + m), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-13, "ftol": 1e-15, "maxiter": 20000})
    return -res.fun


def cube_of(values):
    k, n, m = values.shape
    metrics = tuple(f"m{u}" for u in range(m))
    return MetricCube(tuple(f"model{a}" for a in range(k)), tuple(str(t) for t in range(n)),
                      metrics, values, dict.fromkeys(metrics, True))


def small_cube(k=4, n=30, m=3, seed=0):
    rng = np.random.default_rng(seed)
    skill = np.linspace(0, 0.6, k)[:, None, None]
    return rng.normal(size=(k, n, m)) + skill + 0.5 * rng.normal(size=(1, n, 1))


# ----------------------------------------------------------------------------- cost

@pytest.mark.parametrize("power, smooth", [(1, None), (2, None), (1, 3.0), (2, 0.5)])
def test_cost_matches_the_loop(power, smooth):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    np.testing.assert_allclose(_cost(x, y, power, smooth), cost_loop(x, y, power, smooth),
                               rtol=1e-13, atol=1e-15)


# ----------------------------------------------------------------------------- oracle 1

def test_one_metric_reduces_to_eps1_as_reg_shrinks():
    """One metric, power 2, hinge: OT_0 <= OT_reg <= OT_0 + reg log n (KL <= log n), and OT_0
    is the monotone coupling, so |eps_reg - eps_1| <= reg log n / (OT_0(P,Q) + OT_0(Q,P))."""
    rng = np.random.default_rng(3)
    n = 20
    x, y = rng.normal(0, 1, n), rng.normal(0.3, 1.5, n)
    eps1 = riskbench.violation_ratio(x, y, order=1)
    total = np.mean((np.sort(y) - np.sort(x)) ** 2)
    errors = []
    for reg in (1e-1, 1e-2, 1e-3):
        err = abs(ot_violation_ratio(x, y, reg=reg, normalise=False) - eps1)
        assert err <= reg * math.log(n) / total + 1e-5, reg
        errors.append(err)
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 2e-3


def test_one_metric_normalised_matches_eps1_of_the_ecdf_scores():
    rng = np.random.default_rng(4)
    x, y = rng.exponential(1, 15), rng.exponential(1.6, 15)
    v = riskbench.portfolio.pooled_ecdf(np.concatenate([x, y])[:, None])[:, 0] / 30
    eps1 = riskbench.violation_ratio(v[:15], v[15:], order=1)
    total = np.mean((np.sort(v[15:]) - np.sort(v[:15])) ** 2)
    reg = 1e-4
    eps = ot_violation_ratio(x, y, reg=reg)
    assert abs(eps - eps1) <= reg * math.log(15) / total + 1e-5


# ----------------------------------------------------------------------------- oracle 2

@pytest.mark.parametrize("n, m, d, power", [(6, 6, 2, 2), (5, 7, 3, 1), (8, 4, 1, 2)])
def test_unregularised_ot_against_linear_programming(n, m, d, power):
    rng = np.random.default_rng(n * m * d)
    x, y = rng.uniform(size=(n, d)), rng.uniform(size=(m, d)) + 0.1
    exact = lp_ot(cost_loop(x, y, power))
    bound = math.log(min(n, m))  # KL(pi | a x b) <= min(H(a), H(b))
    gaps = []
    for reg in (1e-1, 1e-2, 1e-3):
        value = entropic_ot(x, y, power=power, reg=reg, normalise=False, tol=1e-9)
        assert exact - 1e-9 <= value <= exact + reg * bound + 1e-9, reg
        gaps.append(value - exact)
    assert gaps[0] >= gaps[1] >= gaps[2]
    assert gaps[2] <= 1e-3 * bound + 1e-9


@pytest.mark.parametrize("n, d, power", [(6, 2, 2), (7, 3, 1), (5, 4, 2)])
def test_violation_ratio_against_linear_programming(n, d, power):
    """eps of two LP solves (both directions, unregularised cost); the entropic ratio is
    within reg log n / (OT_0(P, Q) + OT_0(Q, P)) of it, as each OT value is within reg log n."""
    rng = np.random.default_rng(100 + n * d)
    x, y = rng.uniform(size=(n, d)) + 0.05, rng.uniform(size=(n, d))
    forward, backward = lp_ot(cost_loop(x, y, power)), lp_ot(cost_loop(y, x, power))
    exact = forward / (forward + backward)
    assert 0 < exact < 1
    for reg in (1e-2, 1e-3):
        eps = ot_violation_ratio(x, y, power=power, reg=reg, normalise=False, tol=1e-7,
                                 max_iter=100_000)
        assert abs(eps - exact) <= reg * math.log(n) / (forward + backward) + 1e-6, reg


@pytest.mark.parametrize("reg", [0.5, 0.05])
def test_entropic_value_against_direct_dual_maximisation(reg):
    rng = np.random.default_rng(7)
    x, y = rng.uniform(size=(5, 2)), rng.uniform(size=(4, 2))
    expected = entropic_dual(cost_loop(x, y), reg)
    value = entropic_ot(x, y, reg=reg, normalise=False, tol=1e-10)
    assert value == pytest.approx(expected, rel=1e-7)


def test_weighted_solve_against_direct_dual_maximisation():
    rng = np.random.default_rng(8)
    cost = cost_loop(rng.uniform(size=(6, 2)), rng.uniform(size=(6, 2)))
    a = np.array([1, 2, 1, 1, 3, 2]) / 10
    b = np.array([3, 1, 1, 2, 2, 1]) / 10
    sol = _sinkhorn(cost, a, b, 0.05, tol=1e-11, max_iter=10_000)
    assert sol.value == pytest.approx(entropic_dual(cost, 0.05, a, b), rel=1e-7)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("row, shift", [(True, -10.0), (False, -10.0), (True, 1.0)])
def test_a_kernel_that_underflows_is_rebuilt_in_the_log_domain(row, shift, engine):
    """A warm start far off makes a whole kernel row (column) underflow; the half-step is then
    redone with logsumexp and the solve ends where a cold start does. A shift up (exp(100)
    overflows float32) makes the compiled solver cap that kernel row (float64: no overflow)."""
    rng = np.random.default_rng(9)
    cost = cost_loop(rng.uniform(size=(8, 2)), rng.uniform(size=(8, 2)))
    u = np.full(8, 1 / 8)
    cold = _sinkhorn(cost, u, u, 0.01, tol=1e-10, max_iter=10_000)
    f, g = cold.f.copy(), cold.g.copy()
    if row:
        f[0] += shift  # -10: row 0 of exp((f + g - C) / 0.01) is below exp(-900)
    else:
        g[3] += shift
    warm = _sinkhorn(cost, u, u, 0.01, tol=1e-10, max_iter=10_000, f=f, g=g, engine=engine)
    assert warm.converged
    assert warm.value == pytest.approx(cold.value, rel=1e-8)


def test_an_overshoot_of_the_over_relaxed_stage_is_not_taken_for_convergence(monkeypatch):
    """Strong over-relaxation (omega = 1.99) on a fast problem makes the dual value step down
    while far from the optimum; read as 'step <= 0: converged' it stopped 4e-7 short (tol
    1e-8). The stage goes on plain instead and ends at the optimum to float32 accuracy."""
    import riskbench.multivariate as mv

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 2)) + 0.3, rng.normal(size=(30, 2))
    cost, u = _cost(x, y, 2, None), np.full(30, 1 / 30)
    tight = _sinkhorn(cost, u, u, 0.05, tol=1e-12, max_iter=100_000).value
    monkeypatch.setattr(mv, "_OMEGA", 1.99)
    f, g, converged = mv._stage_compiled(cost, u, u, 0.05, np.zeros(30), np.zeros(30), 1e-8,
                                         100_000, np.float32)
    assert converged
    assert abs((u @ f + u @ g) / tight - 1) < 1e-7


def test_a_float32_column_sum_that_overflows_is_absorbed_not_taken_for_the_optimum():
    """float32 passes: row sums of tiny entries give huge row scalings, and a column of entries
    near float32's largest then sums to inf. Without the check the log-scaling would be -inf,
    the value -inf and the stage 'converged' on it; the scalings are absorbed instead and the
    caller rebuilds the kernel (REBUILD), every anchor finite."""
    from riskbench.backends import _numba_ot as compiled

    n = 6
    kernel = np.full((n, n), 1e-10, dtype=np.float32)
    kernel[:, 0] = 3e38
    cost = np.ones((n, n))
    a = b = np.full(n, 1 / n)
    f, g, lu, lv = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    lv[0] = -100.0  # column 0's weight is a float32 subnormal: the row sums stay small
    state = np.array([np.nan, np.nan, 0.0])
    code, used = compiled.iterate(cost, a, b, 0.01, f, g, lu, lv, kernel, state, 1e-6, 100, 40.0)
    assert code == compiled.REBUILD and used == 1
    assert np.isfinite(f).all() and np.isfinite(g).all()
    assert (lu == 0).all() and (lv == 0).all()
    w0 = float(np.float32(np.exp(-100.0) / n))
    row_sum = 3e38 * w0 + (n - 1) * 1e-10 / n
    assert f == pytest.approx(np.full(n, -0.01 * np.log(row_sum)), rel=1e-5)
    assert g[0] == -1.0  # lv absorbed as it was: the v-half-step was not taken


# ----------------------------------------------------------------------------- oracle 3

def test_shifted_copy_is_dominated():
    """X = Y + c 1: eps(X, Y) falls with c, and is exactly 0 once every x >= every y."""
    rng = np.random.default_rng(11)
    y = rng.uniform(size=(40, 3))
    eps = [ot_violation_ratio(y + c, y, normalise=False, reg=0.05)
           for c in (0.0, 0.05, 0.2, 0.5)]
    assert eps[0] == pytest.approx(0.5, abs=1e-6)
    assert eps[0] > eps[1] > eps[2] > eps[3] > 0
    assert ot_violation_ratio(y + 1.0, y, normalise=False) == 0.0
    assert ot_violation_ratio(y + 1.0, y) == 0.0  # on the pooled-ECDF scale too
    assert ot_violation_ratio(y, y + 1.0) == 1.0


def test_shifted_copy_in_the_bootstrap():
    base = small_cube(k=1, n=40, m=3)[0]
    cube = np.stack([base + 100.0, base + 0.2, base])
    boot = multivariate_bootstrap(cube, n_resamples=20, seed=0)
    assert boot.eps_matrix[0, 1] == boot.eps_matrix[0, 2] == 0.0
    assert boot.eps_matrix[1, 2] < 0.4  # the identity coupling costs 0: only lambda KL is left
    assert boot.eps[0] < boot.eps[1] < boot.eps[2]


# ----------------------------------------------------------------------------- oracle 4

@given(st.integers(0, 2**32 - 1), st.integers(2, 12), st.integers(2, 12), st.integers(1, 3),
       st.sampled_from([1, 2]), st.sampled_from([None, 4.0]))
def test_symmetry(seed, n, m, d, power, smooth):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    forward = ot_violation_ratio(x, y, power=power, smooth=smooth, reg=0.05)
    backward = ot_violation_ratio(y, x, power=power, smooth=smooth, reg=0.05)
    assert 0 <= forward <= 1
    assert forward + backward == pytest.approx(1.0, abs=1e-12)


def test_bootstrap_matrix_is_antisymmetric_and_one_vs_all_averages_to_half():
    boot = multivariate_bootstrap(small_cube(), n_resamples=30, seed=1)
    e = boot.eps_matrix
    assert np.isnan(np.diag(e)).all()
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose((e + e.T)[off], 1.0, atol=1e-12)
    assert boot.eps.mean() == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(boot.eps_replicates.mean(axis=1), 0.5, atol=1e-12)


# ----------------------------------------------------------------------------- oracle 5

def replicate_loop(cube, reg, seed, n_resamples, design="paired"):
    """eps matrices of each replicate: the resample written out as repeated points, solved cold
    with uniform weights on the normalised scores."""
    values = build_multivariate(cube, reg=reg).normalised
    k, n, _ = values.shape
    counts = Resampler((n,) * k, design, seed).counts(0, n_resamples)
    out = np.full((n_resamples, k, k), np.nan)
    for r in range(n_resamples):
        for i in range(k):
            for j in range(k):
                if i != j:
                    ci = counts[0 if design == "paired" else i][r]
                    cj = counts[0 if design == "paired" else j][r]
                    xs = np.repeat(values[i], ci, axis=0)
                    ys = np.repeat(values[j], cj, axis=0)
                    out[r, i, j] = ot_violation_ratio(xs, ys, reg=reg, normalise=False,
                                                      tol=1e-9)
    return out


@pytest.mark.parametrize("design", ["paired", "independent"])
def test_exact_replicates_match_a_plain_loop_on_the_same_resamples(design):
    cube = small_cube(k=3, n=12, m=2, seed=5)
    boot = multivariate_bootstrap(cube, reg=0.05, method="exact", n_resamples=6, seed=3,
                                  design=design, tol=1e-9)
    reps = replicate_loop(cube, 0.05, 3, 6, design)
    np.testing.assert_allclose(boot.eps_replicates, one_vs_all(reps), atol=1e-6)
    sd = reps.std(axis=0, ddof=1)
    np.testing.assert_allclose(boot.eps_matrix_sd, sd, atol=1e-6)


def test_linear_replicates_are_the_first_order_change_of_ot():
    """(OT(w_tau) - OT) / tau -> sum_t (w_t - 1/n)(f_t + g_t) as tau -> 0, with
    w_tau = 1/n + tau (w - 1/n): the potentials are the gradient of OT in the weights."""
    rng = np.random.default_rng(12)
    x, y = rng.uniform(size=(15, 2)), rng.uniform(size=(15, 2)) + 0.05
    cost = _cost(x, y, 2, None)
    u = np.full(15, 1 / 15)
    point = _sinkhorn(cost, u, u, 0.02, tol=1e-12, max_iter=50_000)
    w = rng.multinomial(15, u) / 15
    slope = (w - u) @ (point.f + point.g)
    errors = []
    for tau in (1e-1, 1e-2, 1e-3):
        wt = u + tau * (w - u)
        moved = _sinkhorn(cost, wt, wt, 0.02, tol=1e-12, max_iter=50_000)
        errors.append(abs((moved.value - point.value) / tau - slope))
    assert errors[2] < 1e-2 * abs(slope) + 1e-9
    assert errors[0] > errors[1] > errors[2]  # first order: the error shrinks with tau


def test_linear_and_exact_bootstrap_agree_on_a_small_case():
    cube = small_cube(k=4, n=60, m=3, seed=2)
    lin = multivariate_bootstrap(cube, n_resamples=60, seed=4)
    exact = multivariate_bootstrap(cube, n_resamples=60, seed=4, method="exact")
    np.testing.assert_array_equal(lin.eps_matrix, exact.eps_matrix)
    iu = np.triu_indices(4, 1)
    ratio = lin.eps_matrix_sd[iu] / exact.eps_matrix_sd[iu]
    assert np.all(np.abs(ratio - 1) < 0.1)
    diff = _difference_sd(lin.eps_replicates)[iu] / _difference_sd(exact.eps_replicates)[iu]
    assert np.all(np.abs(diff - 1) < 0.1)
    assert np.corrcoef(lin.eps_replicates.ravel(), exact.eps_replicates.ravel())[0, 1] > 0.99


def test_unsafe_replicates_are_solved_alone():
    """A kernel absorbed at potentials far from the replicate's own sends its scalings out of
    range; that replicate is re-solved on its own (on the items it drew)."""
    rng = np.random.default_rng(13)
    cost = _cost(rng.uniform(size=(10, 2)), rng.uniform(size=(10, 2)), 2, None)
    u = np.full(10, 1 / 10)
    point = _sinkhorn(cost, u, u, 0.01, tol=1e-10, max_iter=10_000)
    off = _Solution(point.value, point.f + np.where(np.arange(10) == 2, 3.0, 0.0), point.g,
                    True)
    counts = Resampler((10,), "paired", 0).counts(0, 4)[0]
    w = counts / 10
    values, stuck = _sinkhorn_replicates(cost, _kernel(cost, off.f, off.g, 0.01), off, w, w,
                                         0.01, 1e-10, 10_000)
    assert stuck == 0
    for r in range(4):
        keep = w[r] > 0
        direct = _sinkhorn(cost[np.ix_(keep, keep)], w[r, keep], w[r, keep], 0.01, tol=1e-10,
                           max_iter=10_000)
        assert values[r] == pytest.approx(direct.value, rel=1e-7)


@pytest.mark.parametrize("method", ["linear", "exact"])
def test_same_seed_same_numbers_and_batch_invariance(method):
    cube = small_cube(k=3, n=25, m=2, seed=6)
    one = multivariate_bootstrap(cube, n_resamples=11, seed=9, method=method, batch=11)
    again = multivariate_bootstrap(cube, n_resamples=11, seed=9, method=method, batch=11)
    split = multivariate_bootstrap(cube, n_resamples=11, seed=9, method=method, batch=3)
    np.testing.assert_array_equal(one.eps_replicates, again.eps_replicates)
    if method == "linear":
        np.testing.assert_array_equal(one.eps_replicates, split.eps_replicates)
    else:  # a replicate leaves its batch when converged: equal to the Sinkhorn tolerance
        np.testing.assert_allclose(one.eps_replicates, split.eps_replicates, atol=1e-9)
    other = multivariate_bootstrap(cube, n_resamples=11, seed=10, method=method)
    assert not np.allclose(one.eps_replicates, other.eps_replicates)
    assert one.seed == 9 and one.order == 1 and one.n_resamples == 11


# ----------------------------------------------------------------------------- tests, API

def test_results_feed_the_relative_and_absolute_tests():
    cube = small_cube(k=4, n=80, m=3, seed=3)
    boot = multivariate_bootstrap(cube_of(cube), n_resamples=50, seed=0)
    rel = relative_test_from(boot)
    ab = absolute_test_from(boot, eps0=0.4)
    assert rel.models == ("model0", "model1", "model2", "model3")
    assert rel.reject[3, 0] and not rel.reject[0, 3]  # the most skilled beats the least
    assert np.isfinite(ab.pvalue[~np.eye(4, dtype=bool)]).all()
    assert boot.samples.metric == "portfolio:multivariate"


def test_score_table_input_and_portfolio_object():
    table = riskbench.load_demo()
    sub = table.cube()
    cube = MetricCube(sub.models[:3], sub.items[:40], sub.metrics, sub.values[:3, :40],
                      sub.higher_is_better)
    built = build_multivariate(cube, reg=0.05)
    assert isinstance(built, MultivariatePortfolio)
    assert built.normalised.shape == (3, 40, 3)
    assert 0 < built.normalised.min() and built.normalised.max() <= 1
    assert "lambda = 0.05" in built.describe() and "offensive (lower is better)" in built.describe()
    boot = multivariate_bootstrap(built, n_resamples=5, seed=0)
    again = multivariate_bootstrap(cube, reg=0.05, n_resamples=5, seed=0)
    np.testing.assert_array_equal(boot.eps_replicates, again.eps_replicates)
    assert built.to_frame().shape == (120, 6)


def test_smooth_hinge_tends_to_the_hinge():
    rng = np.random.default_rng(14)
    x, y = rng.uniform(size=(12, 2)), rng.uniform(size=(12, 2))
    hinge = ot_violation_ratio(x, y, normalise=False)
    assert ot_violation_ratio(x, y, smooth=1e4, normalise=False) == pytest.approx(hinge,
                                                                                 abs=1e-3)
    assert abs(ot_violation_ratio(x, y, smooth=2.0, normalise=False) - hinge) > 1e-3


# ----------------------------------------------------------------------------- degenerate

def test_identical_models_warn_and_get_one_half():
    base = small_cube(k=1, n=20, m=2)[0]
    cube = np.stack([base, base[::-1], base + 1.0])  # models 0 and 1: same rows, other order
    with pytest.warns(DegenerateDataWarning, match="1 pair\\(s\\) of models have identical "
                      "joint score distributions, e.g. 'model_0' and 'model_1'"):
        boot = multivariate_bootstrap(cube, n_resamples=5, seed=0)
    assert boot.eps_matrix[0, 1] == boot.eps_matrix[1, 0] == 0.5


def test_one_point_repeated_warns():
    with pytest.warns(DegenerateDataWarning, match="one and the same point repeated"):
        assert ot_violation_ratio(np.ones((4, 2)), np.ones((3, 2))) == 0.5


def test_iteration_cap_warns():
    rng = np.random.default_rng(15)
    with pytest.warns(ConvergenceWarning, match="stopped at max_iter = 2 before reaching tol"):
        entropic_ot(rng.uniform(size=(9, 2)), rng.uniform(size=(9, 2)), max_iter=2)


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("kwargs, message", [
    ({"power": 3}, "power must be 1 or 2 (the exponent of the hinge h(t) = max(t, 0)^power in "
                   "the violation cost); got 3"),
    ({"power": True}, "power must be 1 or 2"),
    ({"reg": 0}, "reg must be a finite number > 0 (the entropic regularisation lambda, in units "
                 "of the cost; default 0.01); got 0"),
    ({"reg": -0.1}, "reg must be a finite number > 0"),
    ({"reg": float("nan")}, "reg must be a finite number > 0"),
    ({"reg": "0.1"}, "reg must be a finite number > 0"),
    ({"smooth": 0}, "smooth must be None (the hinge max(t, 0)) or a finite number > 0 (beta of "
                    "the smooth hinge softplus_beta(t) = log(1 + exp(beta t)) / beta); got 0"),
    ({"tol": 0}, "tol must be a number in (0, 1) (relative accuracy of each OT value); got 0"),
    ({"max_iter": 0}, "max_iter must be a positive integer; got 0"),
])
def test_bad_options(kwargs, message):
    x = np.zeros((3, 2))
    with pytest.raises(InputError) as err:
        ot_violation_ratio(x, x + 1, **kwargs)
    assert str(err.value).startswith(message)


def test_bad_samples():
    with pytest.raises(InputError) as err:
        ot_violation_ratio(np.zeros((4, 3)), np.zeros((4, 2)))
    assert str(err.value) == ("x has 3 metric(s) (columns) but y has 2; both samples need the "
                              "same metrics in the same order")
    bad = np.zeros((8, 2))
    bad[[2, 5], 1] = np.nan
    with pytest.raises(InputError) as err:
        ot_violation_ratio(bad, np.zeros((3, 2)))
    assert str(err.value) == ("x has 2 row(s) with NaN values (rows 2, 5); drop or fix them "
                              "first")
    with pytest.raises(InputError, match="y must be 2-D \\(items x metrics\\) or 1-D"):
        ot_violation_ratio(np.zeros(3), np.zeros((2, 2, 2)))
    with pytest.raises(InputError, match="x is empty \\(shape \\(0, 2\\)\\)"):
        ot_violation_ratio(np.zeros((0, 2)), np.zeros((2, 2)))


def test_bad_bootstrap_input():
    cube = small_cube(k=3, n=10, m=2)
    with pytest.raises(InputError) as err:
        multivariate_bootstrap(cube, method="fast")
    assert str(err.value) == "method must be one of 'linear', 'exact'; got 'fast'"
    with pytest.raises(InputError) as err:
        multivariate_bootstrap(cube[:, :, 0])
    assert str(err.value) == ("scores must be a ScoreTable, a MetricCube or an array of shape "
                              "(models, items, metrics); got ndarray of shape (3, 10)")
    with pytest.raises(InputError) as err:
        multivariate_bootstrap(cube[:1])
    assert str(err.value) == "need at least 2 models to compare; got 1"
    nan = cube.copy()
    nan[1, 4, 0] = np.nan
    with pytest.raises(InputError) as err:
        multivariate_bootstrap(nan)
    assert str(err.value) == ("1 NaN score(s), e.g. model 'model_1', item '4', metric "
                              "'metric_0'; drop or fix them first")
    with pytest.raises(InputError) as err:
        multivariate_bootstrap(build_multivariate(cube), reg=0.1)
    assert str(err.value) == ("reg come(s) from the MultivariatePortfolio passed as data; set "
                              "them in build_multivariate instead")
    with pytest.raises(InputError, match="batch must be a positive integer; got 0"):
        multivariate_bootstrap(cube, batch=0)
    with pytest.raises(InputError, match="n_resamples must be an integer >= 2"):
        multivariate_bootstrap(cube, n_resamples=1)
    with pytest.raises(InputError, match="design must be one of 'paired', 'independent'"):
        multivariate_bootstrap(cube, design="blocks")


def test_no_warnings_on_clean_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        multivariate_bootstrap(small_cube(k=3, n=20, m=2), n_resamples=5, seed=0)
        ot_violation_ratio(np.arange(6.0).reshape(3, 2), np.arange(6.0).reshape(3, 2)[::-1] + 1)


# ----------------------------------------------------------------------------- rank, CLI, report

@pytest.fixture(scope="module")
def demo_subset():
    """6 demo models x 150 instructions x 3 metrics (win up; offensive and length down)."""
    table = riskbench.load_demo()
    return table.select(models=table.models[:6], items=list(table.items("win"))[:150])


@pytest.fixture(scope="module")
def demo_ranking(demo_subset):
    return riskbench.rank(demo_subset, portfolio="multivariate", n_resamples=60, seed=0)


def test_rank_multivariate_matches_the_bootstrap_and_its_tests(demo_subset, demo_ranking):
    r = demo_ranking
    assert isinstance(r, riskbench.Ranking) and isinstance(r.portfolio, MultivariatePortfolio)
    boot = multivariate_bootstrap(demo_subset, n_resamples=60, seed=0)
    test = relative_test_from(boot)
    np.testing.assert_array_equal(r.test.reject, test.reject)
    np.testing.assert_array_equal(r.test.pvalue, test.pvalue)
    index = [boot.samples.models.index(m) for m in r.models]
    np.testing.assert_array_equal(r.eps, boot.eps[index])
    np.testing.assert_array_equal(r.wins, test.reject.sum(axis=1)[index])
    assert list(r.wins) == sorted(r.wins, reverse=True)
    assert r.order == 1 and r.seed == 0 and r.test.test == "relative"
    assert r.best_set == tuple(m for a, m in enumerate(r.models)
                               if not r.decisions[:, a].any())
    assert r.group[0] == 1 and np.all(np.diff(r.group) >= 0)
    # display columns: the per-item mean of the normalised metrics
    normalised = build_multivariate(demo_subset).normalised.mean(axis=2)
    np.testing.assert_allclose(r.mean, normalised.mean(axis=1)[[boot.samples.models.index(m)
                                                                 for m in r.models]])
    assert "joint distributions of all metrics" in r.h0
    assert any(n.startswith("Tests: multivariate first-order dominance") for n in r.notes)
    payload = r.to_dict()
    assert payload["order"] == 1 and payload["portfolio"]["kind"] == "multivariate"
    assert payload["portfolio"]["reg"] == 0.01 and payload["portfolio"]["power"] == 2
    assert payload["input_sha256"] == demo_subset.checksum
    assert r.to_frame().shape[0] == 6


def test_rank_multivariate_absolute_test(demo_subset):
    r = riskbench.rank(demo_subset, portfolio="multivariate", test="absolute", eps0=0.4,
                       n_resamples=40, seed=1, p=0.1)
    boot = multivariate_bootstrap(demo_subset, n_resamples=40, seed=1)
    test = absolute_test_from(boot, eps0=0.4)
    np.testing.assert_array_equal(r.test.reject, test.reject)
    assert r.test.test == "absolute" and r.test.eps0 == 0.4 and r.tvar_column == "tvar_0.1"


def test_select_with_the_multivariate_ranking(demo_subset):
    sel = riskbench.select(demo_subset, portfolio="multivariate", guardrails=["win:mean>=0.3"],
                           n_resamples=30, seed=0)
    assert sel.ranking is not None and sel.ranking.order == 1
    assert set(sel.ranking.models) == set(sel.eligible) and len(sel.eligible) < 6
    # the eligible models keep the normalisation pooled over all six
    kept = [m for m in demo_subset.models if m in sel.eligible]
    full = build_multivariate(demo_subset)
    index = [full.models.index(m) for m in kept]
    sub = MultivariatePortfolio(tuple(kept), full.items, full.metrics, full.normalised[index],
                                full.scores[index], full.weights)
    boot = multivariate_bootstrap(sub, n_resamples=30, seed=0)
    np.testing.assert_array_equal(sel.ranking.eps, np.sort(boot.eps)[np.argsort(
        np.argsort(sel.ranking.eps))])
    with pytest.raises(InputError, match="the multivariate comparison has no per-item "
                                         "portfolio score to measure"):
        riskbench.select(demo_subset, portfolio="multivariate",
                         guardrails=["portfolio:mean>=0.3"], n_resamples=30, seed=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"order": 2}, "portfolio='multivariate' tests first-order dominance only (METHOD.md "
                   "section 13); got order=2: drop it or pass order=1"),
    ({"metric": "win"}, "metric='win' ranks one metric, but portfolio='multivariate' compares "
                        "the models on all metrics jointly; drop one of the two"),
    ({"weights": {"win": 2}}, "weights apply to the independent-copula portfolio only; the "
                              "multivariate cost is a plain sum over metrics"),
    ({"criterion": "tvar"}, "criterion='tvar' ranks by a mean-risk score of one value per item, "
                            "but portfolio='multivariate' compares whole metric vectors"),
    ({"backend": "torch"}, "portfolio='multivariate' runs its own Sinkhorn solver (compiled "
                           "with numba, or plain numpy); backend='torch' applies to the scalar "
                           "tests only"),
    ({"p": 0}, "p must be a number in (0, 1]; got 0"),
    ({"alpha": 0.7}, "alpha must be a number in (0, 0.5); got 0.7"),
    ({"test": "absolute", "eps0": 0.9}, "eps0 must be a number in (0, 0.5]; got 0.9"),
])
def test_rank_multivariate_bad_options(demo_subset, kwargs, message):
    with pytest.raises(InputError) as err:
        riskbench.rank(demo_subset, portfolio="multivariate", n_resamples=10, **kwargs)
    assert str(err.value).startswith(message)


def test_rank_multivariate_bad_data():
    with pytest.raises(InputError, match="portfolio must be one of 'ic', 'ec', 'multivariate'"):
        riskbench.rank(small_cube(), portfolio="joint")
    with pytest.raises(InputError, match=r"scores must be a ScoreTable, a MetricCube or an array "
                                         r"of shape \(models, items, metrics\)"):
        riskbench.rank({"a": [1.0, 2.0], "b": [2.0, 3.0]}, portfolio="multivariate")
    r = riskbench.rank(small_cube(k=3, n=20, m=2), portfolio="multivariate", n_resamples=10,
                       seed=0)  # a 3-D array works too
    assert sorted(r.models) == ["model_0", "model_1", "model_2"] and r.order == 1


@pytest.fixture(scope="module")
def demo_csv(demo_subset, tmp_path_factory):
    from riskbench.table import write_scores

    return write_scores(demo_subset, tmp_path_factory.mktemp("mv") / "demo.csv")


def _cli(*args):
    from click.testing import CliRunner

    from riskbench.cli import main

    return CliRunner().invoke(main, list(args))


def test_cli_rank_multivariate(demo_csv, demo_ranking):
    import json

    base = ("rank", str(demo_csv), "--lower-is-better", "length", "--lower-is-better",
            "offensive", "--portfolio", "multivariate", "--n-resamples", "60", "--seed", "0")
    out = _cli(*base)
    assert out.exit_code == 0, out.output
    assert ("multivariate R-FSD ranking of 6 models on the joint distribution of length, "
            "offensive, win (entropic optimal transport, lambda = 0.01)") in " ".join(
                out.output.split())
    payload = json.loads(_cli(*base, "--json").stdout)
    assert [row["model"] for row in payload["ranking"]] == list(demo_ranking.models)
    assert payload["best_set"] == list(demo_ranking.best_set)
    assert payload["order"] == 1 and payload["portfolio"]["kind"] == "multivariate"
    bad = _cli(*base, "--order", "2")
    assert bad.exit_code == 2
    assert "portfolio='multivariate' tests first-order dominance only" in bad.output


def test_cli_select_and_report_multivariate(demo_csv, tmp_path):
    import json

    base = (str(demo_csv), "--lower-is-better", "length", "--lower-is-better", "offensive",
            "--portfolio", "multivariate", "--n-resamples", "30", "--seed", "0")
    sel = _cli("select", *base, "--guardrail", "win:mean>=0.3", "--json")
    assert sel.exit_code == 0, sel.output
    assert json.loads(sel.stdout)["chosen"]
    path = tmp_path / "r.html"
    rep = _cli("report", *base, "-o", str(path))
    assert rep.exit_code == 0, rep.output
    text = path.read_text()
    assert "riskbench report: multivariate R-FSD ranking of 6 models" in text
    assert "a display summary only" in text and "TVaR curves are left out" in text
    assert "Empirical CDF of each portfolio metric per model." in text


def test_report_renders_a_multivariate_ranking(demo_subset, demo_ranking):
    pytest.importorskip("matplotlib")
    from riskbench.report import render_report

    text = render_report(demo_ranking, table=demo_subset)
    assert text.count("<svg") == 5  # rank intervals, ranking, quantile curves (display
    # summary), matrix, ECDFs
    assert "joint distributions of all metrics" in text
    assert "mean of the worst p-fraction" not in text
    assert "the per-item mean of the normalised metrics, a display summary only" in text
    assert "<table" in demo_ranking._repr_html_()


@pytest.mark.parametrize("method", ["linear", "exact"])
def test_threads_do_not_change_the_numbers(monkeypatch, method):
    import riskbench.multivariate as mv

    cube = cube_of(small_cube(k=4, n=30, m=2, seed=11))
    runs = []
    for threads in (1, 3):
        monkeypatch.setattr(mv, "_threads", lambda threads=threads: threads)
        runs.append(multivariate_bootstrap(cube, n_resamples=12, seed=2, method=method))
    np.testing.assert_array_equal(runs[0].eps_matrix, runs[1].eps_matrix)
    np.testing.assert_array_equal(runs[0].eps_replicates, runs[1].eps_replicates)
    np.testing.assert_array_equal(runs[0].eps_matrix_sd, runs[1].eps_matrix_sd)


# ----------------------------------------------------------------------------- pinned numbers

# eps and sd of small_cube(k=4, n=60, m=3, seed=21), B = 40, seed 5, computed by the solver
# before issue 15 (commit 794c720: float64 einsum iterations, tol 1e-6). Faster paths must
# reproduce them: eps to 1e-6 (the value's relative tolerance); the exact bootstrap's sd to 1e-6;
# the linear sd to 2e-3 relative, because it is built from the dual potentials, which at the
# value's stopping point are accurate to only ~1e-3 (today's linear sd differs from a tol = 1e-11
# solve by up to 1.25e-3 relative, the exact sd by 1e-7): another iteration path moves it within
# that band, and test_linear_sd_is_as_close_to_a_tight_solve_as_before checks the direction.
PINNED_EPS = np.array([
    [np.nan, 0.703459637587578, 0.8916699046649648, 0.9045842682189329],
    [0.29654036241242193, np.nan, 0.7813464605907774, 0.8168330045020853],
    [0.1083300953350352, 0.21865353940922266, np.nan, 0.5707020509755114],
    [0.0954157317810671, 0.18316699549791476, 0.4292979490244886, np.nan]])
PINNED_SD = {
    "linear": np.array([0.0709947415469203, 0.03864011701025262, 0.02040081480261656,
                        0.05583976710329096, 0.0513746800456673, 0.11217170638141986]),
    "exact": np.array([0.06847079235793382, 0.03686526710994411, 0.02043627574216008,
                       0.05272968479980056, 0.04874142006177718, 0.10630658804632373]),
}


@pytest.mark.parametrize("method", ["linear", "exact"])
def test_numbers_pinned_before_the_speed_work(method):
    cube = cube_of(small_cube(k=4, n=60, m=3, seed=21))
    boot = multivariate_bootstrap(cube, n_resamples=40, seed=5, method=method)
    np.testing.assert_allclose(boot.eps_matrix, PINNED_EPS, rtol=0, atol=1e-6)
    sd = boot.eps_matrix_sd[np.triu_indices(4, 1)]
    np.testing.assert_allclose(sd, PINNED_SD[method], rtol=2e-3 if method == "linear" else 1e-6)


def test_linear_sd_is_as_close_to_a_tight_solve_as_before():
    """The compiled solver's linear sd (from its potentials) is no further from a tol = 1e-11
    solve than today's pinned numbers are (both are within the potentials' ~1e-3)."""
    cube = cube_of(small_cube(k=4, n=60, m=3, seed=21))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few replicates at max_iter
        tight = multivariate_bootstrap(cube, n_resamples=40, seed=5, tol=1e-11, backend="numpy")
    fast = multivariate_bootstrap(cube, n_resamples=40, seed=5, backend="numba")
    iu = np.triu_indices(4, 1)
    before = np.abs(PINNED_SD["linear"] / tight.eps_matrix_sd[iu] - 1).max()
    after = np.abs(fast.eps_matrix_sd[iu] / tight.eps_matrix_sd[iu] - 1).max()
    assert before > 1e-4  # the pinned band is real, not rounding
    assert after <= 1.5 * before


# ----------------------------------------------------------------------------- compiled solver

def test_compiled_costs_and_kernel_have_the_reference_bits():
    from riskbench.backends._numba_ot import hinge_costs, kernel_exponents

    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(23, 3)), rng.normal(size=(17, 3))
    for power in (1, 2):
        c_xy, c_yx = hinge_costs(x, y, power)
        np.testing.assert_array_equal(c_xy, _cost(x, y, power, None))
        np.testing.assert_array_equal(c_yx, _cost(y, x, power, None))
    cost = _cost(x, y, 2, None)
    f, g = rng.normal(size=23) * 0.3, rng.normal(size=17) * 0.3
    out = np.empty(cost.shape)
    kernel_exponents(cost, f.copy(), g, 0.01, -500.0, np.inf, out)
    np.testing.assert_array_equal(np.exp(out), _kernel(cost, f, g, 0.01))


@pytest.mark.parametrize("n, m, d, reg", [(40, 40, 3, 0.01), (31, 45, 2, 0.003), (60, 60, 8, 0.05)])
def test_compiled_solver_matches_the_reference_solver(n, m, d, reg):
    """Same cost, same marginals: both solvers reach the value to tol, and a tight reference."""
    rng = np.random.default_rng(n + m + d)
    x = rng.normal(size=(n, d)) + 0.2
    y = rng.normal(size=(m, d))
    cost = _cost(x, y, 2, None)
    a = rng.uniform(0.5, 1.5, n)
    a /= a.sum()
    b = np.full(m, 1 / m)
    ref = _sinkhorn(cost, a, b, reg, tol=1e-6, max_iter=10_000)
    fast = _sinkhorn(cost, a, b, reg, tol=1e-6, max_iter=10_000, engine="numba")
    tight = _sinkhorn(cost, a, b, reg, tol=1e-12, max_iter=100_000)
    assert fast.converged and ref.converged
    assert fast.value == pytest.approx(tight.value, rel=2e-6)
    assert fast.value == pytest.approx(ref.value, rel=2e-6)
    # the potentials (up to a constant) agree as well as the reference's own do with tight
    spread = np.abs((ref.f - ref.f.mean()) - (tight.f - tight.f.mean())).max()
    mine = np.abs((fast.f - fast.f.mean()) - (tight.f - tight.f.mean())).max()
    assert mine <= 2 * spread + 1e-9


@pytest.mark.parametrize("design", ["paired", "independent"])
def test_compiled_linear_replicates_match_einsum(design):
    import riskbench.multivariate as mv

    cube = small_cube(k=3, n=20, m=2, seed=8)
    target = build_multivariate(cube)
    n, uniform = 20, np.full(20, 1 / 20)
    potentials = {}
    for u in range(3):
        for v in range(3):
            if u != v:
                cost = _cost(target.normalised[u], target.normalised[v], 2, None)
                potentials[u, v] = _sinkhorn(cost, uniform, uniform, 0.01, tol=1e-6,
                                             max_iter=10_000)
    ot = np.zeros((3, 3))
    for (u, v), p in potentials.items():
        ot[u, v] = p.value
    w = mv._resample_weights(Resampler((n,) * 3, design, 3), 0, 17, 3, n)
    plain = mv._linear_replicates(ot, potentials, w, uniform, design, "numpy")
    fast = mv._linear_replicates(ot, potentials, w, uniform, design, "numba")
    np.testing.assert_allclose(fast, plain, rtol=0, atol=1e-14)
    assert (fast[:, [0, 1, 2], [0, 1, 2]] == 0).all()


@pytest.mark.parametrize("method, design", [("linear", "paired"), ("exact", "paired"),
                                            ("linear", "independent")])
def test_compiled_bootstrap_matches_the_plain_one_on_the_same_resamples(method, design):
    """The same data and seed (so the same resample indices) through both solvers."""
    cube = cube_of(small_cube(k=4, n=50, m=3, seed=17))
    plain = multivariate_bootstrap(cube, n_resamples=30, seed=4, method=method, design=design,
                                   backend="numpy")
    fast = multivariate_bootstrap(cube, n_resamples=30, seed=4, method=method, design=design,
                                  backend="numba")
    np.testing.assert_allclose(fast.eps_matrix, plain.eps_matrix, rtol=0, atol=1e-6)
    # linear: the replicates move with the potentials (accurate to ~1e-3 at tol = 1e-6)
    sd_tol = 1e-6 if method == "exact" else 2e-3
    np.testing.assert_allclose(fast.eps_matrix_sd, plain.eps_matrix_sd, rtol=sd_tol)
    np.testing.assert_array_equal(fast.equality_pvalue, plain.equality_pvalue)


def test_smooth_hinge_through_the_compiled_solver():
    cube = cube_of(small_cube(k=3, n=30, m=2, seed=2))
    target = build_multivariate(cube, smooth=4.0)
    plain = multivariate_bootstrap(target, n_resamples=10, seed=1, backend="numpy")
    fast = multivariate_bootstrap(target, n_resamples=10, seed=1, backend="numba")
    np.testing.assert_allclose(fast.eps_matrix, plain.eps_matrix, rtol=0, atol=1e-6)


def test_bad_backend():
    with pytest.raises(InputError) as err:
        multivariate_bootstrap(small_cube(k=3, n=10, m=2), backend="torch")
    assert str(err.value) == "backend must be one of 'auto', 'numba', 'numpy'; got 'torch'"


# ----------------------------------------------------------------------------- infinities

def test_infinite_scores_are_the_extreme_ranks():
    """+-inf (issue 12: worst / best outcome) rank like any value below / above all others."""
    values = small_cube(k=3, n=30, m=2, seed=5)
    finite = values.copy()
    low, high = values.min() - 1.0, values.max() + 1.0
    finite[1, 7, 0], finite[2, 3, 1] = low, high
    values[1, 7, 0], values[2, 3, 1] = -np.inf, np.inf
    with_inf = multivariate_bootstrap(cube_of(values), n_resamples=20, seed=3)
    replaced = multivariate_bootstrap(cube_of(finite), n_resamples=20, seed=3)
    np.testing.assert_array_equal(with_inf.eps_matrix, replaced.eps_matrix)
    np.testing.assert_array_equal(with_inf.eps_replicates, replaced.eps_replicates)
    x, y = values[1], values[2]
    assert ot_violation_ratio(x, y) == ot_violation_ratio(finite[1], finite[2])
    with pytest.raises(InputError) as err:
        entropic_ot(x, y, normalise=False)
    assert str(err.value) == (
        "x has 1 row(s) with infinite values (rows 7); the violation cost on the raw scale "
        "(normalise=False) cannot use them: pass normalise=True (the pooled-ECDF scale, where "
        "+-inf are the top and bottom ranks) or replace them with finite worst/best values")


def test_rank_multivariate_accepts_a_table_with_minus_infinity():
    import pandas as pd

    values = small_cube(k=3, n=25, m=2, seed=12)
    frame = pd.DataFrame([(f"model{a}", t, f"m{u}", values[a, t, u]) for a in range(3)
                          for t in range(25) for u in range(2)],
                         columns=["model", "item", "metric", "value"])
    frame.loc[(frame.model == "model2") & (frame.item == 4) & (frame.metric == "m0"),
              "value"] = -np.inf
    table = riskbench.read_scores(frame)
    assert table.infinite == {"m0": 1}
    ranking = riskbench.rank(table, portfolio="multivariate", n_resamples=20, seed=0)
    # the -inf is the single lowest value of m0: its pooled-ECDF score is 1 / (3 * 25)
    model2 = ranking.portfolio.models.index("model2")
    assert ranking.portfolio.normalised[model2, 4, 0] == pytest.approx(1 / 75)
    finite = frame.copy()
    finite.loc[finite.value == -np.inf, "value"] = values.min() - 1.0
    same = riskbench.rank(riskbench.read_scores(finite), portfolio="multivariate",
                          n_resamples=20, seed=0)
    assert ranking.models == same.models
    np.testing.assert_array_equal(ranking.eps, same.eps)
