"""Compiled kernels (numba), run over ranges of replicates on a pool of threads.

Same algorithm as the numpy reference (:mod:`riskbench.dominance`): sorted resamples rebuilt
from counts (no sort), exact integrals, only pairs i < j (eps_ji = 1 - eps_ij), and every
statistic from the differences of a pair. The fast path sums the raw differences in one
branch-free pass per pair that the compiler vectorises; a pair is redone by the exact scalar
path (:func:`_pair_exact`, the reference's per-pair scaling) whenever the fast path could have
lost accuracy: a sum that overflowed or may have lost terms to underflow, or, at order 2, a
cancellation in the cumulative sums (see :func:`_replicate`). On ordinary scores that never
happens, and both paths agree to rounding.

``error_model="numpy"``: a float division by zero gives inf instead of raising, so the
crossing correction has no branch and the loop vectorises (a ZeroDivisionError check per
element made it 10 times slower). The fast loops use ``fastmath`` without the no-NaN / no-inf
assumptions, so the overflow checks stay.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numba as nb
import numpy as np
from llvmlite import ir
from numba import prange
from numba.core import config as _numba_config
from numba.extending import intrinsic


def cache_dir() -> Path:
    """Where the compiled kernels are cached: ``$NUMBA_CACHE_DIR`` when the user set it,
    else ``$XDG_CACHE_HOME/riskbench/numba`` (default ``~/.cache/riskbench/numba``).

    A user cache directory, not ``__pycache__`` next to the source: site-packages is often
    read-only (system or container installs), and numba's own fallback would recompile the
    kernels in every new process there (15 s of CPU before the first output).
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "riskbench" / "numba"


# numba picks a function's cache location when the function is decorated: point it at
# cache_dir() for this module's kernels only, and restore the setting for everyone else
# (restored at the end of the module).
_SAVED_CACHE_DIR = _numba_config.CACHE_DIR
_numba_config.CACHE_DIR = str(cache_dir())

#: fastmath flags of the fast loops: reassociation (vector sums) but inf/NaN kept meaningful.
_FAST = {"nsz", "arcp", "contract", "reassoc"}
#: A sum of squares below this may have lost terms to underflow (relative loss < n 2^-122).
_TINY = 2.0 ** -900
#: Order 2: redo a pair exactly when the centred cumulative sums it subtracts are this many
#: times larger than the pair's own D (their rounding, ~sqrt(n) 1e-16 of them, would show
#: in eps above ~1e-12).
_CANCEL = 2.0 ** 8
_CANCEL2 = _CANCEL * _CANCEL  # compared with squares: no square root per pair


@nb.njit(cache=True, fastmath=_FAST, error_model="numpy")
def _pair_first(q, i, j, n):
    """Positive and negative parts of sum (q_j - q_i)^2 over the first n ranks of rows i, j of
    q, and the number of nonzero d. The 2-D array and row numbers are passed, not row views:
    a view per pair costs two atomic reference counts (as much as the loop at n = 50), and a
    sliced row would lose its contiguous layout and the loop its vectorisation."""
    pos = 0.0
    neg = 0.0
    nonzero = 0
    for r in range(n):
        d = q[j, r] - q[i, r]
        dp = max(d, 0.0)
        dn = min(d, 0.0)
        pos += dp * dp
        neg += dn * dn
        nonzero += d != 0.0
    return pos, neg, nonzero


@nb.njit(cache=True, fastmath=_FAST, error_model="numpy")
def _pair_second(g, i, j, n):
    """Order 2 in one branch-free pass over n ranks: 3n times the positive and negative parts.

    Rows i, j of ``g`` are centred cumulative sums ``cumsum(q - z)`` of the two sorted
    resamples (z: the same reference for every model of the replicate), so ``D = g_j - g_i`` is
    G_j - G_i at r/n (times n) with D_0 = 0, and a value the two share at a rank cancels
    exactly. With P = max(D, 0), summing the segment formula P_{r-1}^2 + P_{r-1} P_r + P_r^2
    gives 2 S - P_n^2 + L, S = sum P_r^2 and L = sum P_{r-1} P_r; exact except on segments
    a -> b that cross zero, which add (max(a, 0) - max(b, 0)) s with s = a b / (a - b)
    (a^3/(a - b) or b^3/(b - a) in all); the negative part likewise with min. The division
    has no branch (``error_model="numpy"``; where it is not needed its result is dropped), so
    the loop vectorises. A separate loop from :func:`_pair_first`, so each order's numbers do
    not depend on the other being asked for.
    """
    b = g[j, 0] - g[i, 0]
    pb = max(b, 0.0)
    nb_ = min(b, 0.0)
    sp = pb * pb
    sn = nb_ * nb_
    lp = 0.0
    ln = 0.0
    cp = 0.0
    cn = 0.0
    prev = b
    for r in range(1, n):
        a = prev
        b = g[j, r] - g[i, r]
        pa = max(a, 0.0)
        na = min(a, 0.0)
        pb = max(b, 0.0)
        nb_ = min(b, 0.0)
        sp += pb * pb
        sn += nb_ * nb_
        lp += pa * pb
        ln += na * nb_
        t = min(a * b, 0.0)
        s = t / (a - b)  # used only where the segment crosses zero (then a != b)
        s = s if t < 0.0 else 0.0
        cp += (pa - pb) * s
        cn += (na - nb_) * s
        prev = b
    last = g[j, n - 1] - g[i, n - 1]
    pl = max(last, 0.0)
    ml = min(last, 0.0)
    return 2.0 * sp - pl * pl + lp + cp, 2.0 * sn - ml * ml + ln + cn


@nb.njit(cache=True)
def _ratio(pos, neg):
    """pos / (pos + neg); exactly 0 or 1 for one-signed differences, 1/2 for none."""
    if neg <= 0.0 < pos:
        return 1.0
    if pos <= 0.0 < neg:
        return 0.0
    if pos > 0.0:
        return min(max(pos / (pos + neg), 0.0), 1.0)
    return 0.5


@nb.njit(cache=True)
def _pow2(peak):
    """Two powers of two whose product brings ``peak`` (> 0) into [1/2, 1)."""
    e = math.frexp(peak)[1]
    half = (-e) // 2
    return math.ldexp(1.0, half), math.ldexp(1.0, -e - half)


@nb.njit(cache=True)
def _pair_exact(qi, qj, first, second, n):
    """(eps1, eps2) of one pair by the reference's exact path (:mod:`riskbench.dominance`).

    d = q_j - q_i (halved where it overflows), scaled by the power of two that brings max |d|
    into [1/2, 1), D = cumsum(d) summed per pair, the segment formulas with plain branches.
    Uses the first n values of each row.
    """
    d = np.empty(n)
    halve = False
    for r in range(n):
        d[r] = qj[r] - qi[r]
        if not math.isfinite(d[r]):
            halve = True
    if halve:
        for r in range(n):
            d[r] = qj[r] * 0.5 - qi[r] * 0.5
    peak = 0.0
    for r in range(n):
        peak = max(peak, abs(d[r]))
    if peak == 0.0:
        return 0.5, 0.5
    f1, f2 = _pow2(peak)
    for r in range(n):
        d[r] = d[r] * f1 * f2
    e1 = np.nan
    e2 = np.nan
    if first:
        pos = 0.0
        neg = 0.0
        for r in range(n):
            if d[r] > 0.0:
                pos += d[r] * d[r]
            else:
                neg += d[r] * d[r]
        e1 = _ratio(pos, neg)
    if second:
        pos = 0.0
        neg = 0.0
        a = 0.0
        for r in range(n):
            b = a + d[r]
            if a >= 0.0 and b >= 0.0:
                pos += a * a + a * b + b * b
            elif a <= 0.0 and b <= 0.0:
                neg += a * a + a * b + b * b
            elif a > 0.0:  # a > 0 > b
                pos += a * a * a / (a - b)
                neg -= b * b * b / (a - b)
            else:  # a < 0 < b
                pos += b * b * b / (b - a)
                neg -= a * a * a / (b - a)
            a = b
        e2 = _ratio(pos, neg)
    return e1, e2


@nb.njit(cache=True)
def _starts(perm, counts, size, mark):
    """mark[r]: how many sorted positions of the model start at rank r (size + 1 slots: zero
    counts at the end start at ``size``).

    Sorted position s of the model holds item perm[s], drawn counts[perm[s]] times, so its
    value fills ranks start_s .. start_s + count - 1; the running count of mark minus one is
    then the sorted position of every rank (no sort, no branch). The loads of the counts do
    not depend on the running start, so they overlap.
    """
    for r in range(size + 1):
        mark[r] = 0
    start = 0
    for s in range(perm.size):
        mark[start] += 1
        start += counts[perm[s]]


@nb.njit(cache=True)
def _expand(xs, perm, counts, out, size, mark):
    """Sorted resample of one model into out[:size] (see :func:`_starts`)."""
    _starts(perm, counts, size, mark)
    run = -1
    for r in range(size):
        run += mark[r]
        out[r] = xs[run]


@nb.njit(cache=True)
def _expand_centred(xs, perm, counts, q, g, z, size, mark):
    """Sorted resample of one model into q[:size], its centred cumulative sums
    g = cumsum(q - z) in the same pass, and its spread sum |q - z| (returned)."""
    _starts(perm, counts, size, mark)
    run = -1
    acc = 0.0
    mass = 0.0
    for r in range(size):
        run += mark[r]
        v = xs[run]
        q[r] = v
        step = v - z[r]
        acc += step
        mass += abs(step)
        g[r] = acc
    return mass


@nb.njit(cache=True)
def _expand_centred_two(xs_a, perm_a, counts_a, q_a, g_a, xs_b, perm_b, counts_b, q_b, g_b,
                        z, size, mark_a, mark_b):
    """:func:`_expand_centred` of two models in one loop: each value and sum is computed
    exactly as there (same operations, same order), but the two running sums, each a chain
    of dependent adds, overlap. Returns both spreads."""
    _starts(perm_a, counts_a, size, mark_a)
    _starts(perm_b, counts_b, size, mark_b)
    run_a = -1
    run_b = -1
    acc_a = 0.0
    acc_b = 0.0
    mass_a = 0.0
    mass_b = 0.0
    for r in range(size):
        run_a += mark_a[r]
        run_b += mark_b[r]
        v_a = xs_a[run_a]
        v_b = xs_b[run_b]
        q_a[r] = v_a
        q_b[r] = v_b
        step_a = v_a - z[r]
        step_b = v_b - z[r]
        acc_a += step_a
        acc_b += step_b
        mass_a += abs(step_a)
        mass_b += abs(step_b)
        g_a[r] = acc_a
        g_b[r] = acc_b
    return mass_a, mass_b


@nb.njit(cache=True, nogil=True)
def _kernel(xs, perm, counts, first, second, centre, rows, lo, hi, out):
    """Replicates lo..hi-1 into out (orders, b, k, k); xs, perm: (k, n); counts: (1, b, n)
    shared by all models, or (k, b, n).

    Every model of a replicate must have the same number of draws (its sorted resample's
    length). Order 1 goes to out[0] (if ``first``), then order 2 (if ``second``); both orders
    share the expansion of each replicate. ``centre``: the model whose sorted resample is the
    reference z of the centred cumulative sums. ``rows = (i_lo, i_hi)``: only the pairs
    i < j with i in that range, into out[., ., i - i_lo, j] (no mirror), when out has
    i_hi - i_lo rows; with all k rows, every pair and its mirror. Work arrays are allocated
    once per call, not per replicate (fresh megabytes per replicate cost page faults).
    Releases the GIL: the caller runs ranges of replicates on threads (:func:`_parallel`).
    """
    k, n = xs.shape
    largest = 0  # replicate sizes differ with clusters of unequal sizes
    for rep in range(lo, hi):
        size = 0
        for t in range(n):
            size += counts[0, rep, t]
        largest = max(largest, size)
    q = np.empty((k, largest))
    g = np.empty((k, largest))
    spread = np.empty(k)
    mark = np.empty((2, largest + 1), np.int64)
    for rep in range(lo, hi):
        size = 0
        for t in range(n):
            size += counts[0, rep, t]
        _replicate(xs, perm, counts, first, second, centre, rep, q, g, size, spread,
                   mark, rows[0], rows[1], out)


@nb.njit(cache=True)
def _replicate(xs, perm, counts, first, second, centre, rep, q, g, m, spread, mark,
               i_lo, i_hi, out):
    """One replicate: expand every model's sorted resample, then all pairs i < j.

    Order 2 takes D = g_j - g_i from centred cumulative sums g_a = cumsum(q_a - z), z the
    centre model's resample (O(k n), not a cumulative sum per pair, which would be a serial
    recurrence O(k^2 n)). Their rounding is relative to spread_a = sum |q_a - z|, that of D's
    own values to its root mean square sqrt(den / 3n); a pair is redone exactly when
    spread_i + spread_j > _CANCEL sqrt(den / n): two models far from the centre but close to
    each other, huge values next to tiny differences, or D = 0 everywhere.
    """
    k = xs.shape[0]  # m: this replicate's sample size (rows of q and g hold >= m values)
    shared = counts.shape[0] == 1
    o2 = 1 if first else 0  # slot of order 2 in out
    if not second:
        for a in range(k):
            _expand(xs[a], perm[a], counts[0 if shared else a, rep], q[a], m, mark[0])
    else:
        # the centre first (its g is 0), then the others two at a time, each expanded and
        # summed in one pass (the sums' adds are a serial chain: two chains overlap)
        c = centre
        _expand(xs[c], perm[c], counts[0 if shared else c, rep], q[c], m, mark[0])
        for r in range(m):
            g[c, r] = 0.0
        spread[c] = 0.0
        z = q[c]
        a = 0
        while a < k:
            if a == c:
                a += 1
                continue
            b = a + 1 if a + 1 != c else a + 2
            if b >= k:
                spread[a] = _expand_centred(xs[a], perm[a], counts[0 if shared else a, rep],
                                            q[a], g[a], z, m, mark[0])
                break
            spread[a], spread[b] = _expand_centred_two(
                xs[a], perm[a], counts[0 if shared else a, rep], q[a], g[a],
                xs[b], perm[b], counts[0 if shared else b, rep], q[b], g[b],
                z, m, mark[0], mark[1])
            a = b + 1
    mirror = out.shape[2] == k  # else a block of rows i_lo..i_hi-1, upper part only
    off = 0 if mirror else i_lo
    for i in range(i_lo, i_hi):
        for u in range(out.shape[0]):
            out[u, rep, i - off, i] = np.nan
    # pairs in tiles of _TILE x _TILE models, so that the mirrored writes out[j, i] and the
    # rows of q and g stay in cache when k is large
    for i0 in range(i_lo, i_hi, _TILE):
        for j0 in range(i0, k, _TILE):
            for i in range(i0, min(i0 + _TILE, i_hi)):
                for j in range(max(i + 1, j0), min(j0 + _TILE, k)):
                    _pair(q, g, spread, first, second, o2, m, rep, i, j, off, mirror, out)


@nb.njit(cache=True, inline="always")
def _pair(q, g, spread, first, second, o2, m, rep, i, j, off, mirror, out):
    """eps of the pair (i, j) in one replicate, both orders, into out[., rep, i - off, j]
    and (``mirror``) out[., rep, j, i] = 1 - eps."""
    e1 = np.nan
    e2 = np.nan
    if first:
        pos, neg, nonzero = _pair_first(q, i, j, m)
        if nonzero > 0 and not (_TINY <= pos + neg < np.inf):
            e1 = _pair_exact(q[i], q[j], True, False, m)[0]
        else:
            e1 = _ratio(pos, neg)
    if second:
        pos, neg = _pair_second(g, i, j, m)
        den = pos + neg
        reach = spread[i] + spread[j]
        if not (_TINY <= den < np.inf) or reach * reach > _CANCEL2 * (den / m):
            e2 = _pair_exact(q[i], q[j], False, True, m)[1]  # also: identical, 1/2
        else:
            e2 = _ratio(pos, neg)
    if first:
        out[0, rep, i - off, j] = e1
        if mirror:
            out[0, rep, j, i] = 1.0 - e1
    if second:
        out[o2, rep, i - off, j] = e2
        if mirror:
            out[o2, rep, j, i] = 1.0 - e2


#: Models per side of a tile of pairs.
_TILE = 32


def _centre(xs: np.ndarray) -> int:
    """The model with the median median (rows of xs are sorted): the reference z of the
    centred cumulative sums, a model close to the others at most ranks."""
    medians = xs[:, xs.shape[1] // 2]
    return int(np.argsort(medians, kind="stable")[(len(medians) - 1) // 2])


def _stacked(rows: tuple[np.ndarray, ...], dtype: type) -> np.ndarray:
    """The rows as one contiguous (k, n) array: without a copy when they are the rows of one
    already (the bootstrap makes them so; 80 MB each at 20 x 500,000)."""
    base = rows[0].base
    if base is not None and base.ndim == 2 and base.shape[0] == len(rows) \
            and base.dtype == dtype and base.flags.c_contiguous \
            and all(r.base is base and r.shape == base.shape[1:]
                    and r.ctypes.data == base.ctypes.data + a * base.strides[0]
                    for a, r in enumerate(rows)):
        return base
    return np.ascontiguousarray(np.stack(rows), dtype=dtype)


def _prepare(job) -> tuple:
    """What every batch of a job needs, computed once: the stacked sorted values and
    argsorts, and for heavily tied scores the level of each value (else None)."""
    xs = _stacked(job.values, np.float64)
    perm = _stacked(job.order_idx, np.int64)
    many = max(16, LEVEL_SHARE * xs.shape[1])
    # the rows are sorted: one row with that many distinct values settles it without
    # np.unique of all k n values (a sorted copy and its mask: 170 MB at 10^7 values)
    if max(1 + int(np.count_nonzero(row[1:] != row[:-1])) for row in xs) > many:
        return xs, perm, None, None, _centre(xs)
    levels = np.unique(xs)
    if levels.size > many:
        return xs, perm, None, None, _centre(xs)
    level = np.empty(xs.shape, dtype=np.int64)
    for a in range(xs.shape[0]):
        level[a, perm[a]] = np.searchsorted(levels, xs[a])
    return xs, perm, levels, level, 0


def _slots(counts: list[np.ndarray]) -> np.ndarray:
    """The draw counts as one (slots, b, n) int64 array, without a copy when they are the
    slices of one (the compiled draws)."""
    base = counts[0].base
    if base is not None and base.ndim == 3 and base.shape[0] == len(counts) \
            and base.shape[1:] == counts[0].shape and base.dtype == np.int64 \
            and base.flags.c_contiguous and all(c.base is base for c in counts):
        return base
    return np.ascontiguousarray(np.stack(counts), dtype=np.int64)


def replicate_matrices(job, counts: list[np.ndarray],
                       rows: tuple[int, int] | None = None) -> np.ndarray:
    """(orders, b, k, k) ratios of the replicates whose draw counts are given; with
    ``rows = (i_lo, i_hi)`` only the pairs i < j with i in that range, as (orders, b,
    i_hi - i_lo, k) with NaN where j < i (the pairs axis of the Dask backend)."""
    xs, perm, levels, level, centre = job.prepared("numba", lambda: _prepare(job))
    drawn = _slots(counts)  # (1 or k, b, n)
    first, second = 1 in job.orders, 2 in job.orders
    b, k = drawn.shape[1], xs.shape[0]
    i_lo, i_hi = (0, k) if rows is None else rows
    height = k if rows is None else i_hi - i_lo
    shape = (int(first) + int(second), b, height, k)  # order 1 first when both
    out = np.empty(shape) if rows is None else np.full(shape, np.nan)
    work = b * height * k * xs.shape[1] * (1 + second)
    if levels is not None:  # heavily tied scores
        _parallel(_kernel_levels, b, work, level, levels, drawn, first, second,
                  np.array([i_lo, i_hi]), out=out)
    else:
        _parallel(_kernel, b, work, xs, perm, drawn, first, second, centre,
                  np.array([i_lo, i_hi]), out=out)
    slot = {1: 0, 2: int(first)}
    if tuple(job.orders) == tuple(sorted(job.orders)):
        return out
    return out[[slot[order] for order in job.orders]]


#: Below this many element operations a call runs on one thread (waking others costs more).
_THREAD_WORK = 1 << 22


def threads() -> int:
    """Threads for the compiled kernels: numba's setting (``NUMBA_NUM_THREADS``,
    ``numba.set_num_threads``), by default the usable cores."""
    return nb.get_num_threads()


_POOL: list = []  # one ThreadPoolExecutor, made on first use


def _parallel(func, total: int, work: float, *args, out) -> None:
    """Run ``func(*args, lo, hi, out)`` over ranges of 0..total-1 on threads.

    The kernels release the GIL and write disjoint slices of ``out``; each element is
    computed the same way whatever the split, so results do not depend on the threads. One
    thread below ``_THREAD_WORK`` element operations.
    """
    n_threads = min(threads(), total) if work >= _THREAD_WORK else 1
    if n_threads <= 1:
        func(*args, 0, total, out)
        return
    if not _POOL or _POOL[0]._max_workers < n_threads:
        from concurrent.futures import ThreadPoolExecutor

        _POOL[:] = [ThreadPoolExecutor(max_workers=n_threads,
                                       thread_name_prefix="riskbench")]
    chunks = min(total, 4 * n_threads)  # a few chunks per thread: uneven pairs balance
    bounds = [total * c // chunks for c in range(chunks + 1)]
    futures = [_POOL[0].submit(func, *args, lo, hi, out)
               for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]
    for future in futures:
        future.result()


# ----------------------------------------------------------------------------- tied scores

@nb.njit(cache=True)
def _pair_levels(ci, cj, levels, second):
    """Positive and negative parts for two resamples given as cumulative counts over levels.

    When the scores take few distinct values, a sorted resample is a histogram over those
    values; its quantile function steps where the cumulative counts ``ci`` / ``cj`` end. Merge
    the two sets of steps: on each merged segment of width w (in items) the quantile
    difference d is constant and G_j - G_i moves linearly from a to a + w d, so the exact
    integrals are those of the equal-size kernels with width w per segment. O(levels) per
    pair instead of O(n).
    """
    n = ci[ci.size - 1]
    li = 0
    lj = 0
    cur = 0
    pos = 0.0
    neg = 0.0
    a = 0.0
    nonzero = 0  # segments where the two quantile functions differ (distinct levels)
    while cur < n:
        while ci[li] <= cur:
            li += 1
        while cj[lj] <= cur:
            lj += 1
        nxt = min(ci[li], cj[lj])
        w = float(nxt - cur)
        d = levels[lj] - levels[li]
        nonzero += li != lj
        if not second:
            dp = max(d, 0.0)
            dn = min(d, 0.0)
            pos += w * dp * dp
            neg += w * dn * dn
        else:
            b = a + w * d
            pa = max(a, 0.0)
            pb = max(b, 0.0)
            na = min(a, 0.0)
            nb_ = min(b, 0.0)
            pos += w * (pa * pa + pa * pb + pb * pb)
            neg += w * (na * na + na * nb_ + nb_ * nb_)
            t = a * b
            if t < 0.0:
                s = t / (a - b)
                pos += w * (pa - pb) * s
                neg += w * (na - nb_) * s
            a = b
        cur = nxt
    return pos, neg, nonzero


@nb.njit(cache=True)
def _from_levels(c, levels, out):
    """The sorted resample of cumulative counts ``c`` over ``levels``, into ``out``."""
    start = 0
    for v in range(levels.size):
        for r in range(start, c[v]):
            out[r] = levels[v]
        start = c[v]


@nb.njit(cache=True)
def _levels_eps(ci, cj, levels, second):
    """eps of one pair from cumulative counts; the exact path where the sums are unsafe."""
    pos, neg, nonzero = _pair_levels(ci, cj, levels, second)
    if nonzero == 0 or _TINY <= pos + neg < np.inf:
        return _ratio(pos, neg)
    n = ci[ci.size - 1]
    qi = np.empty(n)
    qj = np.empty(n)
    _from_levels(ci, levels, qi)
    _from_levels(cj, levels, qj)
    e1, e2 = _pair_exact(qi, qj, not second, second, n)
    return e2 if second else e1


@nb.njit(cache=True)
def _cumulative_counts(level, drawn, part, out):
    """out[v] = draws of the values at levels <= v. With few levels most consecutive items
    add to the same count, a chain of dependent read-modify-writes (about 5 cycles each):
    four partial histograms, items taken in turn, break it (integers: the same counts).
    2 levels: 1.07 -> 0.52 ns per item."""
    n_levels = out.size
    n = level.size
    if 4 * n_levels > n:  # many levels: rarely the same one twice in a row
        out[:] = 0
        for t in range(n):
            out[level[t]] += drawn[t]
        for v in range(1, n_levels):
            out[v] += out[v - 1]
        return
    part[:] = 0
    n4 = n - n % 4
    for t in range(0, n4, 4):
        part[0, level[t]] += drawn[t]
        part[1, level[t + 1]] += drawn[t + 1]
        part[2, level[t + 2]] += drawn[t + 2]
        part[3, level[t + 3]] += drawn[t + 3]
    for t in range(n4, n):
        part[0, level[t]] += drawn[t]
    acc = 0
    for v in range(n_levels):
        acc += part[0, v] + part[1, v] + part[2, v] + part[3, v]
        out[v] = acc


@nb.njit(cache=True, nogil=True)
def _kernel_levels(level, levels, counts, first, second, rows, lo, hi, out):
    """Replicates lo..hi-1 into out, as :func:`_kernel`. level: (k, n) level index of each
    value; levels: (V,) sorted distinct values; counts: (1, b, n) shared or (k, b, n), equal
    totals for all models of a replicate."""
    k, n = level.shape
    n_levels = levels.size
    shared = counts.shape[0] == 1
    o2 = 1 if first else 0
    mirror = out.shape[2] == k  # else a block of rows, upper part only (see _kernel)
    off = 0 if mirror else rows[0]
    cum = np.empty((k, n_levels), np.int64)
    part = np.empty((4, n_levels), np.int64)
    for rep in range(lo, hi):
        for a in range(k):
            _cumulative_counts(level[a], counts[0 if shared else a, rep], part, cum[a])
        for i in range(rows[0], rows[1]):
            for u in range(out.shape[0]):
                out[u, rep, i - off, i] = np.nan
            for j in range(i + 1, k):
                if first:
                    e = _levels_eps(cum[i], cum[j], levels, False)
                    out[0, rep, i - off, j] = e
                    if mirror:
                        out[0, rep, j, i] = 1.0 - e
                if second:
                    e = _levels_eps(cum[i], cum[j], levels, True)
                    out[o2, rep, i - off, j] = e
                    if mirror:
                        out[o2, rep, j, i] = 1.0 - e


#: Use the level kernel when the pooled scores have at most this share of distinct values.
LEVEL_SHARE = 0.125


# ----------------------------------------------------------------------------- EC portfolio

@nb.njit(cache=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@nb.njit(cache=True, parallel=True)
def _dominance_counts(ranks, orders, position, row_of, bound, base):
    """Compiled twin of ``riskbench.portfolio.dominance_counts`` (same counts; points already
    in metric 0's order, so metric 0 is an exact bit prefix).

    Checkpoints per metric u >= 1 as chosen by :func:`dominance_counts`: row c holds the
    first ``bound[base[u - 1] + c]`` points of u's order, and a point of rank r in u uses
    row ``row_of[u - 1, r]``; the points between that row's bound and r are its candidates
    (none when the rows sit at u's distinct ranks, as for a metric with few levels).
    """
    m, n_metrics = ranks.shape
    words = (m + 63) // 64
    checkpoints = np.zeros((max(bound.size, 1), words), np.uint64)
    for u in prange(1, n_metrics):
        row = np.zeros(words, np.uint64)
        lo = base[u - 1]
        for c in range(1, base[u] - lo):
            for pos in range(bound[lo + c - 1], bound[lo + c]):
                q = orders[pos, u]
                row[q >> 6] |= np.uint64(1) << np.uint64(q & 63)
            checkpoints[lo + c, :] = row
    counts = np.empty(m, np.int64)
    for p in prange(m):
        r0 = ranks[p, 0]
        used = (r0 + 63) // 64
        acc = np.empty(max(used, 1), np.uint64)
        start = np.empty(n_metrics, np.int64)  # each metric's row bound for p
        for u in range(1, n_metrics):
            start[u] = bound[base[u - 1] + row_of[u - 1, ranks[p, u]]]
        if n_metrics > 1:
            acc[:used] = checkpoints[base[0] + row_of[0, ranks[p, 1]], :used]
        else:
            acc[:used] = np.uint64(0xFFFFFFFFFFFFFFFF)
        for u in range(2, n_metrics):
            row = checkpoints[base[u - 1] + row_of[u - 1, ranks[p, u]]]
            for w in range(used):
                acc[w] &= row[w]
        tail = r0 % 64
        if tail:  # metric 0: exactly the first r0 points
            acc[used - 1] &= (np.uint64(1) << np.uint64(tail)) - np.uint64(1)
        total = 0
        for w in range(used):
            total += _popcount(acc[w])
        for u in range(1, n_metrics):  # points in u's partial row, counted once
            for pos in range(start[u], ranks[p, u]):
                q = orders[pos, u]
                ok = True
                for v in range(n_metrics):
                    if ranks[q, v] > ranks[p, v]:
                        ok = False
                        break
                if ok:
                    for v in range(1, u):
                        if position[q, v] >= start[v]:
                            ok = False
                            break
                if ok:
                    total += 1
        counts[p] = total
    return counts


def _checkpoint_rows(ranks: np.ndarray, bucket: int) -> tuple[np.ndarray, ...]:
    """Rows of each metric u >= 1's checkpoints: at its distinct ranks when they are no more
    than the buckets (exact: no candidates to check, and few rows for few levels: W1's EC
    portfolio 98 -> 42 MB of bitsets), else every ``bucket`` positions. Returns row_of
    (N - 1, m + 1), the bounds of all rows flattened, and each metric's first row (N,)."""
    m, n_metrics = ranks.shape
    n_check = m // bucket + 1
    row_of = np.zeros((max(n_metrics - 1, 1), m + 1), np.int64)
    bounds = []
    base = [0]
    for u in range(1, n_metrics):
        distinct = np.flatnonzero(np.bincount(ranks[:, u], minlength=m + 1))  # ranks <= m
        if distinct.size + 1 <= n_check:
            rows = np.concatenate([[0], distinct])
            row_of[u - 1, distinct] = np.arange(1, distinct.size + 1)
        else:
            rows = np.arange(n_check, dtype=np.int64) * bucket
            row_of[u - 1] = np.arange(m + 1) // bucket
        bounds.append(rows)
        base.append(base[-1] + rows.size)
    bound = np.concatenate(bounds).astype(np.int64) if bounds else np.zeros(1, np.int64)
    return row_of, bound, np.array(base + [base[-1]] * (n_metrics - len(base)), np.int64)


@nb.njit(cache=True)
def _rank_orders(ranks):
    """Stable argsort of every column of max-ranks (:func:`max_ranks`) without a sort: the
    points of rank r fill the sorted positions just below r, so each is placed by one
    countdown per rank, the last point first (W1's EC portfolio: 8 columns of 60,000, 25 ms
    by sorting)."""
    m, n_metrics = ranks.shape
    orders = np.empty((m, n_metrics), np.int64)
    slot = np.empty(m + 1, np.int64)
    for u in range(n_metrics):
        for r in range(m + 1):
            slot[r] = r
        for p in range(m - 1, -1, -1):
            r = ranks[p, u]
            slot[r] -= 1
            orders[slot[r], u] = p
    return orders


@nb.njit(cache=True)
def _count_max_ranks(ranks):
    """Each column's max-ranks (#points <= it) of integers in 0..m, by counting: O(m) per
    column, and the identity on max-ranks already."""
    m, n_metrics = ranks.shape
    out = np.empty((m, n_metrics), np.int64)
    below = np.empty(m + 1, np.int64)
    for u in range(n_metrics):
        below[:] = 0
        for p in range(m):
            below[ranks[p, u]] += 1
        for r in range(1, m + 1):
            below[r] += below[r - 1]
        for p in range(m):
            out[p, u] = below[ranks[p, u]]
    return out


def max_ranks(values: np.ndarray) -> np.ndarray:
    """Each column's max-ranks, #{q : values[q, u] <= values[p, u]}: the same componentwise
    order as ``values``, so the same dominance counts, in the form the kernel needs. Integers
    in 0..m (ranks already, W1's case) by counting, anything else by
    :func:`riskbench.portfolio.pooled_ecdf`."""
    values = np.ascontiguousarray(values)
    m = values.shape[0]
    if m and values.dtype.kind in "iu" and values.min() >= 0 and values.max() <= m:
        return _count_max_ranks(values.astype(np.int64, copy=False))
    from riskbench.portfolio import pooled_ecdf

    return pooled_ecdf(values)


def dominance_counts(ranks: np.ndarray, bucket: int) -> np.ndarray:
    m, n_metrics = ranks.shape
    ranks = max_ranks(ranks)  # in 1..m: the stable orders without a sort
    first_order = _rank_orders(np.ascontiguousarray(ranks[:, :1]))[:, 0]
    r = np.ascontiguousarray(ranks[first_order])
    orders = _rank_orders(r)
    position = np.empty_like(orders)
    position[orders, np.arange(n_metrics)] = np.arange(m)[:, None]
    counts = _dominance_counts(r, orders, position, *_checkpoint_rows(r, bucket))
    out = np.empty(m, dtype=np.int64)
    out[first_order] = counts
    return out


# ----------------------------------------------------------------------------- equality gate

@nb.njit(cache=True, nogil=True, fastmath=_FAST)
def _gate_block(c0, c1, c2, c3, f0, f1, f2, f3):
    """The 16 dot products of 4 count rows with 4 feature rows, in one pass over the items.

    Each product is its own accumulator, and all 16 are vectorised alike (the same lanes,
    the same order), so a product's value depends only on its two rows, not on the rows it
    came with: a replicate's numbers do not depend on its batch. Each count and feature is
    loaded once for 4 products instead of once per product (the plain dot products were
    bound by those loads: 3.4 times slower).
    """
    a00 = a01 = a02 = a03 = 0.0
    a10 = a11 = a12 = a13 = 0.0
    a20 = a21 = a22 = a23 = 0.0
    a30 = a31 = a32 = a33 = 0.0
    for t in range(c0.size):
        x0 = float(c0[t])
        x1 = float(c1[t])
        x2 = float(c2[t])
        x3 = float(c3[t])
        y0 = f0[t]
        y1 = f1[t]
        y2 = f2[t]
        y3 = f3[t]
        a00 += x0 * y0
        a01 += x0 * y1
        a02 += x0 * y2
        a03 += x0 * y3
        a10 += x1 * y0
        a11 += x1 * y1
        a12 += x1 * y2
        a13 += x1 * y3
        a20 += x2 * y0
        a21 += x2 * y1
        a22 += x2 * y2
        a23 += x2 * y3
        a30 += x3 * y0
        a31 += x3 * y1
        a32 += x3 * y2
        a33 += x3 * y3
    return (a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33)


@nb.njit(cache=True, nogil=True)
def _gate_means(counts, features, lo, hi, out):
    """Replicates lo..hi-1 in blocks of 4 (x 4 features): every product goes through
    :func:`_gate_block`, a block's missing rows being zeros (their products dropped)."""
    w, n = features.shape
    no_counts = np.zeros(n, counts.dtype)
    no_feature = np.zeros(n)
    totals = np.zeros(4)
    for r0 in range(lo, hi, 4):
        c0 = counts[r0]
        c1 = counts[r0 + 1] if r0 + 1 < hi else no_counts
        c2 = counts[r0 + 2] if r0 + 2 < hi else no_counts
        c3 = counts[r0 + 3] if r0 + 3 < hi else no_counts
        totals[:] = 0.0
        for t in range(n):  # integers: exact in any order
            totals[0] += c0[t]
            totals[1] += c1[t]
            totals[2] += c2[t]
            totals[3] += c3[t]
        for f0 in range(0, w, 4):
            block = _gate_block(c0, c1, c2, c3, features[f0],
                                features[f0 + 1] if f0 + 1 < w else no_feature,
                                features[f0 + 2] if f0 + 2 < w else no_feature,
                                features[f0 + 3] if f0 + 3 < w else no_feature)
            for i in range(min(4, hi - r0)):
                for u in range(min(4, w - f0)):
                    out[r0 + i, f0 + u] = block[4 * i + u] / totals[i]


def gate_means(counts: np.ndarray, features: np.ndarray, out: np.ndarray) -> None:
    """out[r] = counts[r] @ features.T / counts[r].sum() for every replicate r.

    counts: (b, n) draws; features: (w, n) per-item scores (all models' features as rows);
    out: (b, w). Each element is one dot product over the items, summed the same way
    whatever the batch or the rows it is computed with (:func:`_gate_block`), so a
    replicate's numbers do not depend on the batch it comes in; ranges of replicates run on
    threads.
    """
    _parallel(_gate_means, counts.shape[0], counts.size * features.shape[0], counts,
              features, out=out)


@nb.njit(cache=True, nogil=True)
def _gate_covariances(dev, iu, ju, lo, hi, out):
    n_feat, b = dev.shape[1], dev.shape[2]
    diff = np.empty((n_feat, b))
    for p in range(lo, hi):
        i = iu[p]
        j = ju[p]
        for f in range(n_feat):
            for r in range(b):
                diff[f, r] = dev[i, f, r] - dev[j, f, r]
        for f in range(n_feat):
            for g in range(f, n_feat):
                acc = 0.0
                for r in range(b):
                    acc += diff[f, r] * diff[g, r]
                out[p, f, g] = acc / (b - 1)
                out[p, g, f] = out[p, f, g]


def gate_covariances(dev: np.ndarray, iu: np.ndarray, ju: np.ndarray) -> np.ndarray:
    """(m, F, F) covariances over replicates of dev[i] - dev[j] for the pairs (iu, ju).

    dev: (k, F, B) centred replicates, one contiguous row of B per model and feature. Each
    entry sums the replicates in order, the same formula as the numpy path
    (``einsum('bmf,bmg->mfg')`` of the differences) without the (B, m, F) difference array.
    """
    out = np.empty((iu.size, dev.shape[1], dev.shape[1]))
    _parallel(_gate_covariances, iu.size, iu.size * dev.shape[1] ** 2 * dev.shape[2], dev,
              np.ascontiguousarray(iu, dtype=np.int64),
              np.ascontiguousarray(ju, dtype=np.int64), out=out)
    return out


# ----------------------------------------------------------------------------- moments

@nb.njit(cache=True, nogil=True)
def _accumulate_moments(reps, shift, s1, s2, lshift, l1, l2, shrink, lo, hi, row_means):
    n_orders, b, k, _ = reps.shape
    scale = 1.0 + 2.0 * shrink
    for row in range(lo, hi):
        u = row // k
        i = row % k
        for r in range(b):
            acc = 0.0
            for j in range(k):
                if j != i:
                    acc += reps[u, r, i, j]
            row_means[u, r, i] = acc / (k - 1)
            for j in range(i + 1, k):
                e = reps[u, r, i, j]
                dev = e - shift[u, i, j]
                s1[u, i, j] += dev
                s2[u, i, j] += dev * dev
                x = (e + shrink) / scale
                ldev = math.log(x / (1.0 - x)) - lshift[u, i, j]
                l1[u, i, j] += ldev
                l2[u, i, j] += ldev * ldev


def accumulate_moments(reps, shift, s1, s2, lshift, l1, l2, shrink, row_means) -> None:
    """Add replicates to the shifted sums of E and of its shrunk logit, in replicate order,
    and write each replicate's one-versus-all means.

    reps: (orders, b, k, k) violation ratios (NaN diagonal, E[j, i] = 1 - E[i, j]); shift,
    lshift: (orders, k, k) the point estimates and their logits (NaN as 0); s1, s2, l1, l2
    updated in place for i < j only: E[j, i] = 1 - E[i, j] and its logit is minus that of
    E[i, j], so their sds are the same (the caller mirrors them). One add per replicate in
    order, as ``inference._ShiftedMoments`` does, without (orders, b, k, k) temporaries, and
    one logarithm per pair. row_means: (orders, b, k) out, mean over j != i of E[i, j]. Rows
    (order, i) run on threads, each owning its row of the sums.
    """
    n_orders, b, k, _ = reps.shape
    _parallel(_accumulate_moments, n_orders * k, reps.size * 4, reps, shift, s1, s2, lshift,
              l1, l2, shrink, out=row_means)


# ----------------------------------------------------------------------------- resampling
#
# The draw counts of :class:`riskbench.backends.Resampler`, bit for bit, without a Python call
# per replicate: numpy's Philox4x64-10 bit generator (Salmon et al. 2011, "Parallel random
# numbers: as easy as 1, 2, 3"; numpy's ``philox.h``) and its bounded integers (Lemire's
# multiply-and-reject on 32-bit outputs, numpy's ``random_bounded_uint64_fill`` for ranges
# below 2^32). Replicate r starts at counter (0, r, 0, 0) with an empty buffer, as
# ``Resampler._draw`` sets it; numpy increments the counter before each block. A test checks
# the counts against numpy's on many sizes.

_M0 = np.uint64(0xD2E7470EE14C6C93)
_M1 = np.uint64(0xCA5A826395121157)
_W0 = np.uint64(0x9E3779B97F4A7C15)
_W1 = np.uint64(0xBB67AE8584CAA73B)
_LOW32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)


@intrinsic
def _umulhi(typingctx, a, b):
    """High 64-bit word of the 128-bit product of two uint64 (one machine multiply)."""
    sig = nb.types.uint64(nb.types.uint64, nb.types.uint64)

    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        prod = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(prod, ir.Constant(wide, 64)), ir.IntType(64))

    return sig, codegen


@nb.njit(cache=True, inline="always")
def _mulhilo(a, b):
    """High and low 64-bit words of the 128-bit product a * b (uint64)."""
    return _umulhi(a, b), a * b


@nb.njit(cache=True, inline="always")
def _philox(c0, c1, c2, c3, k0, k1):
    """One Philox4x64-10 block of counter (c0, c1, c2, c3) under key (k0, k1)."""
    for r in range(10):
        if r > 0:
            k0 += _W0
            k1 += _W1
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


@nb.njit(cache=True, inline="always")
def _next32(st, k0, k1):
    """numpy's Philox ``next_uint32`` (halves of 64-bit outputs, low half first) on the
    state st = (counter (4), buffer (4), buffer position, has a half, the half): returns the
    value and the new state (a tuple, so it stays in registers)."""
    c0, c1, c2, c3, b0, b1, b2, b3, pos, has, half = st
    if has:
        return half, (c0, c1, c2, c3, b0, b1, b2, b3, pos, False, half)
    if pos >= 4:
        c0 += _ONE
        if c0 == _ZERO:  # carry
            c1 += _ONE
            if c1 == _ZERO:
                c2 += _ONE
                if c2 == _ZERO:
                    c3 += _ONE
        b0, b1, b2, b3 = _philox(c0, c1, c2, c3, k0, k1)
        pos = 0
    value = b0 if pos == 0 else (b1 if pos == 1 else (b2 if pos == 2 else b3))
    return value & _LOW32, (c0, c1, c2, c3, b0, b1, b2, b3, pos + 1, True, value >> _S32)


@nb.njit(cache=True, inline="always")
def _bounded(st, k0, k1, excl):
    """One integer in [0, excl) (excl >= 2, uint64) as numpy's ``Generator.integers``."""
    x, st = _next32(st, k0, k1)
    m = x * excl
    leftover = m & _LOW32
    if leftover < excl:
        threshold = (_LOW32 - (excl - _ONE)) % excl
        while leftover < threshold:
            x, st = _next32(st, k0, k1)
            m = x * excl
            leftover = m & _LOW32
    return np.int64(m >> _S32), st


@nb.njit(cache=True, nogil=True)
def _draw_counts(key, sizes, clusters, n_clusters, first, lo, hi, out):
    """Counts of replicates first + lo .. first + hi - 1 into out[slot][lo:hi] (slots, b, n).

    sizes: (slots,) values per slot (one slot: paired design); clusters: (n,) cluster of each
    item, used when n_clusters > 0 (then every slot draws n_clusters clusters)."""
    k0, k1 = key[0], key[1]
    drawn = np.zeros(max(n_clusters, 1), np.int64)
    for row in range(lo, hi):
        st = (_ZERO, np.uint64(first + row), _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, 4,
              False, _ZERO)
        for a in range(sizes.size):
            n = sizes[a]
            if n_clusters == 0:
                for t in range(n):
                    out[a, row, t] = 0
                if n == 1:
                    out[a, row, 0] = 1
                    continue
                excl = np.uint64(n)
                for _ in range(n):
                    v, st = _bounded(st, k0, k1, excl)
                    out[a, row, v] += 1
            else:
                drawn[:] = 0
                if n_clusters == 1:
                    drawn[0] = 1
                else:
                    excl = np.uint64(n_clusters)
                    for _ in range(n_clusters):
                        v, st = _bounded(st, k0, k1, excl)
                        drawn[v] += 1
                for t in range(n):
                    out[a, row, t] = drawn[clusters[t]]


def draw_counts(key: np.ndarray, sizes: tuple[int, ...], start: int, stop: int,
                clusters: np.ndarray | None) -> list[np.ndarray]:
    """Compiled :meth:`riskbench.backends.Resampler._draw` for plain and cluster
    resampling: one (b, n_a) array per slot, identical to numpy's."""
    b = stop - start
    width = max(sizes)
    out = np.zeros((len(sizes), b, width), dtype=np.int64)
    n_clusters = 0 if clusters is None else int(clusters.max()) + 1
    cl = np.zeros(1, np.int64) if clusters is None else np.ascontiguousarray(clusters,
                                                                            dtype=np.int64)
    _parallel(_draw_counts, b, b * sum(sizes) * 8, np.ascontiguousarray(key, np.uint64),
              np.array(sizes, dtype=np.int64), cl, n_clusters, start, out=out)
    return [out[a, :, :n] for a, n in enumerate(sizes)]


_numba_config.CACHE_DIR = _SAVED_CACHE_DIR  # see the top of the module


def cached() -> bool:
    """Whether compiled kernels of this module are in :func:`cache_dir` already (an index
    file written by a previous run; numba still checks it against the source)."""
    folder = cache_dir()
    return folder.is_dir() and any(folder.rglob("_numba.*.nbi"))

