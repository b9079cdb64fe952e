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
    """Map all samples by one increasing affine map onto [-1, 1].

    Violation ratios are invariant to a common shift and positive scaling; working on [-1, 1]
    keeps squares of differences from overflowing (huge scores) or underflowing (tiny gaps).
    """
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    center, half = lo / 2 + hi / 2, hi / 2 - lo / 2  # no overflow near the float limits
    if not half > 0:
        return [v - center for v in values]
    return [(v - center) / half for v in values]


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


def _positive_square_segments(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3/h times the exact integral of the positive part squared of a linear segment a -> b."""
    ap = np.maximum(a, 0.0)
    bp = np.maximum(b, 0.0)
    out = ap * ap + ap * bp + bp * bp  # exact unless the segment crosses zero
    cross = ((a > 0) & (b < 0)) | ((a < 0) & (b > 0))
    if cross.any():
        ac, bc = a[cross], b[cross]
        # a > 0 > b: a^3/(a-b) instead of a^2;  a < 0 < b: b^3/(b-a) instead of b^2
        out[cross] = np.where(ac > 0, ac**3 / (ac - bc), bc**3 / (bc - ac))
    return out


def _num_den_on_grid(dq: np.ndarray, h: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator of eps from ``dq = Q_Y - Q_X`` on a grid of widths ``h``.

    ``dq`` has shape (..., g); returns two arrays of shape (...).
    """
    if order == 1:
        sq = dq * dq
        return np.where(dq > 0, sq, 0.0) @ h, sq @ h
    d = np.cumsum(dq * h, axis=-1)  # G_Y - G_X at the right end of each interval
    a = np.concatenate([np.zeros(d.shape[:-1] + (1,)), d[..., :-1]], axis=-1)
    den = (a * a + a * d + d * d) @ h / 3.0
    num = _positive_square_segments(a, d) @ h / 3.0
    return num, den


def _ratio(num: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """eps = num/den, with eps = 1/2 where den == 0; also returns the mask of those cells."""
    degenerate = den <= 0.0
    eps = np.divide(num, den, out=np.full(np.shape(den), 0.5), where=~degenerate)
    # rounding can push num a hair past den
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
    1. Map both samples by one affine map onto [-1, 1] (eps is invariant to it), sort them,
       and build the union of their breakpoints r/n and s/m (exact integers).
    2. On each interval both quantile functions are constant: d = Q_Y - Q_X.
    3. Order 1: eps = sum h d_+^2 / sum h d^2. Order 2: D = cumsum(h d) is G_Y - G_X at the
       breakpoints; integrate the square of its linear interpolant exactly per segment, and its
       positive part with the crossing formulas of METHOD.md section 3.

    References
    ----------
    Nitsure et al., "Risk Aware Benchmarking of Large Language Models", ICML 2024.
    Dror, Shlomov and Reichart, "Deep Dominance", ACL 2019.
    """
    order = check_order(order)
    xs, ys = common_scale([np.sort(as_sample(x, "x")), np.sort(as_sample(y, "y"))])
    ix, iy, h = union_grid(xs.size, ys.size)
    num, den = _num_den_on_grid(ys[iy] - xs[ix], h, order)
    eps, degenerate = _ratio(num, den)
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
    2. Order 1: d = q_j - q_i; den = sum d^2, num = sum max(d, 0)^2 (the width 1/n cancels).
    3. Order 2: D = cumsum(q_j) - cumsum(q_i) (n points after D_0 = 0). With S = sum D_r^2 and
       L = sum D_r D_{r+1}, the exact integral of the square of the interpolant is
       (2 S - D_n^2 + L) h/3. The same on max(D, 0) gives the positive part exactly except on
       segments that cross zero; those few are found from the sign changes and corrected with
       a^2 b/(a - b) (a > 0 > b) or b^2 a/(b - a) (a < 0 < b).
    4. Sums of products are batched dot products (matmul), each over one contiguous row, so a
       replicate's result does not depend on the batch it was computed in.
    """
    b, k, n = q.shape
    out = np.full((b, k, k), np.nan)
    degenerate = np.zeros((b, k, k), dtype=bool)
    cum = np.cumsum(q, axis=-1) if order == 2 else q  # (b, k, n)
    for i in range(k - 1):
        p = k - 1 - i
        step = max(1, chunk_elements // (p * n))
        for r0 in range(0, b, step):
            r1 = min(b, r0 + step)
            block = cum[r0:r1]
            d = block[:, i + 1:, :] - block[:, i:i + 1, :]  # (b', p, n): H_j - H_i, j > i
            if order == 1:
                den = _dot(d, d)
                np.maximum(d, 0.0, out=d)
                num = _dot(d, d)
            else:
                den = _segment_sum(d)
                pos = d > 0
                change = pos[..., 1:] != pos[..., :-1]  # sign changes between r and r + 1
                crossing = bool(np.count_nonzero(change))
                if crossing:
                    flat = np.flatnonzero(change)
                    cell, r = np.divmod(flat, n - 1)  # cell = replicate * p + pair
                    dn = d.reshape(-1, n)
                    a, z = dn[cell, r], dn[cell, r + 1]
                    corr = np.where(a > 0, a * a * z / (a - z), z * z * a / (z - a))
                np.maximum(d, 0.0, out=d)
                num = _segment_sum(d)
                if crossing:
                    num += np.bincount(cell, weights=corr, minlength=num.size).reshape(num.shape)
            eps, deg = _ratio(num, den)
            out[r0:r1, i, i + 1:] = eps
            out[r0:r1, i + 1:, i] = 1.0 - eps
            degenerate[r0:r1, i, i + 1:] = deg
            degenerate[r0:r1, i + 1:, i] = deg
    return out, degenerate


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise dot products over the last axis: (..., n), (..., n) -> (...)."""
    return (x[..., None, :] @ y[..., :, None])[..., 0, 0]


def _segment_sum(d: np.ndarray) -> np.ndarray:
    """3n times the exact integral of the square of the interpolant of (0, d_1, ..., d_n)."""
    return 2.0 * _dot(d, d) - d[..., -1] ** 2 + _dot(d[..., :-1], d[..., 1:])


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
            num, den = _num_den_on_grid(samples[j][:, iy] - samples[i][:, ix], h, order)
            eps, deg = _ratio(num, den)
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
    rows = common_scale(rows)
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
