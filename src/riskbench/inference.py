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

import secrets
import warnings
from collections.abc import Callable, Iterator
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
from riskbench.equality import EqualityAccumulator, legendre_features
from riskbench.errors import DegenerateDataWarning, InputError
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
        raise InputError(f"n_resamples must be an integer >= 2; got {n_resamples!r}")
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
    order_idx = [np.argsort(v, kind="stable") for v in samples.values]
    sorted_values = [v[o] for v, o in zip(samples.values, order_idx, strict=True)]
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
    equality = None
    if dominance:
        job = ReplicateJob(tuple(sorted_values), tuple(order_idx), design, orders, seed,
                           samples.clusters, samples.groups)
        resampler = job.resampler()
        equality = EqualityAccumulator(legendre_features(list(samples.values)), n_resamples)
        for start, stop, reps in run_replicates(job, batches, engine):  # (orders, b, k, k)
            equality.add(start, stop, resampler.counts(start, stop))
            eps_reps[:, start:stop] = moments.add(reps)
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
                                 eps_matrix_logit_sd=lsds[u]))
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
    pvalue, pvalue_adjusted : (k, k) one-sided p-values, raw and corrected.
    reject : (k, k) bool.
    confidence_interval : one-sided intervals (-inf, high] for the statistic at
        ``confidence_level``; with the Bonferroni correction, H0 for (i, j) is rejected exactly
        when ``high < threshold`` and the equality test rejects too.
    equality_pvalue : (k, k) p-values of "same score distribution" that gate the dominance
        tests (None for score tests): ``pvalue`` is the larger of the two.
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

    def _repr_html_(self) -> str:
        from riskbench.report.html import notebook_html, pairs_table_html

        return notebook_html(f"{self.test} test of {len(self.models)} models: significant pairs",
                             pairs_table_html(self))

    def to_frame(self):
        """One row per ordered pair (i, j), i != j."""
        import pandas as pd

        k = len(self.models)
        i, j = np.nonzero(~np.eye(k, dtype=bool))
        return pd.DataFrame({
            "model_i": [self.models[a] for a in i],
            "model_j": [self.models[b] for b in j],
            "statistic": self.statistic[i, j],
            "sd": self.sd[i, j],
            "pvalue": self.pvalue[i, j],
            "pvalue_adjusted": self.pvalue_adjusted[i, j],
            "ci_low": self.confidence_interval.low[i, j],
            "ci_high": self.confidence_interval.high[i, j],
            "equality_pvalue": (np.full(i.size, np.nan) if self.equality_pvalue is None
                                else self.equality_pvalue[i, j]),
            "reject": self.reject[i, j],
        })


def _one_sided(statistic: np.ndarray, sd: np.ndarray, threshold: float) -> np.ndarray:
    """P-value Phi((statistic - threshold) / sd), with sd = 0 handled as a point mass."""
    diff = statistic - threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, diff / np.where(sd > 0, sd, 1.0), np.sign(diff) * np.inf)
    z = np.where((sd == 0) & (diff == 0), 0.0, z)
    return ndtr(z)


def _decide(statistic, sd, threshold, alpha, correction, gate=None, scaled=None):
    """Raw and adjusted p-values, decisions and intervals for all ordered pairs.

    The family is the M = k(k-1)/2 unordered pairs; each contributes the direction with the
    smaller p-value (at most one direction can be rejected since alpha < 1/2). With ``gate``
    (p-values of "same distribution", :mod:`riskbench.equality`) each p-value is that of the
    intersection-union test: the larger of the two. ``scaled = (statistic, sd, threshold,
    inverse)`` decides on a transformed scale (the shrunk logit); ``inverse`` maps its upper
    bounds back (None: the interval stays the normal one on the original scale).
    """
    k = statistic.shape[0]
    t_stat, t_sd, t_thr, inverse = scaled if scaled is not None else (statistic, sd, threshold,
                                                                      None)
    pval = _one_sided(t_stat, t_sd, t_thr)
    if gate is not None:
        pval = np.maximum(pval, gate)
    np.fill_diagonal(pval, np.nan)
    iu, ju = np.triu_indices(k, 1)
    m = iu.size
    forward = pval[iu, ju] <= pval[ju, iu]
    fi = np.where(forward, iu, ju)
    fj = np.where(forward, ju, iu)
    adjusted = np.full((k, k), np.nan)
    adjusted[iu, ju] = np.minimum(1.0, pval[iu, ju] * m)  # the other direction: Bonferroni
    adjusted[ju, iu] = np.minimum(1.0, pval[ju, iu] * m)
    adjusted[fi, fj] = adjust_pvalues(pval[fi, fj], correction)
    reject = np.zeros((k, k), dtype=bool)
    reject[fi, fj] = adjusted[fi, fj] < alpha
    level = 1.0 - (alpha / max(m, 1) if correction == "bonferroni" else alpha)
    z = ndtri(level)  # +inf when alpha' underflows 1 - level: the bound is then +inf (or the
    with np.errstate(invalid="ignore"):  # statistic itself where sd = 0, a point mass)
        if inverse is not None:
            high = inverse(t_stat + np.where(t_sd > 0, z * t_sd, 0.0))
        else:
            high = statistic + np.where(sd > 0, z * sd, 0.0)
    np.fill_diagonal(high, np.nan)
    ci = ConfidenceInterval(np.where(np.isnan(high), np.nan, -np.inf), high)
    return pval, adjusted, reject, ci, level, m


def _correction_words(correction: str, m: int) -> str:
    return {
        "bonferroni": f"Bonferroni correction over {m} pairs",
        "holm": f"Holm step-down correction over {m} pairs",
        "bh": f"Benjamini-Hochberg (false discovery rate) correction over {m} pairs",
    }[correction]


_GATE_WORDS = (
    "; a pair is decided only where a test of equal score distributions (Neyman smooth test on "
    "the same resamples) also rejects, and its p-value is the larger of the two "
    "(intersection-union test)"
)


def _result(test, boot, statistic, sd, threshold, alpha, correction, h0_core, gated=True,
            scaled=None, **extra):
    gate = boot.equality_pvalue if gated else None
    pval, adjusted, reject, ci, level, m = _decide(statistic, sd, threshold, alpha, correction,
                                                   gate, scaled)
    if gate is not None:
        h0_core += _GATE_WORDS
        extra["equality_pvalue"] = gate
    h0 = f"{h0_core}; rejected at alpha = {alpha:g} with {_correction_words(correction, m)}."
    return PairwiseTest(
        test=test, models=boot.samples.models, order=boot.order if test != "score" else None,
        statistic=statistic, sd=sd, pvalue=pval, pvalue_adjusted=adjusted, reject=reject,
        confidence_interval=ci, confidence_level=level, threshold=threshold, alpha=alpha,
        correction=correction, design=boot.design, n_resamples=boot.n_resamples, seed=boot.seed,
        h0=h0, n_comparisons=m, backend=boot.backend, **extra,
    )


def _dominance_name(order: int, prefix: str) -> str:
    return f"{prefix}-{'FSD' if order == 1 else 'SSD'}"


SCALES = ("auto", "raw", "logit")


def _scale_words(scale: str) -> str:
    if scale == "raw":
        return ""
    return "; decided on the logit scale of the violation ratios"


def relative_test_from(boot: Bootstrap, *, alpha: float = 0.05,
                       correction: str = "bonferroni", scale: str = "auto") -> PairwiseTest:
    """Relative test (R-FSD / R-SSD) from precomputed bootstrap replicates.

    ``scale="raw"`` (the default, also what "auto" means here) is the paper's
    ``Delta / sd*``. ``scale="logit"`` decides on
    ``logit(eps_i) - logit(eps_j)`` (shrunk, see :func:`shrunk_logit`; the same hypotheses since
    logit is increasing) with its bootstrap sd: closer to its level where Delta = 0 between two
    models at small n, but far less powerful for models near exact dominance (eps_i near 0,
    where the logit stretches the replicates); ``docs/calibration.md``. Statistic, sd and
    interval are reported for Delta on the raw scale either way.
    """
    alpha = _check_alpha(alpha)
    correction = _check_choice(correction, "correction", CORRECTIONS)
    scale = _check_choice(scale, "scale", SCALES)
    scale = "raw" if scale == "auto" else scale
    delta = boot.eps[:, None] - boot.eps[None, :]  # (k, k)
    sd = _difference_sd(boot.eps_replicates)
    np.fill_diagonal(delta, np.nan)
    np.fill_diagonal(sd, np.nan)
    scaled = None
    if scale == "logit":
        t = shrunk_logit(boot.eps, boot.shrink)
        t_delta = t[:, None] - t[None, :]
        t_sd = _difference_sd(shrunk_logit(boot.eps_replicates, boot.shrink))
        scaled = (t_delta, t_sd, 0.0, None)
    core = (
        f"For each ordered pair (i, j), H0: model i does not relatively dominate model j at "
        f"{ORDER_NAMES[boot.order]} order ({_dominance_name(boot.order, 'R')}), i.e. "
        "eps_i - eps_j >= 0, where eps_i is model i's mean violation ratio against the other "
        f"{boot.samples.k - 1} models (so the order depends on the pool of models)"
        + _scale_words(scale)
    )
    return _result("relative", boot, delta, sd, 0.0, alpha, correction, core, scaled=scaled)


def absolute_test_from(boot: Bootstrap, *, eps0: float = 0.25, alpha: float = 0.05,
                       correction: str = "bonferroni", scale: str = "auto") -> PairwiseTest:
    """Absolute test (eps-FSD / eps-SSD) from precomputed bootstrap replicates.

    ``scale="raw"`` is the paper's ``E + z sd*(E) < eps0``. ``scale="logit"`` decides
    ``logit(E) + z sd*(logit E) < logit(eps0)`` (shrunk, see :func:`shrunk_logit`) and maps
    the upper bound back. ``scale="auto"`` (default) is logit at first order, where it holds
    the level at the null boundary E = eps0 that the raw scale exceeds at n ~ 100 (0.04-0.06
    against 0.08-0.13 per pair) and covers better, at no measurable cost in power since eps0 is
    far from 0; and raw at second order, where the logit scale does worse
    (``docs/calibration.md``). Bootstraps without logit replicates use the raw scale.
    """
    alpha = _check_alpha(alpha)
    correction = _check_choice(correction, "correction", CORRECTIONS)
    scale = _check_choice(scale, "scale", SCALES)
    eps0 = _check_eps0(eps0)
    if scale == "auto":
        scale = "logit" if boot.order == 1 else "raw"
    if boot.eps_matrix_logit_sd is None:
        scale = "raw"
    scaled = None
    if scale == "logit":
        c = boot.shrink

        def inverse(x):
            with np.errstate(over="ignore"):
                return np.clip((1.0 + 2.0 * c) / (1.0 + np.exp(-x)) - c, 0.0, 1.0)

        scaled = (shrunk_logit(boot.eps_matrix, c), boot.eps_matrix_logit_sd.copy(),
                  float(shrunk_logit(eps0, c)), inverse)
    core = (
        f"For each ordered pair (i, j), H0: model i is not almost {ORDER_NAMES[boot.order]}-order "
        f"dominant over model j ({_dominance_name(boot.order, 'eps')}), i.e. "
        f"eps(i, j) >= eps0 = {eps0:g}" + _scale_words(scale)
    )
    return _result("absolute", boot, boot.eps_matrix.copy(), boot.eps_matrix_sd.copy(), eps0,
                   alpha, correction, core, scaled=scaled, eps0=eps0)


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
    scale : {"auto", "raw", "logit"}
        Scale of the z statistic: "raw" is the paper's; "auto" (default) is raw for the
        relative test and logit for the first-order absolute test (see
        :func:`absolute_test_from`).

    Returns
    -------
    PairwiseTest
        ``statistic[i, j] = eps_i - eps_j``; H0 for (i, j): Delta >= 0. Rejected when
        ``Delta / sd < z_{alpha'}`` *and* the equality test rejects "same distribution" at the
        same level.

    Notes
    -----
    1. E[i, j] = eps_l(model i, model j) for all pairs; eps_i = mean_{j != i} E[i, j].
    2. Bootstrap (B replicates, paired by default): eps_i per replicate, sd of
       eps_i - eps_j (of logit(eps_i) - logit(eps_j) with ``scale="logit"``).
    3. p = max(Phi(z), p of the equality test) (intersection-union test,
       :mod:`riskbench.equality`); correct over the M = k(k-1)/2 unordered pairs.

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

    H0 for (i, j): E[i, j] >= eps0, rejected when ``E + z_{1-alpha'} sd < eps0`` (on the logit
    scale at first order by default, see :func:`absolute_test_from`) and the equality test
    rejects too. Other parameters as :func:`relative_test`; ``eps0`` in (0, 0.5], default 0.25.
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
