"""Violation-ratio kernels: the exact integrals of METHOD.md section 3.

For order ``l`` the violation ratio of X over Y is

    eps_l(X, Y) = int_0^1 (H_Y - H_X)_+^2 dt / int_0^1 (H_Y - H_X)^2 dt

with H the quantile function Q (l = 1) or the integrated quantile G (l = 2). Small means X
(almost) dominates Y. Integrals are exact: empirical Q is a step function and G is piecewise
linear, so every integral is a finite sum over the breakpoints (never a grid).

Two code paths, one result:

* :func:`violation_ratio` and the unequal-size kernel integrate on the union of both samples'
  breakpoints, for any sizes;
* :func:`pairwise_sorted` handles k models of equal size n at once, vectorised over bootstrap
  replicates, in chunks of pairs so memory stays bounded, and uses eps(j, i) = 1 - eps(i, j).

Only numpy here (DESIGN.md: the numeric core imports numpy/scipy only).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from riskbench.errors import DegenerateDataWarning, InputError

__all__ = [
    "violation_ratio",
    "violation_matrix",
    "one_vs_all",
    "pairwise_sorted",
    "pairwise_ragged",
    "union_grid",
    "common_scale",
]

#: float64 elements one chunk of the pairwise kernel holds (2 MiB: stays in cache).
DEFAULT_CHUNK_ELEMENTS = 1 << 18


def check_order(order: object) -> int:
    """Return ``order`` if it is 1 or 2, else raise :class:`InputError`."""
    if isinstance(order, bool) or order not in (1, 2):
        raise InputError(
            f"order must be 1 (first-order dominance, quantile curves) or 2 (second-order, "
            f"integrated quantile curves); got {order!r}"
        )
    return int(order)  # type: ignore[call-overload]


def as_sample(x: object, name: str = "x") -> np.ndarray:
    """Validate one sample: a non-empty 1-D array of finite numbers, as float64."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a 1-D array of numbers ({exc})") from None
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D; got an array of shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} is empty; a sample needs at least one score")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:5])
        raise InputError(
            f"{name} has {bad.size} NaN or infinite value(s) (positions {shown}"
            f"{', ...' if bad.size > 5 else ''}); drop or fix them first"
        )
    return arr


def common_scale(values: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The samples as float64 arrays, unchanged: the kernels need no common map any more.

    Earlier versions mapped all samples onto [-1, 1] through the midpoint of their range, which
    erased every difference smaller than about 1e-16 of the largest value (issue 16). The
    kernels now work on the differences of each pair and scale them by a power of two (exact),
    so any finite values are safe. Kept for callers that build a ``ReplicateJob`` themselves.
    """
    return [np.asarray(v, dtype=np.float64) for v in values]


def union_grid(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Common breakpoints of two empirical quantile functions with ``n`` and ``m`` atoms.

    Returns ``(ix, iy, h)``: on the g-th interval of the union grid the quantile functions are
    ``x_sorted[ix[g]]`` and ``y_sorted[iy[g]]``, and the interval has width ``h[g]``. The
    breakpoints are kept as integers over the common denominator lcm(n, m), so the grid is exact.
    """
    lcm = n * m // math.gcd(n, m)
    sx, sy = lcm // n, lcm // m
    ends = np.union1d(np.arange(1, n + 1, dtype=np.int64) * sx,
                      np.arange(1, m + 1, dtype=np.int64) * sy)  # (g,) right ends
    ix = (ends + sx - 1) // sx - 1
    iy = (ends + sy - 1) // sy - 1
    h = np.diff(ends, prepend=0) / lcm
    return ix, iy, h


# ----------------------------------------------------------------------------- exact parts
#
# Every kernel works on the differences of one pair, d = Q_Y - Q_X on the intervals of a grid
# (with equal sizes: d_r = y_(r) - x_(r)), never on the values themselves: a value that all
# models share (one item scored 1e16 by everyone) then cancels exactly instead of erasing the
# small differences next to it (issue 16). At order 2, D = cumsum(h d) is G_Y - G_X at the
# breakpoints, summed per pair for the same reason. Each row of d is scaled by a power of two
# (exact) that brings its largest |d| into [1/2, 1): squares can neither overflow nor vanish,
# and the largest term of every denominator is at least h / 12. The positive and negative
# parts are summed separately, so eps is exactly 0 or 1 when d (order 1) or D (order 2) never
# changes sign, and exactly 1/2 (degenerate) only when every difference is 0.

def differences(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y - x`` (broadcast), exactly rounded; rows where that overflows are computed as
    ``y/2 - x/2`` instead (a common factor of a row cancels in eps)."""
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.subtract(y, x)
    rows = ~np.isfinite(d).all(axis=-1)
    if rows.any():
        xb, yb = np.broadcast_to(x, d.shape), np.broadcast_to(y, d.shape)
        d[rows] = yb[rows] * 0.5 - xb[rows] * 0.5
    return d


def scale_rows(d: np.ndarray) -> np.ndarray:
    """Each row of d (..., g) times the power of two that brings max |d| into [1/2, 1).

    Two factors, each within 2^+-538, so that neither overflows even when the row's largest
    difference is subnormal or near the float limit.
    """
    peak = np.max(np.abs(d), axis=-1, keepdims=True)
    _, e = np.frexp(np.where(peak > 0, peak, 1.0))
    half = (-e) // 2
    return d * np.ldexp(1.0, half) * np.ldexp(1.0, -e - half)


def _parts_first(d: np.ndarray, h: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """int (Q_Y - Q_X)_+^2 and int (Q_Y - Q_X)_-^2 (times n when h is None: equal widths)."""
    pos = np.maximum(d, 0.0)
    neg = np.minimum(d, 0.0)
    if h is None:
        return _dot(pos, pos), _dot(neg, neg)
    return (pos * pos) @ h, (neg * neg) @ h


def _parts_second(d: np.ndarray, h: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Exact integrals of the positive and negative parts squared of G_Y - G_X.

    ``D = cumsum(h d)`` (plain cumsum for equal widths, where everything is in units of 1/n),
    and on each segment a -> b of width h the positive part integrates to
    ``h (a^2 + a b + b^2) / 3`` if a, b >= 0, ``h a^3 / (3 (a - b))`` if a > 0 > b,
    ``h b^3 / (3 (b - a))`` if a < 0 < b, else 0 (METHOD.md section 3); the negative part is the
    same for -D. Returns 3n times (equal widths) or 3 times (a grid) the integrals.
    """
    big = np.cumsum(d if h is None else d * h, axis=-1)  # D at the right ends
    small = np.concatenate([np.zeros(big.shape[:-1] + (1,)), big[..., :-1]], axis=-1)
    parts = []
    for sign in (1.0, -1.0):
        a, b = sign * small, sign * big
        ap, bp = np.maximum(a, 0.0), np.maximum(b, 0.0)
        seg = ap * ap + ap * bp + bp * bp  # exact unless the segment crosses zero
        cross = ((a > 0) & (b < 0)) | ((a < 0) & (b > 0))
        if cross.any():
            ac, bc = a[cross], b[cross]
            seg[cross] = np.where(ac > 0, ac**3 / (ac - bc), bc**3 / (bc - ac))
        parts.append(_dot(seg, np.ones(seg.shape[-1])) if h is None else seg @ h)
    return parts[0], parts[1]


def pair_parts(d: np.ndarray, order: int, h: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative parts (eps = pos / (pos + neg)) of rows of differences d."""
    d = scale_rows(d)
    return _parts_first(d, h) if order == 1 else _parts_second(d, h)


def _ratio(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """eps = pos / (pos + neg): exactly 0 or 1 when one part is 0, 1/2 where both are (those
    cells are also returned as a mask)."""
    pos, neg = np.asarray(pos, dtype=float), np.asarray(neg, dtype=float)
    degenerate = (pos <= 0.0) & (neg <= 0.0)
    den = pos + neg
    eps = np.divide(pos, den, out=np.full(np.shape(den), 0.5), where=~degenerate)
    return np.clip(eps, 0.0, 1.0), degenerate


def violation_ratio(x: object, y: object, *, order: int = 1) -> float:
    """Exact violation ratio eps_l(X, Y) of sample ``x`` over sample ``y``.

    Parameters
    ----------
    x, y : array_like
        1-D samples of scores (higher is better), of any sizes.
    order : {1, 2}
        1: first-order (quantile curves); 2: second-order (integrated quantile curves).

    Returns
    -------
    float
        eps in [0, 1]; 0 means X dominates Y exactly, 1/2 is returned (with a
        :class:`DegenerateDataWarning`) when the two empirical distributions are identical.

    Notes
    -----
    1. Sort both samples and build the union of their breakpoints r/n and s/m (exact
       integers); with equal sizes that is the grid r/n.
    2. On each interval both quantile functions are constant: d = Q_Y - Q_X, scaled by the
       power of two that brings max |d| into [1/2, 1) (exact; eps is invariant to it), so any
       finite scores work, however large or small, and a value both samples share cancels.
    3. Order 1: eps = sum h d_+^2 / sum h d^2. Order 2: D = cumsum(h d) is G_Y - G_X at the
       breakpoints; integrate the squares of the positive and negative parts of its linear
       interpolant exactly per segment (crossing formulas of METHOD.md section 3).

    References
    ----------
    Nitsure et al., "Risk Aware Benchmarking of Large Language Models", ICML 2024.
    Dror, Shlomov and Reichart, "Deep Dominance", ACL 2019.
    """
    order = check_order(order)
    xs, ys = np.sort(as_sample(x, "x")), np.sort(as_sample(y, "y"))
    if xs.size == ys.size:  # one grid of equal widths: d_r = y_(r) - x_(r)
        pos, neg = pair_parts(differences(xs, ys), order)
    else:
        ix, iy, h = union_grid(xs.size, ys.size)
        pos, neg = pair_parts(differences(xs[ix], ys[iy]), order, h)
    eps, degenerate = _ratio(pos, neg)
    if degenerate:
        warnings.warn(
            "x and y have identical empirical distributions: the violation ratio is undefined "
            "and set to 0.5",
            DegenerateDataWarning,
            stacklevel=2,
        )
    return float(eps)


def pairwise_sorted(
    q: np.ndarray, order: int, *, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS
) -> tuple[np.ndarray, np.ndarray]:
    """Violation-ratio matrices of k equal-size sorted samples, for a batch of replicates.

    Parameters
    ----------
    q : ndarray, shape (b, k, n)
        ``q[r, a]`` is model a's sample in replicate r, sorted ascending (its quantile function on
        the grid 1/n, 2/n, ..., 1).
    order : {1, 2}
    chunk_elements : int
        Upper bound on replicates * pairs * n held at once.

    Returns
    -------
    eps : ndarray, shape (b, k, k)
        ``eps[r, i, j] = eps_l(model i, model j)``; the diagonal is NaN.
    degenerate : ndarray of bool, shape (b, k, k)
        Cells whose two distributions were identical (eps set to 1/2).

    Notes
    -----
    1. Only pairs i < j are computed, model i against all later models at once (a slice, no
       gather); eps[j, i] = 1 - eps[i, j].
    2. d = q_j - q_i, each row scaled by a power of two (see :func:`pair_parts`).
    3. Order 1: den = sum d^2, num = sum max(d, 0)^2 (the width 1/n cancels).
    4. Order 2: D = cumsum(d), the pair's G_j - G_i in units of 1/n; the positive and negative
       parts of its interpolant squared, exactly per segment.
    5. Sums are dot products over one contiguous row each, so a replicate's result does not
       depend on the batch it was computed in.
    """
    b, k, n = q.shape
    out = np.full((b, k, k), np.nan)
    degenerate = np.zeros((b, k, k), dtype=bool)
    for i in range(k - 1):
        p = k - 1 - i
        step = max(1, chunk_elements // (p * n))
        for r0 in range(0, b, step):
            r1 = min(b, r0 + step)
            block = q[r0:r1]
            d = differences(block[:, i:i + 1, :], block[:, i + 1:, :])  # (b', p, n): j > i
            eps, deg = _ratio(*pair_parts(d, order))
            out[r0:r1, i, i + 1:] = eps
            out[r0:r1, i + 1:, i] = 1.0 - eps
            degenerate[r0:r1, i, i + 1:] = deg
            degenerate[r0:r1, i + 1:, i] = deg
    return out, degenerate


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise dot products over the last axis: (..., n), (..., n) -> (...)."""
    return (x[..., None, :] @ y[..., :, None])[..., 0, 0]


def pairwise_ragged(samples: Sequence[np.ndarray], order: int) -> tuple[np.ndarray, np.ndarray]:
    """Violation-ratio matrices of k sorted samples of possibly different sizes.

    Parameters
    ----------
    samples : sequence of k arrays, shapes (b, n_a)
        Model a's sorted sample in each of b replicates.

    Returns
    -------
    eps, degenerate : ndarrays, shape (b, k, k)
        As :func:`pairwise_sorted`; each pair is integrated on the union of its two grids.
    """
    k = len(samples)
    b = samples[0].shape[0]
    out = np.full((b, k, k), np.nan)
    degenerate = np.zeros((b, k, k), dtype=bool)
    for i in range(k):
        for j in range(i + 1, k):
            ix, iy, h = union_grid(samples[i].shape[1], samples[j].shape[1])
            d = differences(samples[i][:, ix], samples[j][:, iy])
            eps, deg = _ratio(*pair_parts(d, order, h))
            out[:, i, j] = eps
            out[:, j, i] = 1.0 - eps
            degenerate[:, i, j] = deg
            degenerate[:, j, i] = deg
    return out, degenerate


def one_vs_all(eps: np.ndarray) -> np.ndarray:
    """One-versus-all ratios eps_i = mean over j != i of eps[..., i, j].

    ``eps`` has shape (..., k, k) with a NaN (ignored) diagonal; returns shape (..., k).
    These average to exactly 1/2 over the k models.
    """
    k = eps.shape[-1]
    return np.nansum(eps, axis=-1) / (k - 1)


def violation_matrix(samples: object, *, order: int = 1) -> np.ndarray:
    """Matrix E[i, j] = eps_l(sample i, sample j) of k samples (rows of a 2-D array, or a list).

    Equal sizes use the vectorised kernel; unequal sizes integrate each pair on its union grid.
    Identical distributions give 1/2 and a :class:`DegenerateDataWarning`. The diagonal is NaN.
    """
    order = check_order(order)
    rows = [as_sample(r, f"sample {a}") for a, r in enumerate(samples)]  # type: ignore[arg-type]
    if len(rows) < 2:
        raise InputError(f"need at least two samples to compare; got {len(rows)}")
    sizes = {r.size for r in rows}
    if len(sizes) == 1:
        eps, deg = pairwise_sorted(np.sort(np.stack(rows), axis=-1)[None], order)
    else:
        eps, deg = pairwise_ragged([np.sort(r)[None] for r in rows], order)
    eps, deg = eps[0], deg[0]
    if deg.any():
        pairs = [(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(deg)), strict=True)]
        warnings.warn(
            f"samples {pairs[:5]} have identical empirical distributions: their violation "
            "ratio is undefined and set to 0.5",
            DegenerateDataWarning,
            stacklevel=2,
        )
    return eps
