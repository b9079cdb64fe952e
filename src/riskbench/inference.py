"""Bootstrap inference: the only place in riskbench that draws random numbers.

Tests of METHOD.md section 4 (relative R-FSD / R-SSD and absolute eps-FSD / eps-SSD), their
bootstrap standard deviations (section 5), and multiple-testing corrections (section 6).

Randomness: replicate r draws from its own Philox stream, keyed by ``SeedSequence(seed)`` and
started at counter block r (:class:`riskbench.backends.Resampler`). Replicate r is therefore the
same whatever the batch size, backend or order of evaluation, and the seed is recorded in every
result. Items can be resampled one by one, by cluster, or in two stages (items, then repeated
generations), METHOD.md sections 5 and 14.
"""

from __future__ import annotations

import hashlib
import secrets
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.special import ndtr, ndtri

from riskbench._samples import Samples, as_samples
from riskbench.backends import ReplicateJob, Resampler, resolve, run_replicates
from riskbench.backends._numpy import resample_positions
from riskbench.dominance import (
    check_order,
    one_vs_all,
    pairwise_ragged,
    pairwise_sorted,
)
from riskbench.equality import EqualityAccumulator
from riskbench.errors import (
    CalibrationWarning,
    DegenerateDataWarning,
    InputError,
    option_hint,
)
from riskbench.risk import RISK_MEASURES, check_level, mean_risk_scores

__all__ = [
    "CORRECTIONS",
    "DESIGNS",
    "ConfidenceInterval",
    "PairwiseTest",
    "Bootstrap",
    "Resampler",
    "absolute_test",
    "adjust_pvalues",
    "bootstrap",
    "relative_test",
    "score_test",
]

CORRECTIONS = ("bonferroni", "holm", "bh")
DESIGNS = ("paired", "independent")
ORDER_NAMES = {1: "first", 2: "second"}

#: float64 elements one batch of sorted resamples may hold (64 MiB).
DEFAULT_BATCH_ELEMENTS = 1 << 23
#: At most this many replicates per batch by default, so progress is reported often.
DEFAULT_BATCH_REPLICATES = 64

Progress = Callable[[int, int], None]


class ConfidenceInterval(NamedTuple):
    low: np.ndarray
    high: np.ndarray


# ----------------------------------------------------------------------------- validation

def _check_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return str(value)


def _check_alpha(alpha: object) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 0.5:
        raise InputError(f"alpha must be a number in (0, 0.5); got {alpha!r}")
    return float(alpha)


def _check_resamples(n_resamples: object) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer) \
            or n_resamples < 2:
        raise InputError(f"{option_hint('n_resamples', '--n-resamples')} must be an integer >= 2;"
                         f" got {n_resamples!r}")
    return int(n_resamples)


def _check_seed(seed: object) -> int:
    """A user seed as an int; None draws a fresh 63-bit seed (recorded in results)."""
    if seed is None:
        return secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer or None; got {seed!r}")
    return int(seed)


def _check_design(design: object, samples: Samples) -> str:
    design = _check_choice(design, "design", DESIGNS)
    if design == "paired" and not samples.aligned:
        sizes = dict(zip(samples.models, samples.sizes, strict=True))
        raise InputError(
            f"the paired design needs every model scored on the same items, but the item counts "
            f"differ ({_short_dict(sizes)}); pass design='independent' (CLI: --design "
            "independent), or read the scores with align='intersect' to keep the common items"
        )
    return design


def _short_dict(d: dict, limit: int = 6) -> str:
    parts = [f"{k}: {v}" for k, v in list(d.items())[:limit]]
    return ", ".join(parts) + (", ..." if len(d) > limit else "")


# ----------------------------------------------------------------------------- bootstrap

@dataclass(frozen=True, eq=False)
class Bootstrap:
    """Point estimates and bootstrap replicates of the dominance statistics of k models.

    Attributes
    ----------
    eps_matrix : (k, k) violation ratios E[i, j] of the data (NaN diagonal).
    eps : (k,) one-versus-all ratios.
    eps_replicates : (B, k) one-versus-all ratios of each replicate.
    eps_matrix_sd : (k, k) bootstrap sd of E[i, j].
    scores, score_replicates : mean-risk scores ({name: (k,)}, {name: (B, k)}) when requested.
    equality_pvalue : (k, k) p-values of H0 "models i and j have the same score distribution"
        (:mod:`riskbench.equality`, same resamples); the dominance tests claim nothing where it
        is not rejected. None when not computed.
    eps_matrix_logit_sd : (k, k) bootstrap sd of ``shrunk_logit(E[i, j], shrink)``.
    eps_matrix_upper_sd : (k, k) upper semi-deviation of the replicates of E[i, j] about the
        point estimate, ``sqrt(2 sum_r (E*_r - E)_+^2 / (B - 1))``: the spread on the side an
        upper confidence bound needs (:func:`absolute_test_from`); None when not computed.
    """

    samples: Samples
    order: int
    design: str
    n_resamples: int
    seed: int
    eps_matrix: np.ndarray = field(repr=False)
    eps: np.ndarray = field(repr=False)
    eps_replicates: np.ndarray = field(repr=False)
    eps_matrix_sd: np.ndarray = field(repr=False)
    scores: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    score_replicates: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    p: float = 0.05
    beta: float = 0.05
    backend: str = "numpy"
    equality_pvalue: np.ndarray | None = field(repr=False, default=None)
    eps_matrix_logit_sd: np.ndarray | None = field(repr=False, default=None)
    eps_matrix_upper_sd: np.ndarray | None = field(repr=False, default=None)

    @property
    def shrink(self) -> float:
        """The c of :func:`shrunk_logit`: 1 / (2 n) for n resampling units."""
        return _shrink(self.samples)


def _shrink(samples: Samples) -> float:
    return 0.5 / max(1, resampling_units(samples))


def shrunk_logit(eps: np.ndarray, shrink: float) -> np.ndarray:
    """``logit((eps + c) / (1 + 2 c))``: the scale on which the tests are decided.

    Violation ratios live in [0, 1] and their sampling laws are skewed near the bounds; on the
    logit scale the normal approximation holds its level far better at small n
    (``docs/calibration.md``). The shrink c = 1 / (2 n) (n resampling units) keeps exact
    dominance (eps = 0) finite. NaN stays NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (np.asarray(eps, dtype=float) + shrink) / (1.0 + 2.0 * shrink)
        return np.log(x) - np.log1p(-x)


def resampling_units(samples: Samples) -> int:
    """Independent units the bootstrap resamples: clusters, items (two-stage) or values."""
    if samples.clusters is not None:
        return int(samples.clusters.max()) + 1
    if samples.groups is not None:
        return int(samples.groups.max()) + 1
    return int(min(samples.sizes))


def logit_sd(replicates: np.ndarray, shrink: float) -> np.ndarray:
    """(k, k) sd over replicates of the shrunk logit of (B, k, k) violation-ratio matrices."""
    t = shrunk_logit(replicates, shrink)
    sd = np.std(t, axis=0, ddof=1)
    np.fill_diagonal(sd, np.nan)
    return sd


def _pairwise(q: list[np.ndarray], order: int) -> tuple[np.ndarray, np.ndarray]:
    if len({x.shape[1] for x in q}) == 1:
        return pairwise_sorted(np.stack(q, axis=1), order)
    return pairwise_ragged(q, order)


def _points(samples: Samples, sorted_values: list[np.ndarray], order_idx: list[np.ndarray],
            orders: tuple[int, ...], engine: str) -> list[np.ndarray]:
    """(k, k) violation ratios of the data for each order (warns for identical pairs).

    The compiled engine computes them as a replicate that draws every value once (the same
    kernels as the replicates; the numpy reference took 2.8 s of the 227-model W3); the numpy
    kernels otherwise, and for unequal sizes.
    """
    k = len(sorted_values)
    if engine in ("numba", "dask") and len({v.size for v in sorted_values}) == 1:
        from riskbench.backends import available

        if available("numba"):
            from riskbench.backends._numba import replicate_matrices

            job = ReplicateJob(tuple(sorted_values), tuple(order_idx), "paired", orders, 0)
            ones = np.ones((1, sorted_values[0].size), dtype=np.int64)
            point = replicate_matrices(job, [ones])[:, 0]  # (orders, k, k)
            keys = [v.tobytes() for v in sorted_values]  # identical empirical distributions
            same = np.array([[i != j and keys[i] == keys[j] for j in range(k)]
                             for i in range(k)]) if len(set(keys)) < k else np.zeros((k, k),
                                                                                    bool)
            for _ in orders:
                _warn_identical(samples, same, stacklevel=5)
            return list(point)
    points = []
    for o in orders:
        point, degenerate = _pairwise([v[None] for v in sorted_values], o)
        points.append(point[0])
        _warn_identical(samples, degenerate[0], stacklevel=5)
    return points


def _sorted_rows(values: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each model's argsort and sorted scores; for equal sizes the rows of one (k, n) array
    each, which the compiled engine then uses without stacking a copy."""
    if len({v.size for v in values}) != 1:
        order_idx = [np.argsort(v, kind="stable") for v in values]
        return order_idx, [v[o] for v, o in zip(values, order_idx, strict=True)]
    k, n = len(values), values[0].size
    order = np.empty((k, n), dtype=np.intp)
    ordered = np.empty((k, n), dtype=np.float64)
    for a, v in enumerate(values):
        order[a] = np.argsort(v, kind="stable")
        ordered[a] = v[order[a]]
    return list(order), list(ordered)


def _batches(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(total, start + size)


def bootstrap(data: object, *, metric: str | None = None, order: int | tuple[int, ...] = 2,
              design: str = "paired", n_resamples: int = 1000, seed: int | None = None,
              batch: int | None = None, dominance: bool = True, risk: bool = False,
              p: float = 0.05, beta: float = 0.05, backend: str = "auto",
              progress: Progress | None = None) -> Bootstrap | tuple[Bootstrap, ...]:
    """Violation ratios of k models and their bootstrap replicates.

    Parameters
    ----------
    data : ScoreTable, Samples, mapping or array
        Scores of at least two models (see :func:`riskbench.rank`).
    order : {1, 2} or tuple of them
        A tuple, e.g. ``(1, 2)``, returns one :class:`Bootstrap` per order, computed from the
        same replicates (the resampling is shared).
    design : {"paired", "independent"}
        paired (default): one resample of items shared by all models.
    n_resamples : int
        B, the number of bootstrap replicates.
    seed : int or None
        None draws a fresh random seed, which is recorded in the result as ``seed``.
    batch : int, optional
        Replicates processed at once (default: up to 64, fewer if their resamples or their
        (k, k) matrices would not fit in 64 MiB). Results do not depend on it.
    dominance : bool
        Compute the violation ratios of each replicate (default). Without it only the point
        estimates are computed (``eps_replicates`` and ``eps_matrix_sd`` are NaN).
    risk : bool
        Also compute mean-risk scores (with levels ``p`` and ``beta``) per replicate.
    backend : {"auto", "numpy", "numba", "torch", "dask"}
        Engine of the replicates (see :mod:`riskbench.backends`); "auto" uses numba when it is
        installed. Every engine uses the same resamples.
    progress : callable(done, total), optional

    Notes
    -----
    1. Sort each model's scores once (no common map of the values: the kernels work on each
       pair's differences, scaled by a power of two, so any finite scores are exact).
    2. For each batch of replicates: draw how often each value is resampled (one stream per
       replicate; by item, by cluster, or in two stages), and expand the sorted data by those
       counts (no per-replicate sort).
    3. Compute the (b, k, k) violation-ratio matrices with the exact kernel, the one-vs-all
       ratios, and optionally the mean-risk scores.
    4. Accumulate the sd of E[i, j] in replicate order (shifted sums), so that the result is
       identical for every batch size.
    """
    orders = tuple(check_order(o) for o in order) if isinstance(order, tuple | list) \
        else (check_order(order),)
    if not orders or len(set(orders)) != len(orders):
        raise InputError(f"order must be 1, 2 or a tuple of distinct orders; got {order!r}")
    samples = as_samples(data, metric=metric)
    design = _check_design(design, samples)
    n_resamples = _check_resamples(n_resamples)
    seed = _check_seed(seed)
    engine = resolve(backend)
    p = check_level(p, "p")
    beta = check_level(beta, "beta")
    k = samples.k
    sizes = samples.sizes
    if min(sizes) < 2:
        warnings.warn(
            f"a model has only {min(sizes)} item(s): every bootstrap replicate is the same, so "
            "the tests have no power; score more items",
            DegenerateDataWarning,
            stacklevel=2,
        )
    order_idx, sorted_values = _sorted_rows(samples.values)
    if batch is None:  # bounded memory: the sorted resamples and the (orders, b, k, k) ratios
        per_replicate = max(1, sum(sizes), len(orders) * k * k)
        # small problems take more replicates at once: a batch costs a fixed overhead
        cap = DEFAULT_BATCH_REPLICATES * (4 if k * k * max(sizes) <= 1 << 16 else 1)
        batch = max(1, min(cap, DEFAULT_BATCH_ELEMENTS // per_replicate))
    elif isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InputError(f"batch must be a positive integer; got {batch!r}")

    points = _points(samples, sorted_values, order_idx, orders, engine)
    scores = {}
    if risk:
        scores = {name: np.array([float(mean_risk_scores(v, p=p, beta=beta)[name])
                                  for v in sorted_values]) for name in RISK_MEASURES}

    eps_reps = np.full((len(orders), n_resamples, k), np.nan)
    score_reps = {name: np.empty((n_resamples, k)) for name in scores}
    shrink = _shrink(samples)
    moments = _Moments(np.stack(points), shrink)  # sd of E[i, j] and of its shrunk logit
    batches = list(_batches(n_resamples, batch))
    upper = _UpperMoment(np.stack(points))  # upper semi-deviation of E[i, j]
    equality = None
    if dominance:
        job = ReplicateJob(tuple(sorted_values), tuple(order_idx), design, orders, seed,
                           samples.clusters, samples.groups)
        resampler = job.resampler()
        equality = EqualityAccumulator.from_values(list(samples.values), n_resamples,
                                                   orders=order_idx)
        for start, stop, reps in run_replicates(job, batches, engine):  # (orders, b, k, k)
            equality.add(start, stop, resampler.counts(start, stop))
            eps_reps[:, start:stop] = moments.add(reps)
            upper.add(reps)
            if progress is not None:
                progress(stop, n_resamples)
    if risk:
        resampler = Resampler(sizes, design, seed, clusters=samples.clusters,
                              groups=samples.groups)
        for start, stop in batches:
            pos = resample_positions(order_idx, resampler.counts(start, stop))
            for a, (v, pa) in enumerate(zip(sorted_values, pos, strict=True)):
                if len({x.size for x in pa}) == 1:  # one size: all replicates at once
                    for name, val in mean_risk_scores(np.stack([v[x] for x in pa]), p=p,
                                                      beta=beta).items():
                        score_reps[name][start:stop, a] = val
                    continue
                for r, positions in enumerate(pa):
                    for name, val in mean_risk_scores(v[positions], p=p, beta=beta).items():
                        score_reps[name][start + r, a] = val
            if progress is not None:
                progress(stop, n_resamples)
    results = []
    gate = None if equality is None else equality.pvalues(resampling_units(samples))
    sds, lsds = moments.sd(n_resamples, dominance)
    for u, o in enumerate(orders):
        results.append(Bootstrap(samples, o, design, n_resamples, seed, points[u],
                                 one_vs_all(points[u]), eps_reps[u], sds[u], scores, score_reps,
                                 p, beta, engine, equality_pvalue=gate,
                                 eps_matrix_logit_sd=lsds[u],
                                 eps_matrix_upper_sd=upper.sd(n_resamples)[u]
                                 if dominance else None))
    return tuple(results) if isinstance(order, tuple | list) else results[0]


class _ShiftedMoments:
    """Running sums of (x - shift) and its square over replicates, for an sd that does not
    depend on the batch size: numpy reduces an outer axis row after row, so s1 + dev[0] +
    dev[1] + ... is summed in replicate order whatever the batches (a test checks). The shift
    (the point estimates) keeps the sums small; NaN (the diagonal) counts as 0."""

    def __init__(self, point: np.ndarray) -> None:  # (orders, k, k)
        self.shift = np.nan_to_num(point)
        self.s1 = np.zeros_like(self.shift)
        self.s2 = np.zeros_like(self.shift)

    def add(self, reps: np.ndarray) -> None:  # (orders, b, k, k)
        dev = np.nan_to_num(reps) - self.shift[:, None]
        self.s1 = np.add.reduce(np.concatenate([self.s1[:, None], dev], axis=1), axis=1)
        self.s2 = np.add.reduce(np.concatenate([self.s2[:, None], dev * dev], axis=1), axis=1)

    def sd(self, n: int, computed: bool) -> np.ndarray:
        """(orders, k, k) sd over the n replicates (NaN diagonal; all NaN if not computed)."""
        if not computed:
            return np.full(self.shift.shape, np.nan)
        var = np.maximum(self.s2 - self.s1 * self.s1 / n, 0.0) / (n - 1)
        out = np.sqrt(var)
        for u in range(out.shape[0]):
            np.fill_diagonal(out[u], np.nan)
        return out


class _Moments:
    """Shifted sums of E[i, j] and of its shrunk logit over the replicates, in replicate
    order: compiled (``backends._numba.accumulate_moments``, no temporaries) when numba is
    installed, else two :class:`_ShiftedMoments`. Either way the result does not depend on
    the batch size."""

    def __init__(self, point: np.ndarray, shrink: float) -> None:  # (orders, k, k)
        from riskbench.backends import available

        self.shrink = shrink
        self.raw = _ShiftedMoments(point)
        self.logit = _ShiftedMoments(shrunk_logit(point, shrink))
        self.compiled = None
        if available("numba"):
            from riskbench.backends import _numba

            self.compiled = _numba

    def add(self, reps: np.ndarray) -> np.ndarray:
        """Add (orders, b, k, k) replicates; returns their one-versus-all means (orders, b, k)."""
        if self.compiled is None:
            self.raw.add(reps)
            self.logit.add(shrunk_logit(reps, self.shrink))
            return one_vs_all(reps)
        means = np.empty(reps.shape[:-1])
        self.compiled.accumulate_moments(np.ascontiguousarray(reps), self.raw.shift,
                                         self.raw.s1, self.raw.s2, self.logit.shift,
                                         self.logit.s1, self.logit.s2, self.shrink, means)
        return means

    def sd(self, n: int, computed: bool) -> tuple[np.ndarray, np.ndarray]:
        raw, logit = self.raw.sd(n, computed), self.logit.sd(n, computed)
        if self.compiled is not None:  # accumulated for i < j: sd(E[j, i]) = sd(E[i, j])
            lower = np.tril(np.ones(raw.shape[-2:], dtype=bool), -1)
            for sd in (raw, logit):
                for u in range(sd.shape[0]):
                    sd[u][lower] = sd[u].T[lower]
        return raw, logit


class _UpperMoment:
    """Running sum of (x - point)_+^2 over replicates, in replicate order (batch-invariant, as
    :class:`_ShiftedMoments`)."""

    def __init__(self, point: np.ndarray) -> None:  # (orders, k, k)
        self.point = np.nan_to_num(point)
        self.s2 = np.zeros_like(self.point)

    def add(self, reps: np.ndarray) -> None:  # (orders, b, k, k)
        dev = np.maximum(np.nan_to_num(reps) - self.point[:, None], 0.0)
        dev *= dev
        for r in range(dev.shape[1]):  # one replicate at a time: the same order of additions
            self.s2 += dev[:, r]       # as before, without a (orders, b + 1, k, k) copy

    def sd(self, n: int) -> np.ndarray:
        out = np.sqrt(2.0 * self.s2 / (n - 1))
        for u in range(out.shape[0]):
            np.fill_diagonal(out[u], np.nan)
        return out


def upper_sd(replicates: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Upper semi-deviation ``sqrt(2 sum_r (x_r - point)_+^2 / (B - 1))`` over axis 0."""
    dev = np.maximum(replicates - point, 0.0)
    return np.sqrt(2.0 * (dev * dev).sum(axis=0) / (replicates.shape[0] - 1))


def _difference_upper_sd(replicates: np.ndarray, delta: np.ndarray,
                         chunk: int = 1 << 22) -> np.ndarray:
    """(k, k) upper semi-deviation of x_i - x_j about ``delta[i, j]`` from (B, k) replicates,
    a few rows at a time so that no (B, k, k) array is held."""
    b, k = replicates.shape
    out = np.full((k, k), np.nan)
    rows = max(1, chunk // max(1, b * k))
    for lo in range(0, k, rows):
        d = replicates[:, lo:lo + rows, None] - replicates[:, None, :]  # (B, rows, k)
        out[lo:lo + rows] = upper_sd(d, np.nan_to_num(delta[lo:lo + rows]))
    np.fill_diagonal(out, np.nan)
    return out


def _warn_identical(samples: Samples, degenerate: np.ndarray, stacklevel: int = 3) -> None:
    if degenerate.any():
        pairs = [(samples.models[i], samples.models[j])
                 for i, j in zip(*np.nonzero(np.triu(degenerate)), strict=True)]
        warnings.warn(
            f"{len(pairs)} pair(s) of models have identical score distributions, e.g. "
            f"{pairs[0][0]!r} and {pairs[0][1]!r}: their violation ratio is set to 0.5 and no "
            "test can separate them",
            DegenerateDataWarning,
            stacklevel=stacklevel,
        )


def _difference_sd(replicates: np.ndarray) -> np.ndarray:
    """sd over replicates of x_i - x_j for all pairs, from (B, k) replicates: (k, k)."""
    centred = replicates - replicates.mean(axis=0)
    cov = centred.T @ centred / (replicates.shape[0] - 1)
    var = np.diag(cov)[:, None] + np.diag(cov)[None, :] - 2.0 * cov
    return np.sqrt(np.maximum(var, 0.0))


# ----------------------------------------------------------------------------- corrections

def adjust_pvalues(pvalues: object, correction: str = "bonferroni") -> np.ndarray:
    """Adjusted p-values of one family of hypotheses.

    bonferroni: ``min(1, M p)``; holm: step-down ``max_{j<=i} (M - j + 1) p_(j)`` (FWER);
    bh: Benjamini-Hochberg step-up ``min_{j>=i} M p_(j) / j`` (FDR). Reject where the adjusted
    value is below alpha.
    """
    correction = _check_choice(correction, "correction", CORRECTIONS)
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    if correction == "bonferroni":
        return np.minimum(1.0, p * m)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if correction == "holm":
        adj = np.maximum.accumulate(ranked * (m - np.arange(m)))
    else:
        adj = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(1.0, adj)
    return out


# ----------------------------------------------------------------------------- tests

@dataclass(frozen=True, eq=False)
class PairwiseTest:
    """Result of a family of one-sided tests between every ordered pair of models.

    Row i, column j always reads "model i is better than model j": ``reject[i, j]`` is True when
    H0 for (i, j) is rejected in favour of i.

    Attributes
    ----------
    test : {"relative", "absolute", "score"}
    statistic : (k, k)
        relative: Delta[i, j] = eps_i - eps_j; absolute: E[i, j]; score: s_j - s_i.
    sd : (k, k) bootstrap standard deviation of the statistic.
    pvalue : (k, k) one-sided p-value of the claim "i beats j": the larger of the dominance
        test's (``pvalue_dominance``) and the equality test's (``equality_pvalue``).
    pvalue_adjusted : (k, k) ``pvalue`` corrected over the family (NaN outside it).
    reject : (k, k) bool.
    family : (k, k) bool
        The hypotheses corrected together: every ordered pair (i, j), i != j, so M = k(k-1)
        (a selection guardrail tests one direction only). Both "i beats j" and "j beats i" can be
        true nulls at once (Delta = 0 between distinct laws; eps0 <= E <= 1 - eps0), so the
        family-wise error is at most alpha over the whole family with Bonferroni and Holm.
    decided_by : (k, k) str
        Which test's p-value is ``pvalue``: "dominance", "equality" (the equality gate: the
        dominance test alone gave a smaller p-value) or "both" (equal p-values); "score" for
        the (ungated) mean-risk score tests; "" outside the family. See :meth:`explain`.
    confidence_interval : one-sided intervals (-inf, high] for the statistic at
        ``confidence_level`` = 1 - alpha / M (simultaneous over the family, whatever the
        correction). With Bonferroni, H0 for (i, j) is rejected exactly when ``high < threshold``
        and the equality test rejects too; ``ci_agrees`` marks where the interval and the
        decision tell the same story, :meth:`explain` says why where they do not.
    equality_pvalue : (k, k) p-values of "same score distribution" that gate the dominance
        tests (None for score tests).
    scale : {"raw", "logit", "raw_upper", "logit_upper"}
        Scale of the z statistics; "_upper": with the bootstrap upper semi-deviation as its sd
        (see :func:`relative_test_from`, :func:`absolute_test_from`).
    """

    test: str
    models: tuple[str, ...]
    order: int | None
    statistic: np.ndarray = field(repr=False)
    sd: np.ndarray = field(repr=False)
    pvalue: np.ndarray = field(repr=False)
    pvalue_adjusted: np.ndarray = field(repr=False)
    reject: np.ndarray = field(repr=False)
    confidence_interval: ConfidenceInterval = field(repr=False)
    confidence_level: float
    threshold: float
    alpha: float
    correction: str
    design: str
    n_resamples: int
    seed: int
    h0: str
    n_comparisons: int
    eps0: float | None = None
    criterion: str = "dominance"
    backend: str = "numpy"
    equality_pvalue: np.ndarray | None = field(repr=False, default=None)
    pvalue_dominance: np.ndarray | None = field(repr=False, default=None)
    decided_by: np.ndarray | None = field(repr=False, default=None)
    family: np.ndarray | None = field(repr=False, default=None)
    scale: str = "raw"

    @property
    def simultaneous(self) -> bool:
        """True when the decisions control the family-wise error (Bonferroni, Holm), so that
        rank intervals and the top set derived from them are confidence statements."""
        return self.correction in ("bonferroni", "holm")

    @property
    def separated(self) -> np.ndarray:
        """(k, k) bool, symmetric: a test decided between i and j (in either direction)."""
        return self.reject | self.reject.T

    @property
    def no_decision(self) -> bool:
        """No pair of models is separated: the data do not tell any two models apart."""
        return not bool(self.reject.any())

    @property
    def ci_agrees(self) -> np.ndarray:
        """(k, k) bool: the interval excludes H0 (``high < threshold``) exactly where H0 is
        rejected (False off the family and on the diagonal)."""
        with np.errstate(invalid="ignore"):
            outside = self.confidence_interval.high < self.threshold
        fam = self._family()
        return fam & (outside == self.reject)

    def _family(self) -> np.ndarray:
        if self.family is not None:
            return self.family
        return ~np.eye(len(self.models), dtype=bool)

    def explain(self, i: int, j: int) -> str:
        """One sentence: what was decided for "model i beats model j", and by which test."""
        mi, mj = self.models[i], self.models[j]
        p, q = self.pvalue[i, j], self.pvalue_adjusted[i, j]
        high = self.confidence_interval.high[i, j]
        bound = (f"upper bound {high:.4g} at level {self.confidence_level:.4g}"
                 if np.isfinite(high) else "no finite upper bound")
        gate = self.equality_pvalue
        gp = None if gate is None else gate[i, j]
        dp = None if self.pvalue_dominance is None else self.pvalue_dominance[i, j]
        by = "" if self.decided_by is None else str(self.decided_by[i, j])
        # one hypothesis in the family: no correction, so no "corrected" p-value to show
        single = int(self._family().sum()) <= 1
        pq = f"p = {p:.3g}" if single else f"p = {p:.3g}, corrected {q:.3g}"
        gq = (f"p = {gp:.3g}" if single else f"p = {gp:.3g}, corrected {q:.3g}") \
            if gp is not None else ""
        if self.reject[i, j]:
            tail = ("; the equality test also rejected 'same distribution' "
                    f"(p = {gp:.3g})" if gp is not None else "")
            if not self.ci_agrees[i, j]:
                other_scale = self.test == "relative" and self.scale != "raw" \
                    or self.scale == "logit"
                tail += ("; the interval does not exclude H0: it is the normal bound on the raw "
                         "scale, while the test decided on the "
                         f"{self.scale.replace('_', ' ')} scale" if other_scale else
                         "; the interval (simultaneous, Bonferroni level) does not exclude H0: "
                         f"the {self.correction} correction rejects with a larger cutoff")
            return f"{mi} beats {mj}: H0 rejected ({pq} < alpha = {self.alpha:g}; {bound}){tail}."
        if by == "equality":
            return (f"{mi} does not beat {mj}: the equality test decided: it could not tell the "
                    f"two score distributions apart ({gq} >= alpha = {self.alpha:g}), although "
                    f"the dominance test alone gave p = {dp:.3g} ({bound}).")
        if by == "both" and gp is not None:
            return (f"{mi} does not beat {mj}: neither the dominance test nor the equality test "
                    f"rejects (both p = {p:.3g}; {bound}).")
        agrees = bool(self.ci_agrees[i, j])
        why = ""
        if not agrees and self.test == "relative" and self.scale != "raw":
            why = (f"; the interval is the normal bound of Delta on the raw scale, while the "
                   f"test decided on the {self.scale.replace('_', ' ')} scale")
        elif not agrees:
            why = (f"; the interval excludes H0 but the {self.correction} correction did not "
                   "reject")
        which = "score" if self.test == "score" else "dominance"
        return (f"{mi} does not beat {mj}: the {which} test decided ({pq} >= alpha = "
                f"{self.alpha:g}; {bound}){why}.")

    def _repr_html_(self) -> str:
        from riskbench.report.html import notebook_html, pairs_table_html

        return notebook_html(f"{self.test} test of {len(self.models)} models: significant pairs",
                             pairs_table_html(self))

    def pairs(self) -> list[dict]:
        """One JSON-ready dict per hypothesis of the family (non-finite numbers as None)."""
        i, j = np.nonzero(self._family())
        gate = self.equality_pvalue
        dom = self.pvalue if self.pvalue_dominance is None else self.pvalue_dominance
        agrees = self.ci_agrees
        return [{
            "model_i": self.models[a], "model_j": self.models[b],
            "statistic": _finite(self.statistic[a, b]), "sd": _finite(self.sd[a, b]),
            "pvalue": _finite(self.pvalue[a, b]),
            "pvalue_dominance": _finite(dom[a, b]),
            "equality_pvalue": None if gate is None else _finite(gate[a, b]),
            "pvalue_adjusted": _finite(self.pvalue_adjusted[a, b]),
            "reject": bool(self.reject[a, b]),
            "decided_by": "dominance" if self.decided_by is None else str(self.decided_by[a, b]),
            "ci_high": _finite(self.confidence_interval.high[a, b]),
            "ci_agrees": bool(agrees[a, b]),
        } for a, b in zip(i, j, strict=True)]

    def to_dict(self) -> dict:
        """The settings and every decision of the family, JSON-ready (strict: no NaN)."""
        return {"test": self.test, "order": self.order, "criterion": self.criterion,
                "eps0": self.eps0, "alpha": self.alpha, "correction": self.correction,
                "n_comparisons": self.n_comparisons, "simultaneous": self.simultaneous,
                "confidence_level": self.confidence_level, "scale": self.scale,
                "design": self.design, "n_resamples": self.n_resamples, "seed": self.seed,
                "backend": self.backend, "h0": self.h0, "models": list(self.models),
                "pairs": self.pairs()}

    def to_frame(self):
        """One row per ordered pair (i, j), i != j."""
        import pandas as pd

        k = len(self.models)
        i, j = np.nonzero(~np.eye(k, dtype=bool))
        nan = np.full(i.size, np.nan)
        return pd.DataFrame({
            "model_i": [self.models[a] for a in i],
            "model_j": [self.models[b] for b in j],
            "statistic": self.statistic[i, j],
            "sd": self.sd[i, j],
            "pvalue": self.pvalue[i, j],
            "pvalue_dominance": (self.pvalue if self.pvalue_dominance is None
                                 else self.pvalue_dominance)[i, j],
            "equality_pvalue": nan if self.equality_pvalue is None else self.equality_pvalue[i, j],
            "pvalue_adjusted": self.pvalue_adjusted[i, j],
            "ci_low": self.confidence_interval.low[i, j],
            "ci_high": self.confidence_interval.high[i, j],
            "reject": self.reject[i, j],
            "decided_by": (["dominance"] * i.size if self.decided_by is None
                           else self.decided_by[i, j]),
            "ci_agrees": self.ci_agrees[i, j],
            "in_family": self._family()[i, j],
        })


def _finite(x: float) -> float | None:
    """A float for JSON: None where it is NaN or infinite (strict JSON has no such tokens)."""
    x = float(x)
    return x if np.isfinite(x) else None


def _one_sided(statistic: np.ndarray, sd: np.ndarray, threshold: float) -> np.ndarray:
    """P-value Phi((statistic - threshold) / sd), with sd = 0 handled as a point mass."""
    diff = statistic - threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, diff / np.where(sd > 0, sd, 1.0), np.sign(diff) * np.inf)
    z = np.where((sd == 0) & (diff == 0), 0.0, z)
    return ndtr(z)


def _decide(statistic, sd, threshold, alpha, correction, gate=None, scaled=None, family=None):
    """Raw and adjusted p-values, decisions and intervals for all ordered pairs.

    The family is every ordered pair (i, j), i != j, unless ``family`` (a (k, k) bool mask)
    says otherwise: M = k(k-1) hypotheses, corrected together. Correcting over the k(k-1)/2
    unordered pairs, each in its more favourable direction, bounds the family-wise error by
    2 alpha, not alpha, where both directions are true nulls (METHOD.md section 6; measured
    0.113-0.183 for k = 2). With ``gate`` (p-values of "same distribution",
    :mod:`riskbench.equality`) each p-value is that of the intersection-union test: the larger
    of the two. ``scaled = (statistic, sd, threshold, inverse)`` decides on a transformed scale;
    ``inverse`` maps its upper bounds back (None: the interval stays the normal one on the
    original scale).

    Returns
    -------
    pvalue, pvalue_dominance, adjusted : (k, k)
    reject : (k, k) bool
    decided_by : (k, k) str
    ci : ConfidenceInterval at ``level`` = 1 - alpha / M
    level : float
    m : int
    family : (k, k) bool
    """
    k = statistic.shape[0]
    t_stat, t_sd, t_thr, inverse = scaled if scaled is not None else (statistic, sd, threshold,
                                                                      None)
    if family is None:
        family = ~np.eye(k, dtype=bool)
    dominance = _one_sided(t_stat, t_sd, t_thr)
    np.fill_diagonal(dominance, np.nan)
    pval = dominance if gate is None else np.maximum(dominance, gate)
    m = int(family.sum())
    adjusted = np.full((k, k), np.nan)
    adjusted[family] = adjust_pvalues(pval[family], correction)
    reject = np.zeros((k, k), dtype=bool)
    with np.errstate(invalid="ignore"):
        reject[family] = adjusted[family] < alpha
    decided_by = np.full((k, k), "", dtype=object)
    if gate is None:
        decided_by[family] = "dominance"
    else:
        with np.errstate(invalid="ignore"):
            which = np.where(dominance > gate, "dominance",
                             np.where(gate > dominance, "equality", "both"))
        decided_by[family] = which[family]
    level = 1.0 - alpha / max(m, 1)
    z = ndtri(level)  # +inf when alpha' underflows 1 - level: the bound is then +inf (or the
    with np.errstate(invalid="ignore"):  # statistic itself where sd = 0, a point mass)
        if inverse is not None:
            high = inverse(t_stat + np.where(t_sd > 0, z * t_sd, 0.0))
        else:
            high = statistic + np.where(sd > 0, z * sd, 0.0)
    np.fill_diagonal(high, np.nan)
    ci = ConfidenceInterval(np.where(np.isnan(high), np.nan, -np.inf), high)
    return pval, dominance, adjusted, reject, decided_by, ci, level, m, family


def _correction_words(correction: str, m: int) -> str:
    what = f"{m} ordered pairs" if m != 1 else "1 hypothesis"
    return {
        "bonferroni": f"Bonferroni correction over {what} (family-wise error at most alpha)",
        "holm": f"Holm step-down correction over {what} (family-wise error at most alpha)",
        "bh": f"Benjamini-Hochberg correction over {what} (false discovery rate at most alpha; "
              "no family-wise or rank guarantee)",
    }[correction]


_GATE_WORDS = (
    "; a pair is decided only where a test of equal score distributions (Neyman smooth test on "
    "the same resamples) also rejects, and its p-value is the larger of the two "
    "(intersection-union test)"
)


def _result(test, boot, statistic, sd, threshold, alpha, correction, h0_core, gated=True,
            scaled=None, family=None, scale="raw", **extra):
    gate = boot.equality_pvalue if gated else None
    pval, dominance, adjusted, reject, decided_by, ci, level, m, family = _decide(
        statistic, sd, threshold, alpha, correction, gate, scaled, family)
    if test == "score":  # one test decides every pair: the score comparison
        decided_by[family] = "score"
    if gate is not None:
        h0_core += _GATE_WORDS
        extra["equality_pvalue"] = gate
    h0 = f"{h0_core}; rejected at alpha = {alpha:g} with {_correction_words(correction, m)}."
    return PairwiseTest(
        test=test, models=boot.samples.models, order=boot.order if test != "score" else None,
        statistic=statistic, sd=sd, pvalue=pval, pvalue_adjusted=adjusted, reject=reject,
        confidence_interval=ci, confidence_level=level, threshold=threshold, alpha=alpha,
        correction=correction, design=boot.design, n_resamples=boot.n_resamples, seed=boot.seed,
        h0=h0, n_comparisons=m, backend=boot.backend, pvalue_dominance=dominance,
        decided_by=decided_by, family=family, scale=scale, **extra,
    )


def _dominance_name(order: int, prefix: str) -> str:
    return f"{prefix}-{'FSD' if order == 1 else 'SSD'}"


SCALES = ("auto", "raw", "logit", "raw_upper", "logit_upper")
#: What ``scale="auto"`` means (measured in docs/calibration.md): relative test; absolute test
#: at order 1 and 2.
RELATIVE_AUTO = "raw_upper"
ABSOLUTE_AUTO = {1: "raw_upper", 2: "raw_upper"}


def _scale_words(scale: str) -> str:
    base, _, upper = scale.partition("_")
    words = "" if base == "raw" else "; decided on the logit scale of the violation ratios"
    if upper:
        words += ("; the sd of the z statistic is the bootstrap upper semi-deviation (the "
                  "spread of the replicates on the side of H0)")
    return words


def identical_pairs(samples: Samples) -> np.ndarray:
    """(k, k) bool: models i != j whose empirical score distributions are identical.

    Their violation ratio is 0/0 (set to 1/2, METHOD.md section 3). Sizes may differ: two
    samples have the same empirical distribution when they take the same values in the same
    proportions.

    Each model's distribution gets a key, its distinct values and their counts divided by
    their greatest common divisor (proportional counts have the same reduced counts), and
    models sharing a key are twins: O(k n log n), not a comparison per pair (1,000 models:
    499,500 comparisons took 6 s). -0.0 and 0.0 are one value; a sample with NaN has no twin.
    """
    # a ranking asks up to three times for the same samples: remembered with a digest of
    # the values, so that values changed in place are never answered from the memory
    digest = _digest(samples.values)
    known = _TWINS.get(samples)
    if known is not None and known[0] == digest:
        return known[1].copy()
    k = samples.k
    out = np.zeros((k, k), dtype=bool)
    groups: dict[tuple[bytes, bytes], list[int]] = {}
    for a, v in enumerate(samples.values):
        values, counts = np.unique(np.asarray(v, dtype=float), return_counts=True)
        if np.isnan(values).any():
            continue
        reduced = counts.astype(np.int64) // max(int(np.gcd.reduce(counts)) if counts.size
                                                 else 1, 1)
        groups.setdefault(((values + 0.0).tobytes(), reduced.tobytes()), []).append(a)
    for members in groups.values():
        if len(members) > 1:
            out[np.ix_(members, members)] = True
    np.fill_diagonal(out, False)
    _TWINS[samples] = (digest, out.copy())
    return out


_TWINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Samples -> (digest, twins)


def _digest(values: Sequence[np.ndarray]) -> bytes:
    """blake2b of the values' bytes and shapes (about 1 GB/s: 80 ms at 10^7 values, against
    0.5 s for the distinct values)."""
    h = hashlib.blake2b(digest_size=20)
    for v in values:
        v = np.ascontiguousarray(v, dtype=float)
        h.update(np.int64(v.size).tobytes())
        h.update(v.view(np.uint8))
    return h.digest()


def relative_eps(boot: Bootstrap) -> tuple[np.ndarray, np.ndarray]:
    """One-versus-all ratios without the 0/0 pairs: ``(eps (k,), replicates (B, k))``.

    ``eps_i`` is the mean of E[i, j] over the models j whose score distribution differs from
    model i's. Two identical models (e.g. two models at 1.0 on every item) would otherwise
    each count the 1/2 imputed for their 0/0 pair, which penalises both against a model
    without a twin. A model identical to every other keeps 1/2. Without twins this is
    ``boot.eps``. In the paired design twins stay identical in every replicate (E* = 1/2), so
    the replicates are corrected exactly; in the independent design the twin pair's replicate
    ratios vary and their spread stays in the sd (conservative).
    """
    twins = identical_pairs(boot.samples) & (boot.eps_matrix == 0.5)
    d = twins.sum(axis=1)  # (k,)
    if not d.any():
        return boot.eps, boot.eps_replicates
    k = boot.samples.k
    others = k - 1 - d
    keep = others > 0
    scale = np.where(keep, (k - 1) / np.maximum(others, 1), 1.0)
    shift = np.where(keep, 0.5 * d / np.maximum(others, 1), 0.0)
    # mean over the others = ((k - 1) eps - 1/2 d) / (k - 1 - d)
    return boot.eps * scale - shift, boot.eps_replicates * scale - shift


def relative_test_from(boot: Bootstrap, *, alpha: float = 0.05,
                       correction: str = "bonferroni", scale: str = "auto",
                       family: np.ndarray | None = None) -> PairwiseTest:
    """Relative test (R-FSD / R-SSD) from precomputed bootstrap replicates.

    ``eps_i`` leaves out the pairs of identical distributions (:func:`relative_eps`).
    ``scale="raw"`` is the paper's ``Delta / sd*``. ``scale="raw_upper"`` divides Delta by the
    bootstrap upper semi-deviation of Delta* about Delta instead (the spread on the side of H0:
    for "i beats j", the replicates where i looks less good). ``scale="logit"`` decides on
    ``logit(eps_i) - logit(eps_j)`` (shrunk, see :func:`shrunk_logit`; the same hypotheses since
    logit is increasing) with its bootstrap sd; "logit_upper" with its upper semi-deviation.
    ``scale="auto"`` (default) is raw_upper. Measured (docs/calibration.md): the raw scale
    exceeds its level where curves cross with Delta = 0 (0.13 family-wise at n = 100, first
    order; 0.22 at second order) and at the interior second-order null (0.07); raw_upper holds
    the interior null from n = 100 and brings the crossing rows to 0.04-0.07 (first order) and
    0.06-0.09 (second order) from n = 100 to 2,000, with the raw scale's power; the logit scales
    hold the crossing rows better but lose much power on real data where a model nearly dominates
    (the demo portfolio: 20% fewer claims on the logit scale; on logit_upper the worst model,
    eps_i = 0.9999, was beaten by none). Where the default was measured above its level
    (``EXCESS``), claims whose corrected p-values are too close to alpha to be backed at alpha
    raise a :class:`~riskbench.errors.CalibrationWarning` that names them. Statistic and sd are
    reported for Delta on the raw scale; the interval is the decision's own on the raw scales.
    ``family``: (k, k) bool mask of the ordered pairs to test and correct together (default:
    all of them).
    """
    alpha = _check_alpha(alpha)
    correction = _check_choice(correction, "correction", CORRECTIONS)
    scale = _check_choice(scale, "scale", SCALES)
    scale = RELATIVE_AUTO if scale == "auto" else scale
    eps, reps = relative_eps(boot)
    delta = eps[:, None] - eps[None, :]  # (k, k)
    sd = _difference_sd(reps)
    np.fill_diagonal(delta, np.nan)
    np.fill_diagonal(sd, np.nan)
    scaled = None
    if scale != "raw":
        logit = scale.startswith("logit")
        t = shrunk_logit(eps, boot.shrink) if logit else eps
        t_reps = shrunk_logit(reps, boot.shrink) if logit else reps
        t_delta = t[:, None] - t[None, :]
        if scale.endswith("upper"):
            # replicates where i looks worse than j are the ones that speak for H0
            t_sd = _difference_upper_sd(t_reps, t_delta)
        else:
            t_sd = _difference_sd(t_reps)
        np.fill_diagonal(t_delta, np.nan)
        # on the raw scale the bound Delta + z sd+ is the interval of the decision itself
        scaled = (t_delta, t_sd, 0.0, None if logit else (lambda x: x))
    core = (
        f"For each ordered pair (i, j), H0: model i does not relatively dominate model j at "
        f"{ORDER_NAMES[boot.order]} order ({_dominance_name(boot.order, 'R')}), i.e. "
        "eps_i - eps_j >= 0, where eps_i is model i's mean violation ratio against "
        + ("the other model" if boot.samples.k == 2 else f"the other {boot.samples.k - 1} models")
        + " (so the order depends on the pool of models; pairs of "
        "identical distributions left out)" + _scale_words(scale)
    )
    result = _result("relative", boot, delta, sd, 0.0, alpha, correction, core, scaled=scaled,
                     family=family, scale=scale)
    _warn_fragile(result, boot)
    return result


@dataclass(frozen=True)
class _Excess:
    """The worst family-wise error measured for a test where its null is least favourable
    (docs/calibration.md), as a multiple of alpha, and where it applies."""

    factor: float
    where: str
    below_units: int | None = None  # measured above alpha only below this many units
    from_models: int = 2  # ... only with at least this many models


#: Measured by scripts/calibrate.py (2,000 datasets, alpha = 0.05, default scales), n >= 100.
EXCESS = {
    ("relative", 1): _Excess(1.4, "first-order curves cross with Delta = 0 (0.069 at "
                             "n = 200)", below_units=500),
    ("relative", 2): _Excess(1.8, "integrated quantile curves cross with Delta = 0 (0.059 to "
                             "0.091 from n = 100 to 2,000)"),
    ("absolute", 1): _Excess(1.8, "many pairs sit at E = eps0 (0.089 for 19 such pairs among 20 "
                             "models at n = 100)", from_models=6),
    ("absolute", 2): _Excess(3.4, "many pairs sit at E = eps0 (0.169 for 19 such pairs among 20 "
                             "models at n = 100)", from_models=6),
}


def _warn_fragile(result: PairwiseTest, boot: Bootstrap) -> None:
    """Warn when claims have corrected p-values in [alpha / f, alpha), f the measured excess.

    Such a claim holds at level alpha only if the test does; where the test's least favourable
    nulls reach f alpha, only claims that survive at alpha / f are backed at alpha. Scores and
    scales other than the default were not measured for this and do not warn.
    """
    excess = EXCESS.get((result.test, boot.order))
    if excess is None or result.scale != "raw_upper":
        return
    units = resampling_units(boot.samples)
    if excess.below_units is not None and units >= excess.below_units \
            or boot.samples.k < excess.from_models:
        return
    with np.errstate(invalid="ignore"):
        fragile = result.reject & (result.pvalue_adjusted >= result.alpha / excess.factor)
    count, claims = int(fragile.sum()), int(result.reject.sum())
    if not count:
        return
    i, j = (int(x[0]) for x in np.nonzero(fragile))
    warnings.warn(
        f"{count} of the {claims} claims of the {ORDER_NAMES[boot.order]}-order {result.test} "
        f"test have corrected p-values between alpha / {excess.factor:g} and alpha (e.g. "
        f"{result.models[i]!r} beats {result.models[j]!r}, p = {result.pvalue_adjusted[i, j]:.3g}"
        f"): where {excess.where}, this test's family-wise error was measured up to "
        f"{excess.factor:g} alpha (docs/calibration.md), so these claims are backed only at that "
        f"level; the other claims survive at alpha / {excess.factor:g}, hence at alpha even at "
        "that excess",
        CalibrationWarning,
        stacklevel=3,
    )


#: Sample skewness from which the first-order absolute test warns: lognormal(sigma = 1) scores
#: (median sample skewness 2.9 at n = 100) put its family-wise error at 0.20 at E = eps0
#: (docs/calibration.md); normal, grid and beta scores stay below 1 (0 of 2,000 samples reach 2).
HEAVY_TAIL_SKEW = 2.0


def _warn_heavy_tails(result: PairwiseTest, boot: Bootstrap) -> None:
    """Warn when first-order absolute claims rest on strongly skewed scores: where a few
    extreme items dominate the violation ratio, no bootstrap variant tried holds the level."""
    if boot.order != 1 or not result.reject.any():
        return
    from scipy.stats import skew

    skews = {m: float(skew(np.asarray(v, dtype=float)))
             for m, v in zip(boot.samples.models, boot.samples.values, strict=True)
             if np.asarray(v).size > 2 and np.all(np.isfinite(v)) and np.ptp(v) > 0}
    heavy = sorted((m for m, g in skews.items() if abs(g) >= HEAVY_TAIL_SKEW),
                   key=lambda m: -abs(skews[m]))
    if not heavy:
        return
    shown = ", ".join(f"{m!r} ({skews[m]:.1f})" for m in heavy[:3])
    more = f" and {len(heavy) - 3} more" if len(heavy) > 3 else ""
    warnings.warn(
        f"the first-order absolute test made {int(result.reject.sum())} claim(s) on strongly "
        f"skewed scores (sample skewness of {shown}{more}; |skewness| >= {HEAVY_TAIL_SKEW:g}): "
        "where a few extreme items dominate the violation ratio its level was measured at "
        "0.20 for alpha = 0.05 (lognormal scores at E = eps0, docs/calibration.md) and is not "
        "known for other skewed laws; treat claims near eps0 with care, or use the relative "
        "test or second order",
        CalibrationWarning, stacklevel=3)


def absolute_test_from(boot: Bootstrap, *, eps0: float = 0.25, alpha: float = 0.05,
                       correction: str = "bonferroni", scale: str = "auto",
                       family: np.ndarray | None = None) -> PairwiseTest:
    """Absolute test (eps-FSD / eps-SSD) from precomputed bootstrap replicates.

    ``scale="raw"`` is the paper's ``E + z sd*(E) < eps0``. ``scale="raw_upper"`` uses the
    bootstrap upper semi-deviation of E (``Bootstrap.eps_matrix_upper_sd``) instead of its sd:
    an upper confidence bound only needs the spread above the estimate. ``scale="logit"``
    decides ``logit(E) + z sd*(logit E) < logit(eps0)`` (shrunk, see :func:`shrunk_logit`) and
    maps the upper bound back. ``scale="auto"`` (default) is raw_upper at first order: at the
    null boundary E = eps0 it holds the level the raw scale exceeds at n ~ 100, and near exact
    dominance, where replicates pile up at 0 below the estimate (which inflates the logit sd),
    it keeps the raw scale's power (docs/calibration.md); the same at second order.
    Bootstraps without the needed sds fall back to the raw scale. ``family`` as
    :func:`relative_test_from`.
    """
    alpha = _check_alpha(alpha)
    correction = _check_choice(correction, "correction", CORRECTIONS)
    scale = _check_choice(scale, "scale", SCALES)
    eps0 = _check_eps0(eps0)
    if scale == "auto":
        scale = ABSOLUTE_AUTO[boot.order]
    if scale == "raw_upper" and boot.eps_matrix_upper_sd is None \
            or scale.startswith("logit") and boot.eps_matrix_logit_sd is None:
        scale = "raw"
    if scale == "logit_upper":
        raise InputError("scale='logit_upper' is for the relative test; the absolute test takes "
                         "'auto', 'raw', 'raw_upper' or 'logit'")
    scaled = None
    if scale == "logit":
        c = boot.shrink

        def inverse(x):
            with np.errstate(over="ignore"):
                return np.clip((1.0 + 2.0 * c) / (1.0 + np.exp(-x)) - c, 0.0, 1.0)

        scaled = (shrunk_logit(boot.eps_matrix, c), boot.eps_matrix_logit_sd.copy(),
                  float(shrunk_logit(eps0, c)), inverse)
    elif scale == "raw_upper":
        scaled = (boot.eps_matrix.copy(), boot.eps_matrix_upper_sd.copy(), eps0,
                  lambda x: np.clip(x, None, 1.0))
    core = (
        f"For each ordered pair (i, j), H0: model i is not almost {ORDER_NAMES[boot.order]}-order "
        f"dominant over model j ({_dominance_name(boot.order, 'eps')}), i.e. "
        f"eps(i, j) >= eps0 = {eps0:g}" + _scale_words(scale)
    )
    result = _result("absolute", boot, boot.eps_matrix.copy(), boot.eps_matrix_sd.copy(), eps0,
                     alpha, correction, core, scaled=scaled, eps0=eps0, family=family,
                     scale=scale)
    _warn_fragile(result, boot)
    _warn_heavy_tails(result, boot)
    return result


def score_test_from(boot: Bootstrap, criterion: str, *, alpha: float = 0.05,
                    correction: str = "bonferroni") -> PairwiseTest:
    """Paired z-tests of mean-risk score differences, with the bootstrap sd."""
    alpha = _check_alpha(alpha)
    correction = _check_choice(correction, "correction", CORRECTIONS)
    score = boot.scores[criterion]
    statistic = score[None, :] - score[:, None]  # s_j - s_i: negative when i is better
    sd = _difference_sd(boot.score_replicates[criterion])
    np.fill_diagonal(statistic, np.nan)
    np.fill_diagonal(sd, np.nan)
    core = (
        f"For each ordered pair (i, j), H0: model i's {criterion} score is not higher than model "
        f"j's, i.e. score_j - score_i >= 0"
    )
    return _result("score", boot, statistic, sd, 0.0, alpha, correction, core, gated=False,
                   criterion=criterion)


def _check_eps0(eps0: object) -> float:
    if isinstance(eps0, bool) or not isinstance(eps0, int | float) or not 0 < eps0 <= 0.5:
        raise InputError(f"eps0 must be a number in (0, 0.5]; got {eps0!r}")
    return float(eps0)


def relative_test(data: object, *, metric: str | None = None,
                  order: int | tuple[int, ...] = 2,
                  alpha: float = 0.05, correction: str = "bonferroni", design: str = "paired",
                  n_resamples: int = 1000, seed: int | None = None, batch: int | None = None,
                  backend: str = "auto", scale: str = "auto",
                  progress: Progress | None = None) -> PairwiseTest | tuple[PairwiseTest, ...]:
    """Relative stochastic-dominance test R-FSD (order 1) / R-SSD (order 2) between all pairs.

    Parameters
    ----------
    data : ScoreTable, mapping {model: scores}, or array (models x items)
    order : {1, 2} or tuple of them
        A tuple such as ``(1, 2)`` returns one result per order from the same replicates.
    alpha : float
        Family-wise level (false discovery rate with ``correction="bh"``).
    correction : {"bonferroni", "holm", "bh"}
    design : {"paired", "independent"}
    n_resamples : int
    seed : int or None
    batch, backend
        As :func:`bootstrap`.
    scale : {"auto", "raw", "raw_upper", "logit", "logit_upper"}
        Scale and sd of the z statistic (see :func:`relative_test_from`): "auto" (default) is
        raw_upper, Delta over the bootstrap upper semi-deviation; "raw" is the paper's.

    Returns
    -------
    PairwiseTest
        ``statistic[i, j] = eps_i - eps_j``; H0 for (i, j): Delta >= 0. Rejected when
        ``Delta / sd+ < z_{alpha'}`` *and* the equality test rejects "same distribution" at the
        same level.

    Notes
    -----
    1. E[i, j] = eps_l(model i, model j) for all pairs; eps_i = mean of E[i, j] over the models
       j whose distribution differs from i's.
    2. Bootstrap (B replicates, paired by default): eps_i per replicate; the upper
       semi-deviation of Delta* about Delta (the sd with ``scale="raw"``).
    3. p = max(Phi(z), p of the equality test) (intersection-union test,
       :mod:`riskbench.equality`); correct over the M = k(k-1) ordered pairs.

    References
    ----------
    Nitsure et al., "Risk Aware Benchmarking of Large Language Models", ICML 2024, section 4.
    """
    boot = bootstrap(data, metric=metric, order=order, design=design, n_resamples=n_resamples,
                     seed=seed, batch=batch, backend=backend, progress=progress)
    if isinstance(boot, tuple):
        return tuple(relative_test_from(b, alpha=alpha, correction=correction, scale=scale)
                     for b in boot)
    return relative_test_from(boot, alpha=alpha, correction=correction, scale=scale)


def absolute_test(data: object, *, metric: str | None = None,
                  order: int | tuple[int, ...] = 2,
                  eps0: float = 0.25, alpha: float = 0.05, correction: str = "bonferroni",
                  design: str = "paired", n_resamples: int = 1000, seed: int | None = None,
                  batch: int | None = None, backend: str = "auto", scale: str = "auto",
                  progress: Progress | None = None) -> PairwiseTest | tuple[PairwiseTest, ...]:
    """Absolute almost-dominance test eps-FSD (order 1, Dror et al.'s ASO) / eps-SSD.

    H0 for (i, j): E[i, j] >= eps0, rejected when ``E + z_{1-alpha'} sd+ < eps0`` (sd+: the
    bootstrap upper semi-deviation by default, see :func:`absolute_test_from`) and the equality
    test rejects too. Other parameters as :func:`relative_test`; ``eps0`` in (0, 0.5], default 0.25.
    """
    eps0 = _check_eps0(eps0)
    boot = bootstrap(data, metric=metric, order=order, design=design, n_resamples=n_resamples,
                     seed=seed, batch=batch, backend=backend, progress=progress)
    if isinstance(boot, tuple):
        return tuple(absolute_test_from(b, eps0=eps0, alpha=alpha, correction=correction,
                                        scale=scale) for b in boot)
    return absolute_test_from(boot, eps0=eps0, alpha=alpha, correction=correction, scale=scale)


def score_test(data: object, criterion: str, *, metric: str | None = None, p: float = 0.05,
               beta: float = 0.05, alpha: float = 0.05, correction: str = "bonferroni",
               design: str = "paired", n_resamples: int = 1000, seed: int | None = None,
               batch: int | None = None, progress: Progress | None = None) -> PairwiseTest:
    """Pairwise tests of a mean-risk score (``criterion`` in RISK_MEASURES), bootstrap sd."""
    criterion = _check_choice(criterion, "criterion", RISK_MEASURES)
    boot = bootstrap(data, metric=metric, order=2, design=design, n_resamples=n_resamples,
                     seed=seed, batch=batch, dominance=False, risk=True, p=p, beta=beta,
                     progress=progress)
    return score_test_from(boot, criterion, alpha=alpha, correction=correction)
