"""Compiled kernels (numba), parallel over the replicates of a batch.

Same algorithm as the numpy reference: sorted resamples rebuilt from counts (no sort), exact
integrals, only pairs i < j (eps_ji = 1 - eps_ij); one fused pass per pair.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange


@nb.njit(cache=True, fastmath=True)
def _pair_first(qi, qj):
    """Positive and negative parts of int (Q_j - Q_i)^2 (times n); den = pos + neg."""
    pos = 0.0
    neg = 0.0
    for r in range(qi.size):
        d = qj[r] - qi[r]
        dp = max(d, 0.0)
        dn = min(d, 0.0)
        pos += dp * dp
        neg += dn * dn
    return pos, neg


@nb.njit(cache=True, fastmath=True)
def _pair_second(gi, gj):
    """Positive and negative parts of int (G_j - G_i)^2 (times 3n); den = pos + neg.

    gi, gj are cumulative sums of the sorted samples, so D = gj - gi is G_Y - G_X at r/n
    (times n) with D_0 = 0. Each part is the segment formula applied to max(D, 0) (resp.
    min(D, 0)): with S = sum P_r^2 and L = sum P_r P_{r+1}, the integral is 2 S - P_n^2 + L.
    That is exact except on segments a -> b that cross zero; there the exact parts differ by
    (max(a, 0) - max(b, 0)) s and (min(a, 0) - min(b, 0)) s with s = a b / (a - b). The main
    loop has no branch and no recurrence (it vectorises); the crossing loop runs only when some
    segment crosses. Keeping both parts (rather than the whole and the positive part) makes eps
    exactly 0 or 1 when D never changes sign, whatever order the compiler sums in.
    """
    n = gi.size
    d0 = gj[0] - gi[0]
    p0 = max(d0, 0.0)
    m0 = min(d0, 0.0)
    sp = p0 * p0
    sn = m0 * m0
    lagp = 0.0
    lagn = 0.0
    cross = 0.0
    for r in range(1, n):
        b = gj[r] - gi[r]
        a = gj[r - 1] - gi[r - 1]
        pb = max(b, 0.0)
        nb_ = min(b, 0.0)
        sp += pb * pb
        sn += nb_ * nb_
        lagp += pb * max(a, 0.0)
        lagn += nb_ * min(a, 0.0)
        cross += min(a * b, 0.0)
    last = gj[n - 1] - gi[n - 1]
    pl = max(last, 0.0)
    ml = min(last, 0.0)
    pos = 2.0 * sp - pl * pl + lagp
    neg = 2.0 * sn - ml * ml + lagn
    if cross < 0.0:
        a = d0
        for r in range(1, n):
            b = gj[r] - gi[r]
            t = a * b
            if t < 0.0:
                s = t / (a - b)
                pos += (max(a, 0.0) - max(b, 0.0)) * s
                neg += (min(a, 0.0) - min(b, 0.0)) * s
            a = b
    return pos, neg


@nb.njit(cache=True)
def _expand(xs, perm, counts, out, mark, sorted_counts):
    """Sorted resample of one model without a sort or a branch.

    Sorted position s of the model holds item perm[s], drawn counts[perm[s]] times, so its
    value fills ranks start_s .. start_s + count - 1. Mark each start with s (a later s with
    the same start, after zero counts, overwrites it), then a running max over the ranks gives
    the sorted position of every rank. ``mark`` has n + 1 slots. The counts are gathered into
    sorted order first: independent loads, instead of a chain of dependent ones.
    """
    n = xs.size
    for s in range(n):
        sorted_counts[s] = counts[perm[s]]
    for r in range(out.size + 1):
        mark[r] = -1
    start = 0
    for s in range(n):
        mark[start] = s  # start <= out.size: the slot after the last rank absorbs zero counts
        start += sorted_counts[s]
    run = -1
    for r in range(out.size):
        run = max(run, mark[r])
        out[r] = xs[run]


@nb.njit(cache=True, parallel=True)
def _kernel(xs, perm, counts, first, second):
    """xs, perm: (k, n); counts: (b, 1, n) shared by all models, or (b, k, n).

    Every model of a replicate must have the same number of draws (its sorted resample's
    length). Returns (2, b, k, k): order 1 in [0] (if ``first``), order 2 in [1] (if
    ``second``); both orders share the expansion of each replicate.
    """
    b = counts.shape[0]
    k, n = xs.shape
    out = np.empty((2, b, k, k))
    for rep in prange(b):
        size = 0
        for t in range(n):
            size += counts[rep, 0, t]
        q = np.empty((k, size))
        g = np.empty((k, size))
        mark = np.empty(size + 1, np.int64)
        sorted_counts = np.empty(n, np.int64)
        _replicate(xs, perm, counts, first, second, rep, q, g, mark, sorted_counts, out)
    return out


@nb.njit(cache=True)
def _replicate(xs, perm, counts, first, second, rep, q, g, mark, sorted_counts, out):
    """One replicate: expand every model's sorted resample, then all pairs i < j."""
    k = xs.shape[0]
    shared = counts.shape[1] == 1
    for a in range(k):
        _expand(xs[a], perm[a], counts[rep, 0 if shared else a], q[a], mark, sorted_counts)
        if second:
            acc = 0.0
            for r in range(q.shape[1]):
                acc += q[a, r]
                g[a, r] = acc
    for i in range(k):
        out[0, rep, i, i] = np.nan
        out[1, rep, i, i] = np.nan
        for j in range(i + 1, k):
            if first:
                pos, neg = _pair_first(q[i], q[j])
                e = _ratio(pos, neg)
                out[0, rep, i, j] = e
                out[0, rep, j, i] = 1.0 - e
            if second:
                pos, neg = _pair_second(g[i], g[j])
                e = _ratio(pos, neg)
                out[1, rep, i, j] = e
                out[1, rep, j, i] = 1.0 - e


@nb.njit(cache=True, inline="always")
def _ratio(pos, neg):
    """pos / (pos + neg); exactly 0 or 1 for one-signed differences, 1/2 for none."""
    if neg <= 0.0 < pos:
        return 1.0
    if pos <= 0.0 < neg:
        return 0.0
    if pos > 0.0:
        return min(max(pos / (pos + neg), 0.0), 1.0)
    return 0.5


def replicate_matrices(job, counts: list[np.ndarray]) -> np.ndarray:
    xs = np.ascontiguousarray(np.stack(job.values))
    perm = np.ascontiguousarray(np.stack(job.order_idx)).astype(np.int64)
    drawn = np.ascontiguousarray(np.stack(counts, axis=1), dtype=np.int64)  # (b, 1 or k, n)
    first, second = 1 in job.orders, 2 in job.orders
    levels = np.unique(xs)
    if levels.size <= max(16, LEVEL_SHARE * xs.shape[1]):  # heavily tied scores
        level = np.empty(xs.shape, dtype=np.int64)
        for a in range(xs.shape[0]):
            level[a, perm[a]] = np.searchsorted(levels, xs[a])
        out = _kernel_levels(level, levels, drawn, first, second)
    else:
        out = _kernel(xs, perm, drawn, first, second)
    return out[[order - 1 for order in job.orders]]


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
    while cur < n:
        while ci[li] <= cur:
            li += 1
        while cj[lj] <= cur:
            lj += 1
        nxt = min(ci[li], cj[lj])
        w = float(nxt - cur)
        d = levels[lj] - levels[li]
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
    return pos, neg


@nb.njit(cache=True, parallel=True)
def _kernel_levels(level, levels, counts, first, second):
    """level: (k, n) level index of each value; levels: (V,) sorted distinct values;
    counts: (b, 1, n) shared or (b, k, n), equal totals for all models of a replicate."""
    b = counts.shape[0]
    k, n = level.shape
    n_levels = levels.size
    shared = counts.shape[1] == 1
    out = np.empty((2, b, k, k))
    for rep in prange(b):
        cum = np.zeros((k, n_levels), np.int64)
        for a in range(k):
            drawn = counts[rep, 0 if shared else a]
            row = cum[a]
            for t in range(n):
                row[level[a, t]] += drawn[t]
            for v in range(1, n_levels):
                row[v] += row[v - 1]
        for i in range(k):
            out[0, rep, i, i] = np.nan
            out[1, rep, i, i] = np.nan
            for j in range(i + 1, k):
                if first:
                    pos, neg = _pair_levels(cum[i], cum[j], levels, False)
                    e = _ratio(pos, neg)
                    out[0, rep, i, j] = e
                    out[0, rep, j, i] = 1.0 - e
                if second:
                    pos, neg = _pair_levels(cum[i], cum[j], levels, True)
                    e = _ratio(pos, neg)
                    out[1, rep, i, j] = e
                    out[1, rep, j, i] = 1.0 - e
    return out


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
def _dominance_counts(ranks, orders, position, bucket):
    """Compiled twin of ``riskbench.portfolio.dominance_counts`` (same checkpoints and
    candidates; points already in metric 0's order, so metric 0 is an exact bit prefix)."""
    m, n_metrics = ranks.shape
    words = (m + 63) // 64
    n_check = m // bucket + 1
    checkpoints = np.zeros((max(n_metrics - 1, 1), n_check, words), np.uint64)
    for u in prange(1, n_metrics):
        row = np.zeros(words, np.uint64)
        for c in range(1, n_check):
            for pos in range((c - 1) * bucket, min(c * bucket, m)):
                q = orders[pos, u]
                row[q >> 6] |= np.uint64(1) << np.uint64(q & 63)
            checkpoints[u - 1, c, :] = row
    counts = np.empty(m, np.int64)
    for p in prange(m):
        r0 = ranks[p, 0]
        used = (r0 + 63) // 64
        acc = np.empty(max(used, 1), np.uint64)
        if n_metrics > 1:
            acc[:used] = checkpoints[0, ranks[p, 1] // bucket, :used]
        else:
            acc[:used] = np.uint64(0xFFFFFFFFFFFFFFFF)
        for u in range(2, n_metrics):
            row = checkpoints[u - 1, ranks[p, u] // bucket]
            for w in range(used):
                acc[w] &= row[w]
        tail = r0 % 64
        if tail:  # metric 0: exactly the first r0 points
            acc[used - 1] &= (np.uint64(1) << np.uint64(tail)) - np.uint64(1)
        total = 0
        for w in range(used):
            total += _popcount(acc[w])
        for u in range(1, n_metrics):  # points in u's last partial bucket, counted once
            lo = (ranks[p, u] // bucket) * bucket
            for pos in range(lo, ranks[p, u]):
                q = orders[pos, u]
                ok = True
                for v in range(n_metrics):
                    if ranks[q, v] > ranks[p, v]:
                        ok = False
                        break
                if ok:
                    for v in range(1, u):
                        if position[q, v] >= (ranks[p, v] // bucket) * bucket:
                            ok = False
                            break
                if ok:
                    total += 1
        counts[p] = total
    return counts


def dominance_counts(ranks: np.ndarray, bucket: int) -> np.ndarray:
    m, n_metrics = ranks.shape
    first_order = np.argsort(ranks[:, 0], kind="stable")
    r = np.ascontiguousarray(ranks[first_order], dtype=np.int64)
    orders = np.ascontiguousarray(np.argsort(r, axis=0, kind="stable"), dtype=np.int64)
    position = np.empty_like(orders)
    position[orders, np.arange(n_metrics)] = np.arange(m)[:, None]
    counts = _dominance_counts(r, orders, position, bucket)
    out = np.empty(m, dtype=np.int64)
    out[first_order] = counts
    return out
