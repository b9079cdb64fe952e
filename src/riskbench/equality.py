"""Equality of two score distributions: the gate in front of every dominance claim.

Why a gate. The violation ratio of two *identical* distributions is 0/0: its estimate does not
settle near 1/2 as n grows but keeps a wide, non-normal law on [0, 1], while the bootstrap sd
only measures the spread around the observed value. A test of ``eps_i - eps_j`` or of
``E[i, j] - eps0`` divided by that sd then rejects far more often than alpha when the models are
in fact the same (at n = 100, k = 20 identical models, the Bonferroni-corrected relative test
claimed some dominance in about 90% of datasets; ``docs/calibration.md``). The central limit
theorems behind section 4 of METHOD.md hold only where the distributions differ.

So every dominance claim is an intersection-union test (Berger 1982): "i dominates j" is claimed
only when both the dominance test *and* a test of ``H0: F_i = F_j`` reject at the same level.
Its p-value is the larger of the two p-values, and its level holds on the union of both null
hypotheses whatever the dependence between the two tests.

The equality test is Neyman's smooth test, two-sample and design-aware: each score is mapped to
its mid-distribution value u in (0, 1) under the ECDF pooled over all models (ties share one u),
and scored by the first ``COMPONENTS`` orthonormal shifted Legendre polynomials of u (location,
spread, skewness, kurtosis). Under H0 the two models' mean scores are equal; the difference S
(a vector) has a covariance Sigma estimated from the *same* bootstrap resamples as the dominance
test (so paired items, clusters and two-stage generations are honoured), and
``W = S' Sigma^+ S`` is referred to Hotelling's T^2 law with r = rank(Sigma) and B - 1 degrees of
freedom (``F(r, B - r)`` after scaling). Scores are bounded, so the normal approximation holds in
the far tail that Bonferroni corrections reach, with heavy tails or heavy ties alike; discrete
scores reduce the rank r (binary scores: r = 1, a test of two proportions).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import fdtrc  # F survival function; scipy.stats costs ~1 s to import

__all__ = ["COMPONENTS", "EqualityAccumulator", "legendre_features", "pooled_mid_ranks"]

#: Legendre components of the smooth test.
COMPONENTS = 4
#: Eigenvalues of Sigma below this share of its largest one are treated as 0.
_RANK_TOL = 1e-9


def pooled_mid_ranks(values: list[np.ndarray],
                     orders: Sequence[np.ndarray] | None = None) -> list[np.ndarray]:
    """Each value's mid-distribution value ``(F(v-) + F(v)) / 2`` under the pooled ECDF.

    ``orders``: each 1-D value array's stable argsort when the caller has it (the bootstrap
    sorts the rows anyway), so that it is not computed twice."""
    pooled = np.concatenate([np.asarray(v, dtype=float).ravel() for v in values])
    pooled.sort()  # in place: no second copy of all values
    total = pooled.size
    out = []
    for v in values:
        v = np.asarray(v)
        if v.ndim != 1:
            lo = np.searchsorted(pooled, v, side="left")
            hi = np.searchsorted(pooled, v, side="right")
            out.append((lo + hi) / (2.0 * total))
            continue
        # searched in sorted order (each lookup near the last one: 0.9 s -> 0.05 s for 500,000
        # values in 10^7), then put back in the values' order; the same numbers
        order = np.argsort(v, kind="stable") if orders is None else orders[len(out)]
        ordered = v[order]
        u = np.empty(v.shape)
        u[order] = (np.searchsorted(pooled, ordered, side="left")
                    + np.searchsorted(pooled, ordered, side="right")) / (2.0 * total)
        out.append(u)
    return out


def _legendre(u: np.ndarray, components: int) -> np.ndarray:
    """Orthonormal shifted Legendre polynomials 1..components on (0, 1): (len(u), components)."""
    x = 2.0 * u - 1.0
    p_prev, p = np.ones_like(x), x
    cols = []
    for degree in range(1, components + 1):
        cols.append(np.sqrt(2.0 * degree + 1.0) * p)
        p_prev, p = p, ((2.0 * degree + 1.0) * x * p - degree * p_prev) / (degree + 1.0)
    return np.stack(cols, axis=-1)


def legendre_features(values: list[np.ndarray], components: int = COMPONENTS) -> list[np.ndarray]:
    """Per model, the (n_a, components) smooth-test scores of its values (pooled mid-ranks)."""
    return [_legendre(u, components) for u in pooled_mid_ranks(values)]


class EqualityAccumulator:
    """Collects bootstrap replicates of every model's mean feature vector, then tests equality.

    Parameters
    ----------
    features : list of (n_a, F) arrays, one per model, rows in the samples' value order
        (the order the resampling counts refer to).
    n_resamples : int
    """

    def __init__(self, features: list[np.ndarray], n_resamples: int) -> None:
        features = [np.asarray(f, dtype=float) for f in features]
        self._setup(len(features), [f.shape[0] for f in features], features[0].shape[1],
                    features.__getitem__, n_resamples)

    @classmethod
    def from_values(cls, values: list[np.ndarray], n_resamples: int,
                    components: int = COMPONENTS,
                    orders: Sequence[np.ndarray] | None = None) -> EqualityAccumulator:
        """The accumulator of :func:`legendre_features` of ``values``, each model's features
        made when they are stored, so that all k (n, F) arrays never exist at once.
        ``orders``: the values' stable argsorts, if known (:func:`pooled_mid_ranks`)."""
        us = pooled_mid_ranks(values, orders)

        def feature(a: int) -> np.ndarray:
            u, us[a] = us[a], None  # freed once used
            return _legendre(u, components)

        self = cls.__new__(cls)
        self._setup(len(values), [np.asarray(v).size for v in values], components, feature,
                    n_resamples)
        return self

    def _setup(self, k: int, sizes: list[int], width: int, feature, n_resamples: int) -> None:
        """``feature(a)``: model a's (n_a, F) features, asked for once, in model order."""
        self.replicates = np.zeros((n_resamples, k, width))
        self.shared = None
        self._k = k
        equal = len(set(sizes)) == 1
        point = []
        if _compiled() is not None:
            # the compiled means read contiguous (F, n) rows: keep only those (one (k F, n)
            # array when the sizes agree, whose (F, n) blocks serve the per-model path too),
            # not the (n, F) features as well (3 x k n F floats at 10^7 values: 960 MB)
            self.features = None
            self._transposed = {}
            rows = np.empty((k * width, sizes[0])) if equal else None
            for a in range(k):
                f = np.asarray(feature(a), dtype=float)
                point.append(f.mean(axis=0))
                if equal:
                    rows[a * width:(a + 1) * width] = f.T
                    self._transposed[a] = rows[a * width:(a + 1) * width]
                else:
                    self._transposed[a] = np.ascontiguousarray(f.T)
            if equal:
                self._transposed["shared"] = rows
                self.shared = rows.T  # (n, kF) view, marks the shared path
            self.point = np.stack(point)  # (k, F)
            return
        self.features = [np.asarray(feature(a), dtype=float) for a in range(k)]
        self.point = np.stack([f.mean(axis=0) for f in self.features])  # (k, F)
        if equal:
            self.shared = np.ascontiguousarray(np.concatenate(self.features, axis=1))  # (n, kF)

    def add(self, start: int, stop: int, counts: list[np.ndarray]) -> None:
        """Replicates start..stop-1 from their draw counts (one shared array or one per model)."""
        # one replicate at a time (each element summed over the items in a fixed order), so
        # the results do not depend on how many replicates come together
        k, width = self.point.shape
        compiled = _compiled() if self.features is None else None  # chosen when built
        if len(counts) == 1 and self.shared is not None:
            c = np.ascontiguousarray(counts[0], dtype=np.int64)
            if compiled is not None:
                out = np.empty((stop - start, k * width))
                compiled.gate_means(c, self._transposed["shared"], out)
                self.replicates[start:stop] = out.reshape(-1, k, width)
                return
            c = c.astype(float)
            for r in range(stop - start):
                self.replicates[start + r] = (c[r] @ self.shared).reshape(k, width) / c[r].sum()
            return
        for a in range(self._k):
            c = np.ascontiguousarray(counts[0] if len(counts) == 1 else counts[a],
                                     dtype=np.int64)
            if compiled is not None:
                out = np.empty((stop - start, width))
                compiled.gate_means(c, self._transposed[a], out)
                self.replicates[start:stop, a] = out
                continue
            feat = self.features[a]
            c = c.astype(float)
            for r in range(stop - start):
                self.replicates[start + r, a] = (c[r] @ feat) / c[r].sum()

    def pvalues(self, units: int | None = None) -> np.ndarray:
        """(k, k) symmetric p-values of H0: F_i = F_j (NaN diagonal).

        ``units``: the number of independent resampling units (items, or clusters) behind the
        covariance. The bootstrap covariance is the plug-in one, (units - 1) / units times the
        unbiased estimate, and it carries units - 1 degrees of freedom, not B - 1: Hotelling's
        small-sample law is used with those (a small-sample correction that matters below
        about 50 units). Without it B - 1 is used.
        """
        k, width = self.point.shape
        b = self.replicates.shape[0]
        out = np.full((k, k), np.nan)
        if b < 2:
            return out
        dev = self.replicates - self.replicates.mean(axis=0)
        compiled = _compiled()
        if compiled is not None:
            by_model = np.ascontiguousarray(dev.transpose(1, 2, 0))  # (k, F, B)
        iu, ju = np.triu_indices(k, 1)
        for lo in range(0, iu.size, 1 << 16):
            i, j = iu[lo:lo + (1 << 16)], ju[lo:lo + (1 << 16)]
            if compiled is not None:
                cov = compiled.gate_covariances(by_model, i, j)
            else:
                d = dev[:, i] - dev[:, j]  # (B, m, F)
                cov = np.einsum("bmf,bmg->mfg", d, d) / (b - 1)
            s = self.point[i] - self.point[j]  # (m, F)
            out[i, j] = out[j, i] = _wald_pvalues(s, cov, b if units is None else units)
        if units is not None:
            # never more certain than the most extreme sign pattern of the units allows: the
            # exact paired randomisation test of n units cannot go below 2^(1 - n)
            out = np.maximum(out, 2.0 ** (1 - units))
        return out


def _compiled():
    """The compiled gate kernels (``riskbench.backends._numba``), or None without numba."""
    from riskbench.backends import available

    if not available("numba"):
        return None
    from riskbench.backends import _numba

    return _numba


def _wald_pvalues(s: np.ndarray, cov: np.ndarray, b: int) -> np.ndarray:
    """Hotelling-type p-values of S' Sigma^+ S for a stack of (F,) vectors and (F, F) matrices
    estimated from b units: ``T^2 (b - r) / (r (b - 1)) ~ F(r, b - r)``."""
    if b < 2:  # one unit: every replicate is the same, nothing can be told apart
        return np.ones(s.shape[0])
    w, v = np.linalg.eigh(cov)  # ascending
    top = w[:, -1:]
    keep = w > _RANK_TOL * np.maximum(top, 0.0)
    keep &= top > 0
    proj = np.einsum("mfr,mf->mr", v, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(keep, proj * proj / np.where(keep, w, 1.0), 0.0).sum(axis=1)
    rank = keep.sum(axis=1)
    stat = stat * (b - 1) / b  # unbiased covariance
    p = np.ones(s.shape[0])
    # a difference along a direction with no sampling variation at all (e.g. model i beats
    # model j by the same margin of ranks on every item) contradicts H0 for sure
    inside = np.einsum("mfr,mr->mf", v, np.where(keep, proj, 0.0))
    outside = np.linalg.norm(s - inside, axis=1)
    certain = outside > 1e-9 * np.maximum(np.linalg.norm(s, axis=1), 1e-300)
    certain &= outside > 1e-12
    p[certain] = 0.0
    ok = (rank > 0) & ~certain
    if ok.any():
        r = rank[ok].astype(float)
        dfd = np.maximum(b - r, 1.0)  # fewer units than components: 1 degree of freedom
        p[ok] = fdtrc(r, dfd, stat[ok] * dfd / (r * (b - 1)))
    return p
