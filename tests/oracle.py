"""Plain-loop oracles: the formulas of METHOD.md written out one interval at a time.

Deliberately naive (exact rational breakpoints, scalar arithmetic): every fast kernel in riskbench
is checked against these on the same inputs and the same bootstrap indices.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def eps_loop(x, y, order: int) -> float:
    """eps_order(X, Y) by a loop over the union of both samples' breakpoints."""
    xs, ys = sorted(float(v) for v in x), sorted(float(v) for v in y)
    n, m = len(xs), len(ys)
    points = sorted({Fraction(r, n) for r in range(1, n + 1)}
                    | {Fraction(s, m) for s in range(1, m + 1)})
    num = den = 0.0
    gx = gy = 0.0
    prev = Fraction(0)
    for t in points:
        h = float(t - prev)
        qx = xs[math.ceil(t * n) - 1]
        qy = ys[math.ceil(t * m) - 1]
        if order == 1:
            d = qy - qx
            den += h * d * d
            num += h * max(d, 0.0) ** 2
        else:
            a = gy - gx
            gx += h * qx
            gy += h * qy
            b = gy - gx
            whole = h * (a * a + a * b + b * b) / 3
            den += whole
            if a >= 0 and b >= 0:
                num += whole
            elif a > 0 > b:
                num += h * a**3 / (3 * (a - b))
            elif a < 0 < b:
                num += h * b**3 / (3 * (b - a))
        prev = t
    return 0.5 if den == 0 else num / den


def matrix_loop(samples, order: int) -> np.ndarray:
    k = len(samples)
    out = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(k):
            if i != j:
                out[i, j] = eps_loop(samples[i], samples[j], order)
    return out


def replicate_loop(values, counts, order: int) -> np.ndarray:
    """(b, k, k) violation ratios of bootstrap replicates given by draw counts.

    ``counts`` is what ``Resampler.counts`` returns: one (b, n) array shared by all models, or
    one (b, n_a) array per model; value t of a model appears counts[r, t] times in replicate r.
    """
    b = counts[0].shape[0]
    out = []
    for r in range(b):
        res = [np.repeat(np.asarray(v), (counts[0] if len(counts) == 1 else counts[a])[r])
               for a, v in enumerate(values)]
        out.append(matrix_loop(res, order))
    return np.stack(out)


def gini_loop(x) -> float:
    """Half mean difference (1/2n^2) sum_i sum_j |x_i - x_j|."""
    n = len(x)
    return sum(abs(a - b) for a in x for b in x) / (2 * n * n)


def lorenz_loop(x, p: float) -> float:
    """G(p) = int_0^p Q(t) dt by a loop over the steps of Q."""
    xs = sorted(x)
    n = len(xs)
    total, t = 0.0, 0.0
    for r, v in enumerate(xs, start=1):
        right = min(r / n, p)
        if right > t:
            total += (right - t) * v
            t = right
    return total


def eps_exact(x, y, order: int) -> Fraction | None:
    """eps_order(X, Y) in exact rational arithmetic (None when the distributions are
    identical): every float is converted exactly, every integral of METHOD.md section 3 is a
    rational function of them."""
    xs = sorted(Fraction(float(v)) for v in x)
    ys = sorted(Fraction(float(v)) for v in y)
    n, m = len(xs), len(ys)
    points = sorted({Fraction(r, n) for r in range(1, n + 1)}
                    | {Fraction(s, m) for s in range(1, m + 1)})
    pos = neg = Fraction(0)
    big = Fraction(0)  # G_Y - G_X
    prev = Fraction(0)
    for t in points:
        h = t - prev
        d = ys[math.ceil(t * m) - 1] - xs[math.ceil(t * n) - 1]
        if order == 1:
            pos += h * max(d, 0) ** 2
            neg += h * min(d, 0) ** 2
        else:
            a, b = big, big + h * d
            whole = h * (a * a + a * b + b * b) / 3
            if a >= 0 and b >= 0:
                pos += whole
            elif a <= 0 and b <= 0:
                neg += whole
            elif a > 0:  # a > 0 > b
                pos += h * a**3 / (3 * (a - b))
                neg += whole - h * a**3 / (3 * (a - b))
            else:
                pos += h * b**3 / (3 * (b - a))
                neg += whole - h * b**3 / (3 * (b - a))
            big = b
        prev = t
    return None if pos + neg == 0 else pos / (pos + neg)
