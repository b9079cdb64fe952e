"""Calibration of the dominance tests by simulation (issue 7).

A test that claims level alpha must reject a true null hypothesis in at most a share alpha of
datasets. This module simulates many datasets from score distributions whose violation ratios
are known exactly, runs the tests of :mod:`riskbench.inference` on each, and reports rejection
rates with binomial standard errors:

* type-I error under null scenarios (identical laws; distinct laws with Delta = 0 for the
  relative test; pairs whose true violation ratio is exactly eps0, the least-favourable null, for
  the absolute test), family-wise ("any false rejection", default Bonferroni correction) and for
  one designated ordered pair without correction;
* power against shifts and spread changes;
* coverage of the one-sided bootstrap upper bounds of E[i, j] and Delta[i, j].

Data model. Model a's score on item t is ``Q_a(Phi(Z[a, t]))`` with ``Z[a, t] = sqrt(rho) U_t +
sqrt(1 - rho) e[a, t]`` (a Gaussian copula): the quantile function ``Q_a`` fixes model a's score
distribution exactly, and rho is the correlation that item difficulty induces between models.
Paired-design scenarios use rho = 0.5 (models answer the same prompts); independent-design
scenarios use rho = 0 (that design assumes independent samples).

Speed. Each simulated dataset is bootstrapped with the compiled kernels of
:func:`riskbench.bootstrap` and tested with :func:`riskbench.inference.relative_test_from` /
:func:`~riskbench.inference.absolute_test_from`; only the resample counts come from one
generator per scenario instead of one Philox stream per replicate
(:class:`riskbench.backends.Resampler`), because drawing those streams costs more than the kernel
at these sizes. On the same counts both paths give the same numbers (a test checks).
"""

from __future__ import annotations

import math
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields

import numpy as np
from scipy.special import ndtr, ndtri

from riskbench._samples import Samples
from riskbench.backends import ReplicateJob, resolve
from riskbench.dominance import (
    check_order,
    common_scale,
    one_vs_all,
    pairwise_ragged,
    pairwise_sorted,
)
from riskbench.equality import EqualityAccumulator, legendre_features
from riskbench.errors import CalibrationWarning, InputError
from riskbench.inference import (
    Bootstrap,
    PairwiseTest,
    absolute_test_from,
    logit_sd,
    relative_test_from,
    resampling_units,
    upper_sd,
)
from riskbench.ranking import rank_intervals

__all__ = [
    "Marginal",
    "Scenario",
    "Rate",
    "NullResult",
    "PowerResult",
    "CoverageResult",
    "normal",
    "lognormal",
    "pareto_loss",
    "discrete",
    "affine",
    "mixture",
    "population_eps",
    "population_matrix",
    "boundary_affine",
    "boundary_mixture",
    "simulate",
    "bootstrap_from_counts",
    "simulate_bootstrap",
    "serial_kernels",
    "type_one_error",
    "power_curve",
    "coverage",
    "RankCoverageResult",
    "rank_coverage",
    "rank_coverage_scenarios",
    "verdict",
    "null_scenarios",
    "cluster_scenarios",
    "sample_size_scenarios",
    "power_scenarios",
    "coverage_scenarios",
]

TESTS = ("relative", "absolute")
BOTH_TESTS = (("relative", 1), ("relative", 2), ("absolute", 1), ("absolute", 2))

# uniforms are kept inside (0, 1) so that quantile functions stay finite
_U_MIN = 1e-300
_U_MAX = 1.0 - 2.0**-53
_SQRT_2PI = math.sqrt(2.0 * math.pi)


# ----------------------------------------------------------------------------- distributions

@dataclass(frozen=True, eq=False)
class Marginal:
    """A score distribution, by its quantile function Q and integrated quantile function G.

    Build one with :func:`normal`, :func:`lognormal`, :func:`pareto_loss`, :func:`discrete`,
    :func:`affine` or :func:`mixture` (plain data, so scenarios can be sent to worker processes).

    Attributes
    ----------
    kind : {"normal", "lognormal", "pareto_loss", "discrete", "affine"}
    params : tuple of float
        normal: (loc, scale); lognormal: (sigma,); pareto_loss: (shape,); affine: (loc, scale).
    values, probs : tuple of float
        Support (ascending) and probabilities of a discrete law.
    base : Marginal or None
        The law that ``affine`` transforms.
    label : str
    """

    kind: str
    params: tuple[float, ...] = ()
    values: tuple[float, ...] = ()
    probs: tuple[float, ...] = ()
    base: Marginal | None = None
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.kind

    @property
    def breaks(self) -> tuple[float, ...]:
        """Points in (0, 1) where Q jumps (discrete laws); integrals are split there."""
        if self.kind == "discrete":
            return tuple(float(c) for c in np.cumsum(self.probs)[:-1])
        return self.base.breaks if self.base is not None else ()

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantile function Q(u) = inf{x : F(x) >= u}, vectorised over u in (0, 1)."""
        u = np.asarray(u, dtype=float)
        if self.kind == "normal":
            return self.params[0] + self.params[1] * ndtri(u)
        if self.kind == "lognormal":
            return np.exp(self.params[0] * ndtri(u))
        if self.kind == "pareto_loss":
            return -(u ** (-1.0 / self.params[0]))
        if self.kind == "discrete":
            cum = np.cumsum(self.probs)
            idx = np.minimum(np.searchsorted(cum, u, side="left"), len(self.values) - 1)
            return np.asarray(self.values)[idx]
        return self.params[0] + self.params[1] * self.base.ppf(u)

    def lorenz(self, p: np.ndarray) -> np.ndarray:
        """Integrated quantile function G(p) = int_0^p Q(u) du (METHOD.md section 1)."""
        p = np.asarray(p, dtype=float)
        if self.kind == "normal":
            with np.errstate(over="ignore", invalid="ignore"):
                z = ndtri(p)
                density = np.where(np.isfinite(z), np.exp(-0.5 * z * z) / _SQRT_2PI, 0.0)
            return self.params[0] * p - self.params[1] * density
        if self.kind == "lognormal":
            sigma = self.params[0]
            return math.exp(sigma * sigma / 2.0) * ndtr(ndtri(p) - sigma)
        if self.kind == "pareto_loss":
            a = 1.0 - 1.0 / self.params[0]
            return -(p**a) / a
        if self.kind == "discrete":
            probs = np.asarray(self.probs)
            lower = np.concatenate([[0.0], np.cumsum(probs)[:-1]])
            return (np.clip(p[..., None] - lower, 0.0, probs) * np.asarray(self.values)).sum(-1)
        return self.params[0] * p + self.params[1] * self.base.lorenz(p)


def normal(loc: float = 0.0, scale: float = 1.0) -> Marginal:
    """N(loc, scale^2); G(p) = loc p - scale phi(Phi^-1(p))."""
    return Marginal("normal", (float(loc), float(scale)), label=f"N({loc:g}, {scale:g}^2)")


def lognormal(sigma: float = 1.0) -> Marginal:
    """exp(N(0, sigma^2)): a heavy upper tail; G(p) = e^(sigma^2/2) Phi(Phi^-1(p) - sigma)."""
    return Marginal("lognormal", (float(sigma),), label=f"lognormal(sigma={sigma:g})")


def pareto_loss(shape: float = 2.5) -> Marginal:
    """Minus a Pareto(shape) loss with minimum 1: a heavy lower tail (rare disastrous items).

    Q(u) = -u^(-1/shape) and G(p) = -p^(1 - 1/shape) / (1 - 1/shape); ``shape`` > 2 keeps the
    variance, and so the first-order violation ratio, finite.
    """
    if not shape > 2:
        raise InputError(f"pareto_loss needs shape > 2 (finite variance); got {shape!r}")
    return Marginal("pareto_loss", (float(shape),), label=f"-Pareto(shape={shape:g})")


def discrete(values: Sequence[float], probs: Sequence[float], label: str = "") -> Marginal:
    """A law on finitely many scores (heavy ties): ``values`` ascending, ``probs`` sum to 1."""
    v = np.asarray(values, dtype=float)
    p = np.asarray(probs, dtype=float)
    if v.ndim != 1 or v.shape != p.shape or np.any(np.diff(v) <= 0) or np.any(p < 0) \
            or not math.isclose(p.sum(), 1.0, abs_tol=1e-9):
        raise InputError("discrete needs ascending values and as many probabilities, summing "
                         "to 1")
    keep = p > 0
    p = p[keep] / p[keep].sum()
    text = label or "{" + ", ".join(f"{a:g}: {b:.3f}" for a, b in zip(v[keep], p,
                                                                         strict=True)) + "}"
    return Marginal("discrete", values=tuple(v[keep].tolist()), probs=tuple(p.tolist()),
                    label=text)


def affine(base: Marginal, loc: float, scale: float) -> Marginal:
    """The law of loc + scale X for X ~ base (scale > 0)."""
    if not scale > 0:
        raise InputError(f"affine needs scale > 0; got {scale!r}")
    return Marginal("affine", (float(loc), float(scale)), base=base,
                    label=f"{loc:+.4g} + {scale:g} x {base.name}")


def mixture(values: Sequence[float], a: Sequence[float], c: Sequence[float],
            theta: float) -> Marginal:
    """The discrete law (1 - theta) a + theta c on ``values``."""
    return discrete(values, (1.0 - theta) * np.asarray(a, float) + theta * np.asarray(c, float))


def population_eps(x: Marginal, y: Marginal, *, order: int) -> float:
    """The population violation ratio eps_order(X, Y) of METHOD.md section 3, by quadrature.

    Order 1 integrates (Q_Y - Q_X)^2 and its positive part over (0, 1); order 2 does the same
    with G_Y - G_X. Discrete laws split the integrals at their jumps. Continuous laws are
    integrated in z = Phi^-1(u) over the real line (du = phi(z) dz), where heavy tails are
    smooth and decaying instead of singular at u = 0 or 1. Identical laws give 1/2, the
    convention of METHOD.md.
    """
    order = check_order(order)
    curve = (lambda m, u: m.ppf(u)) if order == 1 else (lambda m, u: m.lorenz(u))

    def gap(u: float) -> float:
        return float(curve(y, u) - curve(x, u))

    if x.breaks or y.breaks:
        edges = [0.0, *sorted(set(x.breaks) | set(y.breaks)), 1.0]
        pieces = [(gap, lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    else:
        def gap_z(z: float) -> float:
            # phi(z) is 0 where Phi(z) rounds to 0 or 1, so clipping u changes nothing
            weight = math.exp(-0.5 * z * z) / _SQRT_2PI
            return gap(min(max(float(ndtr(z)), _U_MIN), _U_MAX)) * math.sqrt(weight)

        pieces = [(gap_z, -np.inf, 0.0), (gap_z, 0.0, np.inf)]
    from scipy import integrate  # here: riskbench.power imports this module at package import

    num = den = 0.0
    for fn, lo, hi in pieces:
        num += integrate.quad(lambda t, f=fn: max(f(t), 0.0) ** 2, lo, hi, limit=400)[0]
        den += integrate.quad(lambda t, f=fn: f(t) ** 2, lo, hi, limit=400)[0]
    return 0.5 if not den > 0 else min(max(num / den, 0.0), 1.0)


def population_matrix(marginals: Sequence[Marginal], *, order: int) -> np.ndarray:
    """(k, k) population violation ratios E[i, j] (NaN diagonal; E[j, i] = 1 - E[i, j])."""
    k = len(marginals)
    out = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(i + 1, k):
            out[i, j] = population_eps(marginals[i], marginals[j], order=order)
            out[j, i] = 1.0 - out[i, j]
    return out


def _brent(fn: Callable[[float], float], lo: float, hi: float) -> float:
    from scipy import optimize

    return optimize.brentq(fn, lo, hi, xtol=1e-12, rtol=1e-12, maxiter=200)


def boundary_affine(base: Marginal, eps0: float, *, order: int, scale: float = 0.5) -> Marginal:
    """X = mu + scale * base, with the population eps_order(X, base) equal to eps0.

    With scale != 1 the curves of X and of the base cross, and eps falls continuously from 1 to
    0 as mu grows, so Brent's method finds mu (bracket found by doubling).
    """
    def gap(mu: float) -> float:
        return population_eps(affine(base, mu, scale), base, order=order) - eps0

    lo, hi = -1.0, 1.0
    while gap(lo) < 0:
        lo *= 2.0
    while gap(hi) > 0:
        hi *= 2.0
    return affine(base, _brent(gap, lo, hi), scale)


def boundary_mixture(y: Marginal, values: Sequence[float], a: Sequence[float],
                     c: Sequence[float], eps0: float, *, order: int) -> Marginal:
    """The mixture (1 - theta) a + theta c on ``values`` with eps_order(X, y) = eps0.

    ``a`` must violate less than eps0 against ``y`` and ``c`` more; theta -> eps is continuous.
    """
    def gap(theta: float) -> float:
        return population_eps(mixture(values, a, c, theta), y, order=order) - eps0

    if not gap(0.0) < 0 < gap(1.0):
        raise InputError("boundary_mixture: law a must violate less than eps0 and c more")
    return mixture(values, a, c, _brent(gap, 0.0, 1.0))


# ----------------------------------------------------------------------------- scenarios

@dataclass(frozen=True, eq=False)
class Scenario:
    """A data-generating process and the tests to run on its datasets.

    Attributes
    ----------
    name : str
        With ``design`` and the sizes, it seeds the scenario's generator, so a scenario's
        numbers do not depend on which other scenarios run.
    family : str
        Heading it is reported under ("continuous", "ties", "heavy tails", ...).
    marginals : tuple of Marginal, one per model
    sizes : tuple of int
        Items per model (all equal for the paired design).
    design : {"paired", "independent"}
    rho : float
        Item correlation of the Gaussian copula (0 for unequal sizes).
    tests : tuple of (test, order)
        test in {"relative", "absolute"}, order in {1, 2}.
    eps0 : float
        Threshold of the absolute test.
    pair : (int, int)
        The ordered pair (i, j), "i beats j", whose uncorrected type-I error, power or coverage
        is reported.
    conservative : bool
        The null is not least favourable (e.g. E = 1/2 > eps0 for the absolute test at
        identical laws), so a type-I error below alpha is expected.
    note : str
    cluster_size : int
        Items per cluster (1: independent items). Clustered items share a model-specific
        cluster effect (e.g. one model is good on one passage's questions).
    cluster_rho : float
        Share of each model's latent variance that is the cluster effect.
    resample : {"items", "clusters"}
        What the bootstrap resamples (METHOD.md section 14).
    both_ways : bool
        Delta = 0 exactly between distinct laws: "i beats j" and "j beats i" are both true
        nulls. The correction over the k(k-1) ordered pairs (METHOD.md section 6) bounds the
        family-wise error by alpha there too; these rows are judged against alpha like all.
    nulls : tuple of (int, int), optional
        The ordered pairs "i beats j" that are true nulls, when not all are (e.g. an interior
        null whose reverse claim is true): the family-wise error counts false claims only.
    """

    name: str
    family: str
    marginals: tuple[Marginal, ...]
    sizes: tuple[int, ...]
    design: str = "paired"
    rho: float = 0.5
    tests: tuple[tuple[str, int], ...] = BOTH_TESTS
    eps0: float = 0.25
    pair: tuple[int, int] = (0, 1)
    conservative: bool = False
    note: str = ""
    cluster_size: int = 1
    cluster_rho: float = 0.0
    resample: str = "items"
    both_ways: bool = False
    nulls: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        if len(self.marginals) < 2 or len(self.sizes) != len(self.marginals):
            raise InputError(f"scenario {self.name!r}: need one size per model and >= 2 models")
        if self.design == "paired" and len(set(self.sizes)) != 1:
            raise InputError(f"scenario {self.name!r}: the paired design needs equal sizes")
        if len(set(self.sizes)) != 1 and self.rho != 0:
            raise InputError(f"scenario {self.name!r}: unequal sizes share no items; rho = 0")
        for test, order in self.tests:
            if test not in TESTS:
                raise InputError(f"scenario {self.name!r}: unknown test {test!r}")
            check_order(order)

    @property
    def k(self) -> int:
        return len(self.marginals)

    @property
    def orders(self) -> tuple[int, ...]:
        return tuple(sorted({o for _, o in self.tests}))

    @property
    def size_label(self) -> str:
        return str(self.sizes[0]) if len(set(self.sizes)) == 1 else "/".join(map(str,
                                                                                 self.sizes))

    def resized(self, n: int) -> Scenario:
        """The same scenario with n items per model."""
        return Scenario(self.name, self.family, self.marginals, (int(n),) * self.k, self.design,
                        self.rho, self.tests, self.eps0, self.pair, self.conservative, self.note,
                        self.cluster_size, self.cluster_rho, self.resample, self.both_ways,
                        self.nulls)

    @property
    def clusters(self) -> np.ndarray | None:
        """Cluster code of each item position when the bootstrap resamples clusters."""
        if self.resample != "clusters":
            return None
        return np.arange(self.sizes[0]) // self.cluster_size

    def rng(self, seed: int, stream: int) -> np.random.Generator:
        """Generator of one stream (0: data, 1: bootstrap resamples) of this scenario."""
        key = zlib.crc32(f"{self.name}|{self.design}|{self.size_label}".encode())
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key, stream)))


def simulate(scenario: Scenario, n_datasets: int,
             rng: np.random.Generator) -> list[list[np.ndarray]]:
    """``n_datasets`` datasets of the scenario, each a list of k score arrays."""
    if len(set(scenario.sizes)) == 1:
        n = scenario.sizes[0]
        z = rng.standard_normal((n_datasets, scenario.k, n))
        if scenario.cluster_size > 1:
            n_clusters = -(-n // scenario.cluster_size)
            effect = rng.standard_normal((n_datasets, scenario.k, n_clusters))
            effect = np.repeat(effect, scenario.cluster_size, axis=2)[:, :, :n]
            z = math.sqrt(scenario.cluster_rho) * effect + math.sqrt(1 - scenario.cluster_rho) * z
        if scenario.rho > 0:
            item = rng.standard_normal((n_datasets, 1, n))
            z = math.sqrt(scenario.rho) * item + math.sqrt(1.0 - scenario.rho) * z
        u = np.clip(ndtr(z), _U_MIN, _U_MAX)
        cols = [m.ppf(u[:, a]) for a, m in enumerate(scenario.marginals)]
    else:
        cols = [m.ppf(np.clip(rng.random((n_datasets, n)), _U_MIN, _U_MAX))
                for m, n in zip(scenario.marginals, scenario.sizes, strict=True)]
    return [[c[d] for c in cols] for d in range(n_datasets)]


# ----------------------------------------------------------------------------- bootstrap

_BOOTSTRAP_FIELDS = {f.name for f in fields(Bootstrap)}


def bootstrap_from_counts(values: Sequence[np.ndarray], counts: list[np.ndarray], *,
                          design: str, orders: tuple[int, ...], seed: int = 0,
                          engine: str | None = None,
                          clusters: np.ndarray | None = None) -> tuple[Bootstrap, ...]:
    """What :func:`riskbench.bootstrap` returns for these resamples, one result per order.

    Parameters
    ----------
    values : k arrays of scores
    counts : list of int arrays
        How often each score is drawn, as :meth:`riskbench.backends.Resampler.counts` returns
        them: ``[(B, n)]`` shared by all models (paired design), or one ``(B, n_a)`` array per
        model (independent design).
    design : {"paired", "independent"}
    orders : tuple of int
    seed : int
        Only recorded in the results.
    engine : {"numba", "numpy"}, optional
        Default: the engine ``backend="auto"`` picks.

    Notes
    -----
    The same steps as :func:`riskbench.bootstrap`: sort each model once, map all onto [-1, 1],
    expand the sorted data by the counts and run the engine's exact kernels; the sd of each
    E[i, j] is taken over the replicates.
    """
    values = [np.asarray(v, dtype=float) for v in values]
    k = len(values)
    samples = Samples(tuple(f"m{a}" for a in range(k)), tuple(values),
                      aligned=len({v.size for v in values}) == 1, clusters=clusters)
    order_idx = [np.argsort(v, kind="stable") for v in values]
    scaled = common_scale([v[o] for v, o in zip(values, order_idx, strict=True)])
    job = ReplicateJob(tuple(scaled), tuple(order_idx), design, orders, seed)
    engine = engine or resolve("auto")
    if engine == "numba" and job.equal_sizes:
        from riskbench.backends._numba import replicate_matrices

        reps = replicate_matrices(job, counts)  # (orders, B, k, k)
    else:
        from riskbench.backends._numpy import pairwise, sorted_resamples

        # every model's resamples keep its size, so the ragged kernel takes all replicates at
        # once (the engine's generic path loops over replicates when sizes differ)
        q = sorted_resamples(list(scaled), order_idx, counts)
        reps = np.stack([pairwise(q, order) for order in orders])
    equality = EqualityAccumulator(legendre_features(values), reps.shape[1])
    equality.add(0, reps.shape[1], counts)
    gate = equality.pvalues(resampling_units(samples))
    out = []
    for u, order in enumerate(orders):
        if job.equal_sizes:
            point = pairwise_sorted(np.stack(scaled)[None], order)[0][0]
        else:
            point = pairwise_ragged([v[None] for v in scaled], order)[0][0]
        extra = {}
        if "eps_matrix_replicates" in _BOOTSTRAP_FIELDS:
            # riskbench versions whose Bootstrap keeps the (B, k, k) replicates take them too
            extra["eps_matrix_replicates"] = reps[u]
        out.append(Bootstrap(samples, order, design, reps.shape[1], seed, point,
                             one_vs_all(point), one_vs_all(reps[u]),
                             np.std(reps[u], axis=0, ddof=1), backend=engine,
                             equality_pvalue=gate,
                             eps_matrix_logit_sd=logit_sd(reps[u], 0.5 / resampling_units(samples)),
                             eps_matrix_upper_sd=_upper(reps[u], point), **extra))
    return tuple(out)


def _upper(reps: np.ndarray, point: np.ndarray) -> np.ndarray:
    out = upper_sd(reps, point)
    np.fill_diagonal(out, np.nan)
    return out


def _draw_counts(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    """(b, n) counts of b resamples of n items with replacement."""
    flat = rng.integers(0, n, size=(b, n)) + n * np.arange(b)[:, None]
    return np.bincount(flat.ravel(), minlength=b * n).reshape(b, n)


def simulate_bootstrap(values: Sequence[np.ndarray], *, design: str, orders: tuple[int, ...],
                       n_resamples: int, rng: np.random.Generator,
                       engine: str | None = None,
                       clusters: np.ndarray | None = None) -> tuple[Bootstrap, ...]:
    """Bootstrap one dataset with B = ``n_resamples`` resamples drawn from ``rng``
    (``clusters``: cluster code of each item; clusters are resampled instead of items)."""
    sizes = [len(v) for v in values]
    if clusters is not None:
        n_clusters = int(clusters.max()) + 1
        slots = 1 if design == "paired" else len(values)
        counts = [_draw_counts(rng, n_clusters, n_resamples)[:, clusters] for _ in range(slots)]
    elif design == "paired":
        counts = [_draw_counts(rng, sizes[0], n_resamples)]
    else:
        counts = [_draw_counts(rng, n, n_resamples) for n in sizes]
    return bootstrap_from_counts(values, counts, design=design, orders=orders, engine=engine,
                                 clusters=clusters)


@contextmanager
def serial_kernels() -> Iterator[None]:
    """Run the compiled kernels on one thread in this block.

    One small dataset (k = 5, n = 100, B = 200) is too little work to share out: waking the
    thread pool for every dataset made a simulation three times slower on 2 cores. Runs are
    parallelised over scenarios instead (``scripts/calibrate.py``).
    """
    try:
        import numba
    except ImportError:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _tests(scenario: Scenario, *, n_datasets: int, n_resamples: int, alpha: float,
           scale: str = "auto",
           seed: int, chunk: int = 200) -> Iterator[dict[tuple[str, int], PairwiseTest]]:
    """Yield ``{(test, order): PairwiseTest}`` for each simulated dataset, in order."""
    data_rng = scenario.rng(seed, 0)
    boot_rng = scenario.rng(seed, 1)
    done = 0
    # small samples are simulated on purpose: their measured rates are what the run-time
    # CalibrationWarning refers to
    with serial_kernels(), warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        while done < n_datasets:
            for values in simulate(scenario, min(chunk, n_datasets - done), data_rng):
                boots = dict(zip(scenario.orders, simulate_bootstrap(
                    values, design=scenario.design, orders=scenario.orders,
                    n_resamples=n_resamples, rng=boot_rng, clusters=scenario.clusters),
                    strict=True))
                yield {(t, o): relative_test_from(boots[o], alpha=alpha, scale=scale)
                       if t == "relative" else
                       absolute_test_from(boots[o], eps0=scenario.eps0, alpha=alpha, scale=scale)
                       for t, o in scenario.tests}
                done += 1


# ----------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Rate:
    """A share ``count / n`` of simulated datasets, with its binomial standard error."""

    count: int
    n: int

    @property
    def estimate(self) -> float:
        return self.count / self.n

    @property
    def se(self) -> float:
        """sqrt(r (1 - r) / n) at the observed rate r."""
        r = self.estimate
        return math.sqrt(r * (1.0 - r) / self.n)


def verdict(rate: Rate, alpha: float, *, conservative_ok: bool) -> str:
    """Judge a type-I error rate against alpha with the binomial SE at alpha.

    Returns "calibrated" (within alpha +- 2 SE), "conservative (expected)" or "conservative"
    (below; expected with Bonferroni over several pairs or a null that is not least
    favourable), or "ANTI-CONSERVATIVE" (above alpha + 2 SE: the test fails its level).
    """
    band = 2.0 * math.sqrt(alpha * (1.0 - alpha) / rate.n)
    if rate.estimate > alpha + band:
        return "ANTI-CONSERVATIVE"
    if rate.estimate < alpha - band:
        return "conservative (expected)" if conservative_ok else "conservative"
    return "calibrated"


def _describe(scenario: Scenario) -> dict:
    return {"scenario": scenario.name, "family": scenario.family, "design": scenario.design,
            "k": scenario.k, "n": scenario.size_label,
            "models": ", ".join(dict.fromkeys(m.name for m in scenario.marginals)),
            "note": scenario.note}


@dataclass(frozen=True)
class NullResult:
    """Type-I error of one test at one order in one null scenario.

    Attributes
    ----------
    familywise : Rate
        Datasets with any false rejection (default Bonferroni over the k(k-1) ordered pairs;
        every hypothesis of the family is true unless the scenario names its ``nulls``).
    pair : Rate
        Datasets where the raw p-value of the designated pair is below alpha (one hypothesis,
        no correction).
    zero_sd : Rate
        Datasets where the bootstrap sd of the designated pair's statistic was 0 (every
        replicate equal), so that its p-value was 0 or 1.
    conservative : bool
        A rate below alpha is expected for the pair (null not least favourable).
    """

    info: dict
    test: str
    order: int
    alpha: float
    n_resamples: int
    familywise: Rate
    pair: Rate
    zero_sd: Rate
    conservative: bool
    seconds: float
    familywise_level: float | None = None

    @property
    def n_comparisons(self) -> int:
        return self.info["k"] * (self.info["k"] - 1)

    @property
    def familywise_verdict(self) -> str:
        # Bonferroni over several pairs is conservative by construction
        ok = self.conservative or self.n_comparisons > 1
        level = self.alpha if self.familywise_level is None else self.familywise_level
        return verdict(self.familywise, level, conservative_ok=ok)

    @property
    def pair_verdict(self) -> str:
        return verdict(self.pair, self.alpha, conservative_ok=self.conservative)


def type_one_error(scenario: Scenario, *, n_datasets: int = 2000, n_resamples: int = 200,
                   alpha: float = 0.05, seed: int = 0, scale: str = "auto") -> list[NullResult]:
    """Type-I error of each test of a null scenario.

    Parameters
    ----------
    scenario : Scenario
        Every hypothesis "i beats j" must be false in it (all models identical, or the
        designated pair on the boundary and the rest in the null).
    n_datasets : int
        Simulated datasets; the binomial SE at alpha = 0.05 is 0.0049 for 2,000.
    n_resamples : int
        B per dataset.
    alpha : float
    seed : int

    Returns
    -------
    list of NullResult, one per (test, order) of the scenario.

    Notes
    -----
    1. Simulate the datasets (generator seeded by ``seed`` and the scenario).
    2. Bootstrap each once for all the orders it needs and run each requested test with its
       default (Bonferroni) correction.
    3. Count datasets with any rejection, datasets where the designated pair's raw p-value is
       below alpha, and datasets where its bootstrap sd was 0.
    """
    start = time.perf_counter()
    keys = scenario.tests
    fw, pr, zero = (dict.fromkeys(keys, 0) for _ in range(3))
    i, j = scenario.pair
    false = np.ones((scenario.k, scenario.k), dtype=bool)
    if scenario.nulls is not None:
        false[:] = False
        for a, b in scenario.nulls:
            false[a, b] = True
    for tests in _tests(scenario, n_datasets=n_datasets, n_resamples=n_resamples, alpha=alpha,
                        seed=seed, scale=scale):
        for key, t in tests.items():
            fw[key] += bool((t.reject & false).any())
            pr[key] += bool(t.pvalue[i, j] < alpha)
            zero[key] += bool(t.sd[i, j] == 0)
    seconds = time.perf_counter() - start
    level = alpha  # over the k(k-1) ordered pairs, also where both directions are null
    return [NullResult(_describe(scenario), t, o, alpha, n_resamples, Rate(fw[t, o], n_datasets),
                       Rate(pr[t, o], n_datasets), Rate(zero[t, o], n_datasets),
                       scenario.conservative, seconds, level) for t, o in keys]


@dataclass(frozen=True)
class PowerResult:
    """Rejection rate of "i beats j" for the designated pair, with its true statistic.

    ``truth`` is the population E[i, j] (absolute test) or Delta[i, j] (relative test);
    ``h1`` says whether the alternative holds (E < eps0, resp. Delta < 0).
    """

    info: dict
    test: str
    order: int
    alpha: float
    n_resamples: int
    n: int
    truth: float
    h1: bool
    rejections: Rate
    seconds: float


def _truth(marginals: Sequence[Marginal], order: int) -> tuple[np.ndarray, np.ndarray]:
    """Population E (k, k) and Delta (k, k) matrices."""
    e = population_matrix(marginals, order=order)
    eps = one_vs_all(e)
    delta = eps[:, None] - eps[None, :]
    np.fill_diagonal(delta, np.nan)
    return e, delta


def power_curve(scenario: Scenario, sizes: Sequence[int], *, n_datasets: int = 500,
                n_resamples: int = 200, alpha: float = 0.05, seed: int = 0,
                scale: str = "auto") -> list[PowerResult]:
    """Share of datasets in which each test declares that ``scenario.pair[0]`` beats
    ``scenario.pair[1]``, at each size n (items per model)."""
    i, j = scenario.pair
    truths = {o: _truth(scenario.marginals, o) for o in scenario.orders}
    out = []
    for n in sizes:
        sized = scenario.resized(n)
        start = time.perf_counter()
        hits = dict.fromkeys(sized.tests, 0)
        for tests in _tests(sized, n_datasets=n_datasets, n_resamples=n_resamples, alpha=alpha,
                            seed=seed, scale=scale):
            for key, t in tests.items():
                hits[key] += bool(t.reject[i, j])
        seconds = time.perf_counter() - start
        for t, o in sized.tests:
            e, delta = truths[o]
            truth = float(e[i, j] if t == "absolute" else delta[i, j])
            h1 = truth < (scenario.eps0 if t == "absolute" else 0.0)
            out.append(PowerResult(_describe(sized), t, o, alpha, n_resamples, int(n), truth, h1,
                                   Rate(hits[t, o], n_datasets), seconds))
    return out


@dataclass(frozen=True)
class CoverageResult:
    """Coverage of the one-sided upper confidence bounds ``high`` of a test's statistic.

    ``pair``: datasets where high[i, j] >= the true value for the designated pair, to compare
    with ``level`` (the per-pair confidence level, 1 - alpha/M with Bonferroni).
    ``simultaneous``: datasets where every off-diagonal bound holds.
    """

    info: dict
    test: str
    order: int
    alpha: float
    n_resamples: int
    truth: float
    level: float
    pair: Rate
    simultaneous: Rate
    seconds: float

    @property
    def verdict(self) -> str:
        band = 2.0 * math.sqrt(self.level * (1.0 - self.level) / self.pair.n)
        return "covers" if self.pair.estimate >= self.level - band else "UNDER-COVERS"


def coverage(scenario: Scenario, *, n_datasets: int = 2000, n_resamples: int = 200,
             alpha: float = 0.05, seed: int = 0, scale: str = "auto") -> list[CoverageResult]:
    """Coverage of the upper bounds of E (absolute test) and Delta (relative test)."""
    start = time.perf_counter()
    i, j = scenario.pair
    truths = {o: _truth(scenario.marginals, o) for o in scenario.orders}
    off = ~np.eye(scenario.k, dtype=bool)
    pair, every = (dict.fromkeys(scenario.tests, 0) for _ in range(2))
    level = {}
    for tests in _tests(scenario, n_datasets=n_datasets, n_resamples=n_resamples, alpha=alpha,
                        seed=seed, scale=scale):
        for (t, o), res in tests.items():
            truth = truths[o][0] if t == "absolute" else truths[o][1]
            held = res.confidence_interval.high >= truth
            pair[t, o] += bool(held[i, j])
            every[t, o] += bool(held[off].all())
            level[t, o] = res.confidence_level
    seconds = time.perf_counter() - start
    return [CoverageResult(_describe(scenario), t, o, alpha, n_resamples,
                           float(truths[o][0 if t == "absolute" else 1][i, j]), level[t, o],
                           Rate(pair[t, o], n_datasets), Rate(every[t, o], n_datasets), seconds)
            for t, o in scenario.tests]


# ----------------------------------------------------------------------------- catalogue

#: A 5-point Likert item (1..5), and two laws that bracket it: A dominates it, C is more
#: spread out (worse low, better high), so mixtures of A and C reach any violation ratio.
LIKERT = ((1.0, 2.0, 3.0, 4.0, 5.0), (0.10, 0.15, 0.25, 0.30, 0.20),
          (0.05, 0.10, 0.20, 0.35, 0.30), (0.25, 0.10, 0.10, 0.15, 0.40))
#: Scores on the grid {0, 0.1, ..., 1}: Binomial(10, 0.6)/10; A = Binomial(10, 0.7)/10;
#: C = uniform on the grid.
_GRID = tuple(round(0.1 * r, 1) for r in range(11))


def _binomial_probs(p: float) -> tuple[float, ...]:
    return tuple(math.comb(10, r) * p**r * (1 - p) ** (10 - r) for r in range(11))


GRID = (_GRID, _binomial_probs(0.6), _binomial_probs(0.7), (1.0 / 11,) * 11)


def _both_designs(name: str, family: str, marginals: tuple[Marginal, ...], n: int,
                  **kwargs) -> list[Scenario]:
    return [Scenario(name, family, marginals, (n,) * len(marginals), "paired", 0.5, **kwargs),
            Scenario(name, family, marginals, (n,) * len(marginals), "independent", 0.0,
                     **kwargs)]


def null_scenarios(*, n: int = 100, eps0: float = 0.25) -> list[Scenario]:
    """The null scenarios of the calibration suite, at n items per model.

    Relative-test nulls (all hypotheses "i beats j" false): identical laws (normal with k = 2,
    5, 20; binary, Likert and {0, 0.1, ..., 1} scores; lognormal and Pareto tails; unequal
    sizes) and, for k = 2, distinct laws whose curves cross with eps = 1/2 (Delta = 0). The
    absolute test is also run on the identical laws, where E = 1/2 by convention (a null, but
    not least favourable for eps0 < 1/2). Absolute-test nulls: the designated pair has true
    E = eps0 at the tested order (X = mu + X0/2 against X0, or a mixture for ties) and the
    other pairs are null too (k - 1 copies of X0).
    """
    normal0 = normal()
    likert_y = discrete(LIKERT[0], LIKERT[1], "Likert 1..5")
    grid_y = discrete(GRID[0], GRID[1], "Binomial(10, 0.6)/10")
    out = []
    identical = "all models identical (eps undefined; 1/2 by convention)"
    for k in (2, 5, 20):
        out += _both_designs(f"normal, identical, k={k}", "continuous", (normal0,) * k, n,
                             conservative=True, note=identical)
    for order in (1, 2):
        cross = boundary_affine(normal0, 0.5, order=order)
        out += _both_designs(f"normal, crossing (eps{order} = 1/2), k=2", "continuous",
                             (cross, normal0), n, tests=(("relative", order),),
                             note="distinct laws whose curves cross, Delta = 0: least "
                                  "favourable for the relative test; both directions are null",
                             both_ways=True)
    for label, law in (("binary (p = 0.7)", discrete((0.0, 1.0), (0.3, 0.7), "Bernoulli(0.7)")),
                       ("Likert 1..5", likert_y), ("grid {0, 0.1, ..., 1}", grid_y)):
        out += _both_designs(f"{label}, identical, k=5", "ties", (law,) * 5, n,
                             conservative=True, note=identical)
    for law in (lognormal(), pareto_loss()):
        out += _both_designs(f"{law.name}, identical, k=5", "heavy tails", (law,) * 5, n,
                             conservative=True, note=identical)
    for size in (100, 200, 500, 1000):
        out.append(interior_scenario(size))
    unequal = tuple(int(round(n * f)) for f in (0.6, 1.0, 1.5))
    out.append(Scenario("normal, identical, unequal sizes, k=3", "unequal sizes",
                        (normal0,) * 3, unequal, "independent", 0.0, conservative=True,
                        note=identical))
    boundary = f"true E[0, 1] = eps0 = {eps0:g} at the tested order; other pairs null"
    for order in (1, 2):
        x = boundary_affine(normal0, eps0, order=order)
        tests = (("absolute", order),)
        for k in (2, 5, 20):
            out += _both_designs(f"normal, boundary E{order} = eps0, k={k}", "continuous",
                                 (x,) + (normal0,) * (k - 1), n, tests=tests, eps0=eps0,
                                 note=boundary)
        for label, (values, _, pa, pc), y in (("Likert 1..5", LIKERT, likert_y),
                                               ("grid {0, 0.1, ..., 1}", GRID, grid_y)):
            mix = boundary_mixture(y, values, pa, pc, eps0, order=order)
            out += _both_designs(f"{label}, boundary E{order} = eps0, k=2", "ties", (mix, y), n,
                                 tests=tests, eps0=eps0, note=boundary)
        for law in (lognormal(), pareto_loss()):
            out += _both_designs(f"{law.name}, boundary E{order} = eps0, k=2", "heavy tails",
                                 (boundary_affine(law, eps0, order=order), law), n, tests=tests,
                                 eps0=eps0, note=boundary)
        out.append(Scenario(f"normal, boundary E{order} = eps0, unequal sizes, k=2",
                            "unequal sizes",
                            (x, normal0), (unequal[0], unequal[2]), "independent", 0.0,
                            tests=tests, eps0=eps0, note=boundary))
    return out + cluster_scenarios(eps0=eps0)


def interior_scenario(n: int) -> Scenario:
    """The interior second-order null of issue 13: N(0.2, 1.5^2) against N(0, 1), where the
    first model is *worse* at second order (true eps2 = 0.70, Delta = +0.40), so the claim
    "model 0 beats model 1" is false (the reverse claim is true and not counted)."""
    return Scenario(f"interior SSD null N(0.2, 1.5^2) vs N(0, 1), n={n}", "interior nulls",
                    (normal(0.2, 1.5), normal()), (n, n), tests=(("relative", 2),),
                    nulls=((0, 1),),
                    note="true eps2(0, 1) = 0.70 > 1/2: 'model 0 beats model 1' is false at "
                         "second order; the family-wise column counts that claim only")


def cluster_scenarios(*, n: int = 500, cluster_size: int = 10, cluster_rho: float = 0.5,
                      eps0: float = 0.25) -> list[Scenario]:
    """Clustered items (issue 8, METHOD.md section 14): n items in clusters of
    ``cluster_size`` with a model-specific cluster effect (``cluster_rho`` of the latent
    variance), paired design. Each null is run twice: bootstrapping items (ignoring the clusters,
    anti-conservative) and bootstrapping clusters (the method for such data)."""
    normal0 = normal()
    out = []
    note = (f"{n // cluster_size} clusters of {cluster_size} items, model-specific cluster "
            f"effect rho_c = {cluster_rho:g}")
    for resample in ("items", "clusters"):
        common = {"cluster_size": cluster_size, "cluster_rho": cluster_rho,
                  "resample": resample}
        label = "item" if resample == "items" else "cluster"
        out.append(Scenario(f"clustered, identical, k=5, {label} bootstrap", "clustered items",
                            (normal0,) * 5, (n,) * 5, conservative=True,
                            note="all models identical; " + note, **common))
        out.append(Scenario(f"clustered, crossing (eps1 = 1/2), k=2, {label} bootstrap",
                            "clustered items", (boundary_affine(normal0, 0.5, order=1), normal0),
                            (n, n), tests=(("relative", 1),), note="Delta = 0; " + note,
                            both_ways=True, **common))
        out.append(Scenario(f"clustered, boundary E1 = eps0, k=2, {label} bootstrap",
                            "clustered items", (boundary_affine(normal0, eps0, order=1), normal0),
                            (n, n), tests=(("absolute", 1),), eps0=eps0,
                            note="true E = eps0; " + note, **common))
    return out


def sample_size_scenarios(*, sizes: Sequence[int] = (5, 10, 20, 30, 50, 200, 500, 1000, 2000),
                          eps0: float = 0.25) -> list[Scenario]:
    """Key paired nulls at small (and one large) n: identical normals (k = 2), the crossing
    pair (Delta = 0) and the absolute-test boundary pair, to see how the level depends on n."""
    normal0 = normal()
    out = []
    for n in sizes:
        out.append(Scenario("normal, identical, k=2", f"n = {n}", (normal0, normal0), (n, n),
                            conservative=True, note="all models identical"))
        for order in (1, 2):
            out.append(Scenario(f"normal, crossing (eps{order} = 1/2), k=2", f"n = {n}",
                                (boundary_affine(normal0, 0.5, order=order), normal0), (n, n),
                                tests=(("relative", order),), note="Delta = 0",
                                both_ways=True))
            out.append(Scenario(f"normal, boundary E{order} = eps0, k=2", f"n = {n}",
                                (boundary_affine(normal0, eps0, order=order), normal0), (n, n),
                                tests=(("absolute", order),), eps0=eps0,
                                note="true E = eps0"))
    return out


def power_scenarios(*, eps0: float = 0.25) -> list[Scenario]:
    """Alternatives for the power tables: model 0 against N(0, 1), k = 2 (and one k = 5).

    Pure shifts (X = N(delta, 1): E = 0 at both orders), a smaller spread (N(0, 0.8^2): E = 0
    at order 2; at order 1 the curves cross at E = 1/2, a null), and a shift with a larger
    spread (N(0.2, 1.5^2): interior E at both orders).
    """
    y = normal()
    out = []
    for delta in (0.1, 0.25):
        out.append(Scenario(f"shift {delta:g} sd", "shift", (normal(delta, 1.0), y), (100, 100),
                            eps0=eps0))
    out.append(Scenario("shift 0.25 sd", "shift", (normal(0.25, 1.0), y), (100, 100),
                        "independent", 0.0, eps0=eps0))
    out.append(Scenario("spread 0.8", "spread", (normal(0.0, 0.8), y), (100, 100),
                        tests=(("relative", 2), ("absolute", 2)), eps0=eps0))
    out.append(Scenario("shift 0.2 sd, spread 1.5", "shift and spread", (normal(0.2, 1.5), y),
                        (100, 100), eps0=eps0))
    five = (normal(0.25, 1.0),) + (y,) * 4
    out.append(Scenario("shift 0.25 sd, one of k=5", "shift", five, (100,) * 5, eps0=eps0))
    return out


def coverage_scenarios(*, sizes: Sequence[int] = (100, 1000), eps0: float = 0.25
                       ) -> list[Scenario]:
    """Pools with interior true E and Delta: N(0.2, 1.5^2) against N(0, 1) (k = 2), and five
    normals with different means and spreads (k = 5), paired design."""
    two = (normal(0.2, 1.5), normal())
    five = (normal(0.0, 1.0), normal(0.1, 1.2), normal(0.2, 0.9), normal(-0.1, 0.7),
            normal(0.3, 1.4))
    out = []
    for n in sizes:
        out.append(Scenario("N(0.2, 1.5^2) vs N(0, 1), k=2", "coverage", two, (n, n),
                            eps0=eps0))
        out.append(Scenario("five normals, k=5", "coverage", five, (n,) * 5, eps0=eps0))
    return out


@dataclass(frozen=True)
class RankCoverageResult:
    """Simultaneous coverage of the rank intervals of :func:`riskbench.ranking.rank_intervals`.

    ``simultaneous``: datasets where every model's true rank (1 + the number of models with a
    smaller population eps_i at that order) lies in its interval, to compare with
    1 - alpha. ``width``: mean interval length (high - low), a measure of informativeness.
    """

    info: dict
    test: str
    order: int
    alpha: float
    correction: str
    n_resamples: int
    true_ranks: tuple[int, ...]
    simultaneous: Rate
    width: float
    seconds: float

    @property
    def verdict(self) -> str:
        level = 1.0 - self.alpha
        band = 2.0 * math.sqrt(level * (1.0 - level) / self.simultaneous.n)
        return "covers" if self.simultaneous.estimate >= level - band else "UNDER-COVERS"


def rank_coverage(scenario: Scenario, *, n_datasets: int = 1000, n_resamples: int = 200,
                  alpha: float = 0.05, seed: int = 0, correction: str = "bonferroni",
                  scale: str = "auto") -> list[RankCoverageResult]:
    """Coverage of the simultaneous rank intervals of the relative test, whose population
    order is known: eps_i of the population violation-ratio matrix (METHOD.md section 4)."""
    start = time.perf_counter()
    truths = {}
    for o in scenario.orders:
        eps = one_vs_all(population_matrix(scenario.marginals, order=o))
        truths[o] = 1 + (eps[None, :] < eps[:, None] - 1e-9).sum(axis=1)
    hits = dict.fromkeys(scenario.tests, 0)
    width = dict.fromkeys(scenario.tests, 0.0)
    data_rng, boot_rng = scenario.rng(seed, 0), scenario.rng(seed, 1)
    done = 0
    with serial_kernels(), warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        while done < n_datasets:
            for values in simulate(scenario, min(200, n_datasets - done), data_rng):
                boots = dict(zip(scenario.orders, simulate_bootstrap(
                    values, design=scenario.design, orders=scenario.orders,
                    n_resamples=n_resamples, rng=boot_rng, clusters=scenario.clusters),
                    strict=True))
                for t, o in scenario.tests:
                    res = relative_test_from(boots[o], alpha=alpha, correction=correction,
                                             scale=scale)
                    low, high = rank_intervals(res.reject)
                    hits[t, o] += bool(((low <= truths[o]) & (truths[o] <= high)).all())
                    width[t, o] += float((high - low).mean())
                done += 1
    seconds = time.perf_counter() - start
    return [RankCoverageResult(_describe(scenario), t, o, alpha, correction, n_resamples,
                               tuple(int(r) for r in truths[o]), Rate(hits[t, o], n_datasets),
                               width[t, o] / n_datasets, seconds) for t, o in scenario.tests]


def rank_coverage_scenarios(*, sizes: Sequence[int] = (100, 500)) -> list[Scenario]:
    """Pools with a known order for the rank intervals (relative test, paired design): five
    normals 0.1 sd apart (a chain of close neighbours), and five normals with different means
    and spreads (the coverage pool, whose order differs between first and second order)."""
    chain = tuple(normal(0.1 * a, 1.0) for a in range(5))
    mixed = (normal(0.0, 1.0), normal(0.1, 1.2), normal(0.2, 0.9), normal(-0.1, 0.7),
             normal(0.3, 1.4))
    tests = (("relative", 1), ("relative", 2))
    out = []
    for n in sizes:
        out.append(Scenario("five normals 0.1 sd apart, k=5", "rank coverage", chain,
                            (n,) * 5, tests=tests))
        out.append(Scenario("five normals, mixed spreads, k=5", "rank coverage", mixed,
                            (n,) * 5, tests=tests))
    return out
