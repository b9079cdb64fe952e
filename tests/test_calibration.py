"""Calibration of the dominance tests by simulation (issue 7).

Three parts: the machinery (exact truths, simulation, the fast bootstrap path against
riskbench.bootstrap), a fast subset of the calibration checks in the default run, and the full
suite behind ``-m slow`` (about 20 minutes; docs/calibration.md is its report).

Fast subset: 400 simulated datasets per check, so the binomial SE of a rate at alpha = 0.05 is
sqrt(0.05 * 0.95 / 400) = 0.011 and a check passes within alpha + 2 SE = 0.072 (the full suite
uses 2,000 datasets: SE 0.0049). A check the tests still fail is marked xfail(strict=True) with
its measured rate (docs/calibration.md), so a change that fixes it shows up.
"""

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import integrate

import riskbench
from riskbench import calibration as cal
from riskbench.backends import Resampler
from riskbench.errors import DegenerateDataWarning, InputError

ALPHA = 0.05
FAST = 400
FAST_BAND = 2 * math.sqrt(ALPHA * (1 - ALPHA) / FAST)

# ----------------------------------------------------------------------------- exact truth

def test_population_eps_matches_method_sanity_values():
    # METHOD.md section 12
    n01, n02 = cal.normal(), cal.normal(0.0, 2.0)
    assert cal.population_eps(n01, n02, order=1) == pytest.approx(0.5, abs=1e-9)
    assert cal.population_eps(n01, n02, order=2) == pytest.approx(0.0, abs=1e-12)
    assert cal.population_eps(n02, n01, order=2) == pytest.approx(1.0, abs=1e-12)
    assert cal.population_eps(cal.normal(0.5), n01, order=1) == 0.0
    assert cal.population_eps(n01, n01, order=2) == 0.5  # identical laws: the convention
    e = cal.population_matrix([cal.normal(0.2, 1.5), n01, n02], order=1)
    np.testing.assert_allclose(e + e.T, np.where(np.eye(3, dtype=bool), np.nan, 1.0))


@pytest.mark.parametrize("law", [
    cal.normal(0.3, 1.7), cal.lognormal(0.8), cal.pareto_loss(3.0),
    cal.discrete([1, 2, 5], [0.2, 0.5, 0.3]), cal.affine(cal.lognormal(), -1.0, 2.0),
], ids=lambda m: m.kind)
def test_lorenz_is_the_integrated_quantile_function(law):
    for p in (0.1, 0.5, 0.9, 1.0):
        points = [b for b in law.breaks if b < p] or None
        expected = integrate.quad(lambda u: float(law.ppf(u)), 0.0, p, points=points,
                                  limit=200)[0]
        assert float(law.lorenz(p)) == pytest.approx(expected, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("base", [cal.normal(), cal.lognormal()], ids=["normal", "lognormal"])
def test_boundary_pairs_have_the_target_ratio(base, order):
    x = cal.boundary_affine(base, 0.25, order=order)
    assert cal.population_eps(x, base, order=order) == pytest.approx(0.25, abs=1e-9)
    # independent check: the exact empirical ratio of a fine grid of quantiles
    u = (np.arange(2**18) + 0.5) / 2**18
    grid = riskbench.violation_ratio(x.ppf(u), base.ppf(u), order=order)
    assert grid == pytest.approx(0.25, abs=2e-3)


@pytest.mark.parametrize("order", [1, 2])
def test_boundary_mixture_on_likert_scores(order):
    values, py, pa, pc = cal.LIKERT
    y = cal.discrete(values, py)
    x = cal.boundary_mixture(y, values, pa, pc, 0.25, order=order)
    assert cal.population_eps(x, y, order=order) == pytest.approx(0.25, abs=1e-9)
    u = (np.arange(2**16) + 0.5) / 2**16
    grid = riskbench.violation_ratio(x.ppf(u), y.ppf(u), order=order)
    assert grid == pytest.approx(0.25, abs=1e-3)


def test_bad_laws_and_scenarios_are_input_errors():
    with pytest.raises(InputError, match="shape > 2"):
        cal.pareto_loss(1.5)
    with pytest.raises(InputError, match="as many probabilities, summing to 1"):
        cal.discrete([0, 1], [0.5, 0.6])
    with pytest.raises(InputError, match="law a must violate less than eps0"):
        values, py, pa, pc = cal.LIKERT
        cal.boundary_mixture(cal.discrete(values, py), values, pc, pa, 0.25, order=1)
    n01 = cal.normal()
    with pytest.raises(InputError, match="the paired design needs equal sizes"):
        cal.Scenario("s", "f", (n01, n01), (10, 20), "paired")
    with pytest.raises(InputError, match="unknown test 'score'"):
        cal.Scenario("s", "f", (n01, n01), (10, 10), tests=(("score", 1),))


# ----------------------------------------------------------------------------- simulation

def test_simulated_scores_follow_the_laws_and_share_items():
    likert = cal.discrete(*cal.LIKERT[:2])
    s = cal.Scenario("check", "test", (cal.normal(1.0, 2.0), likert), (20000, 20000), rho=0.5)
    (x, y), = cal.simulate(s, 1, s.rng(0, 0))
    assert x.mean() == pytest.approx(1.0, abs=0.05) and x.std() == pytest.approx(2.0, abs=0.05)
    share = [np.mean(y == v) for v in cal.LIKERT[0]]
    np.testing.assert_allclose(share, cal.LIKERT[1], atol=0.01)
    # the copula's item effect: latent correlation rho = 0.5 -> score correlation > 0.4
    assert np.corrcoef(x, y)[0, 1] > 0.4
    again = cal.simulate(s, 1, s.rng(0, 0))[0]
    np.testing.assert_array_equal(again[0], x)


def test_unequal_sizes_are_independent_draws():
    s = cal.Scenario("u", "test", (cal.normal(),) * 2, (30, 70), "independent", 0.0)
    (x, y), = cal.simulate(s, 1, s.rng(0, 0))
    assert (x.size, y.size) == (30, 70)


@pytest.mark.parametrize("design", ["paired", "independent"])
@pytest.mark.parametrize("ties", [False, True])
def test_fast_path_is_riskbench_bootstrap_on_the_same_resamples(design, ties):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 30))
    x = np.round(x) if ties else x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        boots = riskbench.bootstrap(x, order=(1, 2), design=design, n_resamples=300, seed=7)
    counts = Resampler((30,) * 4, design, 7).counts(0, 300)
    mine = cal.bootstrap_from_counts(list(x), counts, design=design, orders=(1, 2), seed=7)
    for b, m in zip(boots, mine, strict=True):
        # the calibration fast path integrates each model's curve, the engine each pair's
        # difference (exact at any scale): the same numbers to a few ulps
        np.testing.assert_allclose(m.eps_matrix, b.eps_matrix, rtol=0, atol=1e-15)
        np.testing.assert_allclose(m.eps_replicates, b.eps_replicates, rtol=0, atol=1e-15)
        np.testing.assert_allclose(m.eps_matrix_sd, b.eps_matrix_sd, atol=1e-14)
        ours = riskbench.inference.relative_test_from(m)
        theirs = riskbench.inference.relative_test_from(b)
        np.testing.assert_allclose(ours.pvalue, theirs.pvalue, atol=1e-12)


def test_fast_path_on_unequal_sizes():
    rng = np.random.default_rng(2)
    values = [rng.normal(0.1 * a, 1, n) for a, n in enumerate([9, 14, 11])]
    boot = riskbench.bootstrap({f"m{a}": v for a, v in enumerate(values)}, order=2,
                               design="independent", n_resamples=20, seed=3)
    counts = Resampler((9, 14, 11), "independent", 3).counts(0, 20)
    mine, = cal.bootstrap_from_counts(values, counts, design="independent", orders=(2,))
    # all replicates at once here, one by one in the engine: sums differ in the last bit
    np.testing.assert_allclose(mine.eps_replicates, boot.eps_replicates, rtol=0, atol=1e-14)


def test_serial_kernels_restores_the_thread_count():
    numba = pytest.importorskip("numba")
    before = numba.get_num_threads()
    with cal.serial_kernels():
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


# ----------------------------------------------------------------------------- verdicts

def test_verdict_uses_the_binomial_band_at_alpha():
    band = 2 * math.sqrt(ALPHA * (1 - ALPHA) / 2000)  # 0.0097
    assert cal.verdict(cal.Rate(100, 2000), ALPHA, conservative_ok=False) == "calibrated"
    high = math.floor((ALPHA + band) * 2000) + 1
    assert cal.verdict(cal.Rate(high, 2000), ALPHA, conservative_ok=False) == \
        "ANTI-CONSERVATIVE"
    assert cal.verdict(cal.Rate(60, 2000), ALPHA, conservative_ok=True) == \
        "conservative (expected)"
    assert cal.verdict(cal.Rate(60, 2000), ALPHA, conservative_ok=False) == "conservative"
    r = cal.Rate(100, 2000)
    assert r.estimate == 0.05 and r.se == pytest.approx(math.sqrt(0.05 * 0.95 / 2000))


def test_catalogue_is_complete_and_boundaries_are_exact():
    nulls = cal.null_scenarios()
    keys = [(s.name, s.design, s.size_label) for s in nulls]
    assert len(keys) == len(set(keys))  # each scenario has its own random stream
    assert {s.family for s in nulls} == {"continuous", "ties", "heavy tails", "unequal sizes",
                                         "clustered items", "interior nulls"}
    assert {s.design for s in nulls} == {"paired", "independent"}
    assert {s.k for s in nulls} >= {2, 5, 20}
    for s in nulls:
        if "boundary" in s.name:
            (test, order), = s.tests
            assert test == "absolute"
            e = cal.population_eps(s.marginals[0], s.marginals[1], order=order)
            assert e == pytest.approx(s.eps0, abs=1e-8), s.name
    assert cal.power_scenarios() and cal.coverage_scenarios() and cal.sample_size_scenarios()


# ----------------------------------------------------------------------------- fast subset

def _scenario(name, marginals, *, design="paired", tests, n=100, **kwargs):
    rho = 0.5 if design == "paired" else 0.0
    return cal.Scenario(name, "fast", tuple(marginals), (n,) * len(marginals), design, rho,
                        tests, **kwargs)


def _assert_level(results, *, familywise=True):
    for r in results:
        label = f"{r.test} order {r.order}"
        assert r.pair.estimate <= ALPHA + FAST_BAND, f"{label}: pair rate {r.pair.estimate}"
        if familywise:  # alpha everywhere, also where Delta = 0 with both directions null
            assert r.familywise.estimate <= ALPHA + FAST_BAND, \
                f"{label}: family-wise rate {r.familywise.estimate}"


def test_fast_relative_test_holds_its_level_for_identical_models():
    s = _scenario("identical", [cal.normal()] * 2, tests=(("relative", 1), ("relative", 2)),
                  conservative=True)
    _assert_level(cal.type_one_error(s, n_datasets=FAST, alpha=ALPHA, seed=1))


@pytest.mark.parametrize("scale", [
    pytest.param("raw", marks=pytest.mark.xfail(
        strict=True, reason="the paper's raw-scale z test where first-order curves cross with "
        "Delta = 0, n = 100: 0.10 family-wise over both directions here (docs/calibration.md);"
        " the default (upper semi-deviation) and the logit scale hold it")),
    "auto", "logit"])
def test_fast_relative_test_holds_its_level_when_first_order_curves_cross(scale):
    n01 = cal.normal()
    s = _scenario("crossing", [cal.boundary_affine(n01, 0.5, order=1), n01],
                  tests=(("relative", 1),), both_ways=True)
    _assert_level(cal.type_one_error(s, n_datasets=FAST, alpha=ALPHA, seed=1, scale=scale))


@pytest.mark.parametrize("scale,n", [
    pytest.param("auto", 200, marks=pytest.mark.xfail(
        strict=True, reason="second-order curves crossing with Delta = 0, independent design, "
        "n = 200: 0.095 family-wise with the default (0.21 on the raw scale); "
        "docs/calibration.md, and a CalibrationWarning at run time")),
    ("logit", 500)])
def test_fast_relative_test_holds_its_level_when_second_order_curves_cross(scale, n):
    n01 = cal.normal()
    s = _scenario("crossing", [cal.boundary_affine(n01, 0.5, order=2), n01], n=n,
                  design="independent", tests=(("relative", 2),), both_ways=True)
    _assert_level(cal.type_one_error(s, n_datasets=FAST, alpha=ALPHA, seed=1, scale=scale))


def test_fast_interior_second_order_null_holds_from_100_items():
    # issue 13: N(0.2, 1.5^2) is worse than N(0, 1) at second order (eps2 = 0.70); the claim
    # "model 0 beats model 1" was made in 0.06-0.11 of datasets at n = 100-200 before
    r, = cal.type_one_error(cal.interior_scenario(100), n_datasets=FAST, alpha=ALPHA, seed=1)
    assert r.familywise.estimate <= ALPHA + FAST_BAND and r.pair.estimate <= ALPHA + FAST_BAND


def test_fast_rank_intervals_cover_the_true_ranks():
    s = cal.Scenario("chain", "fast", tuple(cal.normal(0.1 * a) for a in range(5)), (100,) * 5,
                     tests=(("relative", 1),))
    r, = cal.rank_coverage(s, n_datasets=150, alpha=ALPHA, seed=1)
    assert r.true_ranks == (5, 4, 3, 2, 1)
    band = 2 * math.sqrt(ALPHA * (1 - ALPHA) / 150)
    assert r.simultaneous.estimate >= 1 - ALPHA - band and r.verdict == "covers"
    assert 0 < r.width < 4  # informative: some ranks are pinned down


RAW_BOUNDARY = pytest.mark.xfail(
    strict=True, reason="the paper's raw-scale z test at E = eps0 between distinct normal "
    "laws, n = 100: about 0.08 per direction at alpha / 2 (docs/calibration.md); the default "
    "(upper semi-deviation) holds it")


@pytest.mark.parametrize("scale", [pytest.param("raw", marks=RAW_BOUNDARY), "logit", "auto"])
def test_fast_absolute_test_holds_its_level_at_the_boundary(scale):
    n01 = cal.normal()
    s = _scenario("boundary", [cal.boundary_affine(n01, 0.25, order=1), n01],
                  tests=(("absolute", 1),))
    _assert_level(cal.type_one_error(s, n_datasets=FAST, alpha=ALPHA, seed=1, scale=scale))


def test_fast_absolute_test_on_one_pair_of_identical_models():
    # E = 1/2 by convention lies far inside H0 (E >= 0.25): held today
    s = _scenario("identical", [cal.normal()] * 2, tests=(("absolute", 1), ("absolute", 2)),
                  conservative=True)
    _assert_level(cal.type_one_error(s, n_datasets=FAST, alpha=ALPHA, seed=1))


@pytest.mark.parametrize("k, n", [(2, 10), (5, 10), (5, 20)])
def test_fast_binary_scores_hold_the_level_on_few_items(k, n):
    # Two Bernoulli laws are always ordered (eps 0 or 1) unless equal: identical laws are the
    # binary null where the curves meet, and at 10 or 20 items most replicates tie
    binary = cal.discrete((0.0, 1.0), (0.3, 0.7), "Bernoulli(0.7)")
    s = _scenario("binary, identical", [binary] * k, n=n, tests=cal.BOTH_TESTS,
                  conservative=True)
    _assert_level(cal.type_one_error(s, n_datasets=FAST, alpha=ALPHA, seed=1))


def test_fast_power_grows_with_the_number_of_items():
    s = _scenario("shift", [cal.normal(0.3), cal.normal()], tests=(("relative", 2),))
    rows = cal.power_curve(s, (50, 400), n_datasets=150, alpha=ALPHA, seed=1)
    small, large = (r.rejections.estimate for r in rows)
    assert rows[0].h1 and rows[0].truth == pytest.approx(-1.0)
    assert large > small and large > 0.9


@pytest.mark.parametrize("scale", [
    pytest.param("raw", marks=pytest.mark.xfail(
        strict=True, reason="the raw normal bound E + z sd under-covers an interior E at "
        "n = 500 (docs/calibration.md); the logit bound covers")),
    "logit", "auto"])
def test_fast_coverage_of_the_upper_bounds(scale):
    s = cal.Scenario("cover", "fast", (cal.normal(0.2, 1.5), cal.normal()), (500, 500),
                     tests=(("absolute", 1),))
    r, = cal.coverage(s, n_datasets=FAST, alpha=ALPHA, seed=1, scale=scale)
    assert r.truth == pytest.approx(cal.population_eps(cal.normal(0.2, 1.5), cal.normal(),
                                                       order=1))
    band = 2 * math.sqrt(r.level * (1 - r.level) / FAST)
    assert r.pair.estimate >= r.level - band and r.verdict == "covers"


def test_fast_cluster_bootstrap_holds_the_level_where_the_item_bootstrap_does_not():
    # issue 8: 50 clusters of 10 items with a model-specific cluster effect, 5 identical models
    by_name = {s.name: s for s in cal.cluster_scenarios()}
    rates = {}
    for label in ("item", "cluster"):
        s = by_name[f"clustered, identical, k=5, {label} bootstrap"]
        s = cal.Scenario(s.name, s.family, s.marginals, s.sizes, s.design, s.rho,
                         (("relative", 2),), conservative=True, cluster_size=s.cluster_size,
                         cluster_rho=s.cluster_rho, resample=s.resample)
        r, = cal.type_one_error(s, n_datasets=200, alpha=ALPHA, seed=3)
        rates[label] = r.familywise.estimate
    assert rates["item"] > 0.3  # about 0.64 with 2,000 datasets
    assert rates["cluster"] <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / 200)


def test_a_dominance_seen_on_five_items_is_not_certain():
    # model 0 beats model 1 on each of 5 items: 1 chance in 32 for two identical paired models
    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [0.5, 1.5, 2.5, 3.5, 4.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        test = riskbench.relative_test(x, n_resamples=200, seed=0)
    assert test.pvalue[0, 1] >= 1 / 32


# ----------------------------------------------------------------------------- full suite

def _id(s: cal.Scenario) -> str:
    return f"{s.name}-{s.design}-n{s.size_label}"


BOUNDARY = ("distinct laws exactly on the null boundary: the paper's normal approximation with "
            "the bootstrap sd exceeds alpha at these sizes (docs/calibration.md)")
IGNORED_CLUSTERS = ("the item bootstrap ignores the clusters: anti-conservative, which is what "
                    "this scenario shows (docs/calibration.md)")


def _null_param(s: cal.Scenario):
    if "item bootstrap" in s.name:
        return pytest.param(s, id=_id(s), marks=pytest.mark.xfail(strict=True,
                                                                  reason=IGNORED_CLUSTERS))
    if "boundary" in s.name or "crossing" in s.name:
        return pytest.param(s, id=_id(s), marks=pytest.mark.xfail(strict=False,
                                                                  reason=BOUNDARY))
    return pytest.param(s, id=_id(s))


@pytest.mark.slow
@pytest.mark.parametrize("scenario", [_null_param(s) for s in cal.null_scenarios() + [
    s for s in cal.sample_size_scenarios() if s.sizes[0] >= 30]])
def test_type_one_error(scenario):
    """2,000 datasets, B = 200: no rate above alpha + 2 SE (family-wise and per pair)."""
    failures = []
    for r in cal.type_one_error(scenario, n_datasets=2000, alpha=ALPHA, seed=0):
        for what, verdict, rate in (("family-wise", r.familywise_verdict, r.familywise),
                                    ("pair", r.pair_verdict, r.pair)):
            if verdict == "ANTI-CONSERVATIVE":
                failures.append(f"{r.test} order {r.order} {what}: {rate.estimate:.3f}")
    assert not failures, "; ".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", cal.coverage_scenarios(), ids=_id)
def test_coverage(scenario):
    bad = [f"{r.test} order {r.order}: {r.pair.estimate:.3f} < {r.level:.4f}"
           for r in cal.coverage(scenario, n_datasets=2000, alpha=ALPHA, seed=0)
           if r.verdict != "covers"]
    assert not bad, "; ".join(bad)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", cal.power_scenarios(), ids=_id)
def test_power_grows_with_n_and_reaches_one_for_clear_alternatives(scenario):
    """500 datasets per size: under H1 power does not fall with n, and it exceeds 0.9 at
    n = 5,000 when the truth is at least 0.5 away from the null boundary."""
    rows = cal.power_curve(scenario, (100, 500, 5000), n_datasets=500, alpha=ALPHA, seed=0)
    rows = sorted(rows, key=lambda r: (r.test, r.order))
    for (test, order), group in itertools.groupby(rows, key=lambda r: (r.test, r.order)):
        by_n = {r.n: r for r in group}
        small, large = by_n[100], by_n[5000]
        if not large.h1:
            continue
        assert large.rejections.estimate >= small.rejections.estimate \
            - 2 * small.rejections.se, f"{test} order {order}: power falls with n"
        boundary = scenario.eps0 if test == "absolute" else 0.0
        if boundary - large.truth >= 0.5:
            assert large.rejections.estimate > 0.9, f"{test} order {order}: " \
                f"{large.rejections.estimate:.3f} at n = 5000"


@pytest.mark.slow
@pytest.mark.parametrize("scenario", cal.rank_coverage_scenarios(), ids=_id)
@pytest.mark.parametrize("correction", ["bonferroni", "holm"])
def test_rank_intervals_cover_simultaneously(scenario, correction):
    """1,000 datasets: every model's true rank inside its interval in >= 1 - alpha - 2 SE."""
    bad = [f"order {r.order}: {r.simultaneous.estimate:.3f}"
           for r in cal.rank_coverage(scenario, n_datasets=1000, alpha=ALPHA, seed=0,
                                      correction=correction) if r.verdict != "covers"]
    assert not bad, "; ".join(bad)
