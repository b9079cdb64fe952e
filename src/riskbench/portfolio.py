"""Metrics portfolio (METHOD.md section 9): several guardrail metrics into one per-item score.

1. Orientation: every metric higher-is-better (lower-is-better ones were negated by the table).
2. Normalisation: each metric u is mapped through its ECDF pooled over all k models and n items
   (M = k n values, right-continuous, ties get the maximum rank): v = F_u(s) in (0, 1].
3. Aggregation per (model, item):
   - independent copula ("ic", default): weighted geometric mean prod_u v_u^lambda_u;
   - empirical copula ("ec"): the share of the M pooled points that are componentwise <= v
     (the point itself included), i.e. the empirical copula at the point.

The empirical copula needs, for each of M points in N dimensions, the number of points it
dominates. :func:`dominance_counts` does it with blocked bitsets in O(M^2 N / 64) word
operations instead of O(M^2 N) comparisons; :func:`dominance_counts_naive` is its oracle.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from riskbench._samples import Samples
from riskbench.backends import available, resolve
from riskbench.errors import InputError

__all__ = [
    "PORTFOLIOS",
    "MetricCube",
    "Portfolio",
    "pooled_ecdf",
    "dominance_counts",
    "dominance_counts_naive",
    "build_portfolio",
    "check_weights",
]

PORTFOLIOS = ("ic", "ec")
PORTFOLIO_NAMES = {"ic": "independent-copula portfolio", "ec": "empirical-copula portfolio"}

#: Smallest number of positions per checkpoint bitset in :func:`dominance_counts`.
BUCKET = 16
#: Memory the checkpoint bitsets may take before the bucket grows (bytes).
CHECKPOINT_BYTES = 256 * 2**20
#: Query points per block in :func:`dominance_counts`.
BLOCK = 512


@dataclass(frozen=True, eq=False)
class MetricCube:
    """Oriented scores of k models on the same n items for N metrics: ``values`` (k, n, N)."""

    models: tuple[str, ...]
    items: tuple[str, ...]
    metrics: tuple[str, ...]
    values: np.ndarray = field(repr=False)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    #: Cluster code (0..C-1) of each item, or None: the bootstrap of a portfolio built from
    #: this cube then resamples clusters, not items (METHOD.md section 14).
    clusters: np.ndarray | None = field(default=None, repr=False)


def pooled_ecdf(values: np.ndarray) -> np.ndarray:
    """Right-continuous ECDF ranks of every value within its metric, pooled over models and items.

    Parameters
    ----------
    values : ndarray, shape (M, N)
        M pooled points (all models and items), N metrics.

    Returns
    -------
    ndarray of int, shape (M, N)
        ``ranks[p, u]`` = number of points q with ``values[q, u] <= values[p, u]`` (ties share
        the maximum rank), in 1..M. The normalised score is ``ranks / M``.
    """
    ranks = np.empty(values.shape, dtype=np.int64)
    for u in range(values.shape[1]):
        column = values[:, u]
        order = np.argsort(column, kind="stable")
        ordered = column[order]
        # the queries in sorted order: a cache-friendly search (a third faster than searching
        # the values as they come, the same ranks)
        ranks[order, u] = np.searchsorted(ordered, ordered, side="right")
    return ranks


_RANKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # read-only cube -> ranks


def cube_ranks(cube: MetricCube) -> np.ndarray:
    """:func:`pooled_ecdf` of the cube's (k n, N) pooled points, computed once per cube when
    its values are read-only (a table's cubes are), so that the IC, EC and multivariate
    portfolios of one cube share it."""
    k, n, n_metrics = cube.values.shape
    if cube.values.flags.writeable:
        return pooled_ecdf(cube.values.reshape(k * n, n_metrics))
    if cube not in _RANKS:
        ranks = pooled_ecdf(cube.values.reshape(k * n, n_metrics))
        ranks.flags.writeable = False
        _RANKS[cube] = ranks
    return _RANKS[cube]


def dominance_counts_naive(ranks: np.ndarray) -> np.ndarray:
    """Oracle: count[p] = #{q : ranks[q] <= ranks[p] componentwise} by direct comparison."""
    return (ranks[None, :, :] <= ranks[:, None, :]).all(axis=2).sum(axis=1)


def dominance_counts(ranks: np.ndarray, *, bucket: int | None = None,
                     block: int = BLOCK, backend: str = "numpy") -> np.ndarray:
    """For each of M points, the number of points componentwise <= it (itself included).

    Parameters
    ----------
    ranks : ndarray, shape (M, N)
        Typically max-rank ECDF ranks (:func:`pooled_ecdf`): ``ranks[q, u] <= ranks[p, u]``
        exactly when point q is <= point p in metric u, and exactly ``ranks[p, u]`` points
        satisfy it. Any other numbers are first replaced by their max-ranks per column (the
        same componentwise order, so the same counts).

    backend : {"numpy", "numba"}
        numba runs the same algorithm compiled, in parallel over the query points.

    Returns
    -------
    ndarray of int, shape (M,)

    Notes
    -----
    1. Per metric u, sort the points (stably); the points <= p in u are the first
       ``ranks[p, u]`` of that order. Bits stand for points in the order of metric 0, so for
       metric 0 the set is an exact prefix of the bits.
    2. For metrics u >= 1, checkpoint bitsets ``C_u[c]`` (uint64 words) hold the first
       ``c * bucket`` points of u's order, built by one cumulative OR.
    3. For a block of query points (consecutive in metric 0), AND the checkpoints
       ``C_u[ranks[p, u] // bucket]`` over the prefix words, mask the prefix of metric 0 and
       popcount: every point counted is <= p in all metrics.
    4. Missed are points <= p in some metric's last partial bucket (fewer than ``bucket`` per
       metric). Check those candidates directly and count each once: for the first metric
       whose partial bucket holds it.
    Cost: O(M^2 N / 128) word operations on average plus O(M N^2 bucket) comparisons.
    """
    m, n_metrics = ranks.shape
    if bucket is None:  # smallest bucket whose checkpoints fit the memory budget
        bucket = BUCKET
        while bucket < 1024 and (n_metrics - 1) * m * m / (8 * bucket) > CHECKPOINT_BYTES:
            bucket *= 2
    if backend == "numba":
        from riskbench.backends._numba import dominance_counts as compiled

        return compiled(ranks, max(bucket, 32))  # compiled: bigger buckets cost nothing
    ranks = pooled_ecdf(ranks).astype(np.int32)  # max-ranks: the same order, as step 1 needs
    first_order = np.argsort(ranks[:, 0], kind="stable")
    ranks = ranks[first_order]  # point ids are now positions in metric 0's order
    words = (m + 63) // 64
    orders = np.argsort(ranks, axis=0, kind="stable").astype(np.int32)  # (M, N)
    position = np.empty_like(orders)
    position[orders, np.arange(n_metrics)] = np.arange(m, dtype=np.int32)[:, None]
    n_check = m // bucket + 1
    point_word = np.arange(m) >> 6
    point_bit = np.left_shift(np.uint64(1), (np.arange(m) & 63).astype(np.uint64))
    checkpoints = [None]
    for u in range(1, n_metrics):
        table = np.zeros((n_check + 1) * words, dtype=np.uint64)
        first = position[:, u] // bucket + 1  # q is in C_u[c] for every c >= first
        key = first.astype(np.int64) * words + point_word  # cell (row, word) of q's bit
        by_key = np.argsort(key, kind="stable")
        cells, starts = np.unique(key[by_key], return_index=True)
        table[cells] = np.bitwise_or.reduceat(point_bit[by_key], starts)
        checkpoints.append(np.bitwise_or.accumulate(table.reshape(-1, words)[:n_check], axis=0))
    word_index = np.arange(words)
    all_ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    counts = np.empty(m, dtype=np.int64)
    offsets = np.arange(bucket - 1, dtype=np.int32)
    for start in range(0, m, block):
        stop = min(m, start + block)
        rq = ranks[start:stop]  # (b, N)
        used = (int(rq[:, 0].max()) + 63) // 64  # words that can hold points <= any query
        full = rq[:, 0, None] // 64  # words entirely inside metric 0's prefix
        tail = (rq[:, 0] % 64).astype(np.uint64)
        acc = np.where(word_index[None, :used] < full, all_ones, np.uint64(0))
        boundary = full[:, 0] < used
        rows = np.flatnonzero(boundary)
        acc[rows, full[rows, 0]] = (np.uint64(1) << tail[rows]) - np.uint64(1)
        cut = rq // bucket  # (b, N) checkpoint index per metric
        for u in range(1, n_metrics):
            acc &= checkpoints[u][cut[:, u], :used]
        total = np.bitwise_count(acc).sum(axis=1, dtype=np.int64)
        lo = cut * bucket  # first position of each metric's partial bucket, (b, N)
        for u in range(1, n_metrics):
            pos = lo[:, u, None] + offsets[None, :]  # (b, bucket-1)
            valid = pos < rq[:, u, None]
            cand = orders[np.minimum(pos, m - 1), u]  # (b, bucket-1) point ids
            ok = valid & (ranks[cand] <= rq[:, None, :]).all(axis=2)
            if u > 1:  # counted already if in an earlier metric's partial bucket
                ok &= (position[cand, 1:u] < lo[:, None, 1:u]).all(axis=2)
            total += ok.sum(axis=1)
        counts[start:stop] = total
    out = np.empty(m, dtype=np.int64)
    out[first_order] = counts
    return out


def check_weights(weights: object, metrics: Sequence[str]) -> np.ndarray:
    """Portfolio weights as an array aligned with ``metrics``, non-negative, summing to 1."""
    if weights is None:
        return np.full(len(metrics), 1.0 / len(metrics))
    if not isinstance(weights, Mapping):
        raise InputError(f"weights must be a mapping {{metric: weight}}; got {weights!r}")
    unknown = [m for m in weights if m not in metrics]
    if unknown:
        raise InputError(f"weights name metric(s) {', '.join(map(repr, unknown))} that are not "
                         f"in the portfolio (metrics: {', '.join(metrics)})")
    raw = []
    for m in metrics:
        w = weights.get(m, 1.0)  # unnamed metrics keep the default weight 1
        if isinstance(w, bool) or not isinstance(w, int | float) or not np.isfinite(w) or w < 0:
            raise InputError(f"weight of metric {m!r} must be a finite number >= 0; got {w!r}")
        raw.append(float(w))
    total = sum(raw)
    if total <= 0:
        raise InputError("portfolio weights are all zero; give at least one metric a positive "
                         "weight")
    return np.array(raw) / total


@dataclass(frozen=True, eq=False)
class Portfolio:
    """Per-item portfolio scores of k models: ``scores`` (k, n) in (0, 1], higher is better."""

    kind: str
    models: tuple[str, ...]
    items: tuple[str, ...]
    metrics: tuple[str, ...]
    weights: np.ndarray = field(repr=False)
    normalised: np.ndarray = field(repr=False)  # (k, n, N) pooled-ECDF values
    scores: np.ndarray = field(repr=False)  # (k, n)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    clusters: np.ndarray | None = field(default=None, repr=False)  # of each item, or None

    @property
    def name(self) -> str:
        return f"portfolio:{self.kind}"

    def describe(self) -> str:
        parts = [f"{m} ({'higher' if self.higher_is_better.get(m, True) else 'lower'} is better"
                 f", weight {w:.3g})" for m, w in zip(self.metrics, self.weights, strict=True)]
        if self.kind == "ec":  # the empirical copula has no weights
            parts = [p.split(", weight")[0] + ")" for p in parts]
        return f"{PORTFOLIO_NAMES[self.kind]} of {', '.join(parts)}"

    def samples(self, metric: str | None = None) -> Samples:
        """The portfolio scores as aligned samples for the tests (higher is better)."""
        return Samples(self.models, tuple(self.scores), True, self.name, True, self.items,
                       self.clusters)

    def to_frame(self):
        """Long table: model, item, portfolio score and each normalised metric."""
        return scores_frame(self)


def scores_frame(target) -> object:
    """Long table of a portfolio-like object (models, items, metrics, scores (k, n),
    normalised (k, n, N)): model, item, score and each normalised metric ``v_<metric>``."""
    import pandas as pd

    k, n = target.scores.shape
    frame = pd.DataFrame({
        "model": np.repeat(np.array(target.models, dtype=object), n),
        "item": np.tile(np.array(target.items, dtype=object), k),
        "score": target.scores.ravel(),
    })
    for u, m in enumerate(target.metrics):
        frame[f"v_{m}"] = target.normalised[:, :, u].ravel()
    return frame


def build_portfolio(cube: MetricCube, *, kind: str = "ic", weights: object = None,
                    backend: str = "auto") -> Portfolio:
    """Aggregate several oriented metrics into one per-item score (METHOD.md section 9).

    Parameters
    ----------
    cube : MetricCube
        From ``ScoreTable.cube()``: (k, n, N) oriented scores.
    kind : {"ic", "ec"}
        Independent copula (weighted geometric mean of the normalised metrics, default) or
        empirical copula (share of pooled points componentwise below).
    weights : mapping {metric: weight}, optional
        IC weights; metrics not named weigh 1; normalised to sum 1 (uniform by default). The
        EC portfolio takes no weights.
    backend : {"auto", "numpy", "numba"}
        Engine of the EC dominance counts ("auto": numba when installed).

    Returns
    -------
    Portfolio
    """
    if kind not in PORTFOLIOS:
        raise InputError(f"portfolio must be one of 'ic', 'ec' (or None to rank each metric and "
                         f"aggregate by Borda count); got {kind!r}")
    k, n, n_metrics = cube.values.shape
    lam = check_weights(weights, cube.metrics)
    if kind == "ec" and weights is not None:
        raise InputError("weights apply to the independent-copula portfolio only; drop them or "
                         "use portfolio='ic'")
    ranks = cube_ranks(cube)
    normalised = (ranks / (k * n)).reshape(k, n, n_metrics)
    if kind == "ic":
        scores = np.exp(np.log(normalised) @ lam)
    else:
        engine = "numba" if resolve(backend) in ("numba", "dask") and available("numba") \
            else "numpy"
        scores = (dominance_counts(ranks, backend=engine) / (k * n)).reshape(k, n)
    return Portfolio(kind, cube.models, cube.items, cube.metrics, lam, normalised, scores,
                     dict(cube.higher_is_better), cube.clusters)
