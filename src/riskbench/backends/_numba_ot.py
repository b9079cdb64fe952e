"""Compiled kernels (numba) of the multivariate OT solver (:mod:`riskbench.multivariate`).

The numpy reference's algorithm there (stabilised log-domain Sinkhorn, the same stopping rule,
the same absorption and log-domain fallbacks, the same fixed point); what changes is how an
iteration runs, and that the float32 stages over-relax it (``omega`` of :func:`iterate`):

- one pass over the Gibbs kernel per iteration instead of two: row s gives
  ``kv_s = sum_t K_st w_t`` and, at once, its share ``K_s. a_s / kv_s`` of the column sums, while
  the row is still in cache;
- the kernel may be stored in float32 (half the memory traffic), and its passes then run in
  float32 too (twice the vector lanes); :func:`riskbench.multivariate._sinkhorn` uses that for
  the annealing stages and the bulk of the final one, then polishes with a float64 kernel;
- ``nogil``: the ordered pairs run on a thread per core, each pair on one thread, so the numbers
  depend only on the pair (not on the number of threads).

Rows run in order and each row's sums in the order the compiled code fixes (``reassoc``
lets it vectorise them, once, at compile time): the same inputs give the same bits in any
thread or batch on the same machine.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

#: Log-scalings beyond +-_ABSORB are absorbed into the kernel (as multivariate._ABSORB).
_ABSORB = 200.0
#: Kernel entries below exp(_FLUSH) are 0 (as multivariate._FLUSH).
_FLUSH = -500.0
#: Let the compiler vectorise the sums (reassociate) but keep IEEE infinities and NaNs.
_REASSOC = {"reassoc", "contract"}


def hinge_costs(x, y, power, out_xy=None, out_yx=None):
    """Both violation costs of a pair with the hinge: C_xy (n, m) and C_yx (m, n).

    ``C_xy[s, t] = sum_d max(y_td - x_sd, 0)^power`` and ``C_yx[t, s] = sum_d max(x_sd -
    y_td, 0)^power``, summed over d in order from 0, as multivariate._cost does (the same
    bits). Row by row with the metrics outermost, so the inner loops run over contiguous
    memory and vectorise (the transposes are made here, in numpy: a transposed copy made
    inside compiled code is typed with an unknown layout, and the loops no longer vectorise).
    ``out_xy``, ``out_yx``: float64 buffers to write into (fresh pages cost more than the
    loops here: the first touch of 5 MB takes milliseconds).
    """
    n, m = x.shape[0], y.shape[0]
    out_xy = np.empty((n, m)) if out_xy is None else out_xy
    out_yx = np.empty((m, n)) if out_yx is None else out_yx
    _hinge_cost(x, np.ascontiguousarray(y.T), power, out_xy)
    _hinge_cost(y, np.ascontiguousarray(x.T), power, out_yx)
    return out_xy, out_yx


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _hinge_cost(x, y_t, power, out):
    """out[s, t] = sum_d max(y_t[d, t] - x[s, d], 0)^power; y_t is y transposed, (d, m)."""
    n, d = x.shape
    out[:] = 0.0
    for s in range(n):
        for u in range(d):
            _hinge_add(y_t[u], x[s, u], power, out[s])


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _hinge_add(y_row, x_su, power, out_row):
    """out_row += max(y_row - x_su, 0)^power (a branch-free loop: it vectorises)."""
    if power == 2:
        for t in range(out_row.size):
            z = y_row[t] - x_su
            z = z if z > 0.0 else 0.0
            out_row[t] += z * z
    else:
        for t in range(out_row.size):
            z = y_row[t] - x_su
            out_row[t] += z if z > 0.0 else 0.0


@nb.njit(cache=True, nogil=True, error_model="numpy")
def kernel_exponents(cost, f, g, reg, flush, cap, out):
    """out[s, t] = (f_s - C_st + g_t) / reg, or -inf below ``flush``: the kernel's logs.

    The exponential itself is left to numpy (``np.exp(out, out=out)``), whose SIMD exp is 3 to
    8 times faster than a compiled scalar loop. In float64 the kernel has the same bits as
    multivariate._kernel (the same operations in the same order, the same exp).

    A row whose largest exponent exceeds a finite ``cap`` is shifted down to 0
    and the shift moved into its anchor f_s (in place). That changes no potential: the next
    u-half-step recomputes lu_s from the kernel row, so f_s + reg lu_s is the same; it only
    keeps a float32 kernel finite after lambda drops tenfold (the exponents grow tenfold, up
    to ~10 log n). Finding the row maxima costs as much as the rest, so it runs only after
    :func:`iterate` has reported an overflow.
    """
    n = cost.shape[0]
    for s in range(n):
        row = out[s]
        _exponent_row(cost[s], f[s], g, reg, row)
        if cap < np.inf:
            top = _row_max(row)
            if top > cap:
                f[s] -= reg * top
                _exponent_row(cost[s], f[s], g, reg, row)
        _flush_row(row, flush)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _exponent_row(cost_row, f_s, g, reg, out_row):
    for t in range(out_row.size):
        out_row[t] = (f_s - cost_row[t] + g[t]) / reg


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=True)
def _row_max(row):
    # fastmath lets the max reduction vectorise; the exponents are finite here (no flush yet)
    top = row[0]
    for t in range(1, row.size):
        top = max(top, row[t])
    return top


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _flush_row(row, flush):
    for t in range(row.size):
        row[t] = row[t] if row[t] >= flush else -np.inf


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_REASSOC)
def _dot(row, w):
    # summed in the row's precision: float32 rows and weights run as float32 vectors
    acc = row.dtype.type(0)
    for t in range(w.size):
        acc += row[t] * w[t]
    return acc


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_REASSOC)
def _axpy(row, scale, out):
    factor = out.dtype.type(scale)
    for t in range(out.size):
        out[t] += row[t] * factor


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _log_half_step(cost, g, b, reg, transpose):
    """f_s = -reg log sum_t b_t exp((g_t - C_st) / reg) (over C's columns when transpose)."""
    n = cost.shape[1] if transpose else cost.shape[0]
    m = g.size
    out = np.empty(n)
    z = np.empty(m)
    for s in range(n):
        top = -np.inf
        for t in range(m):
            c = cost[t, s] if transpose else cost[s, t]
            z[t] = (g[t] - c) / reg + (math.log(b[t]) if b[t] > 0 else -np.inf)
            top = max(top, z[t])
        if top == -np.inf:
            out[s] = np.inf
            continue
        acc = 0.0
        for t in range(m):
            acc += math.exp(z[t] - top)
        out[s] = -reg * (top + math.log(acc))
    return out


#: Return codes of :func:`iterate`.
CONVERGED, STOPPED, REBUILD, OVERFLOW = 0, 1, 2, 3


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_REASSOC)
def iterate(cost, a, b, reg, f, g, lu, lv, kernel, state, tol, max_iter, absorb=_ABSORB,
            omega=1.0):
    """Sinkhorn iterations at one lambda with the kernel exp((f_s + g_t - C_st) / reg).

    The iterations of multivariate._stage, one pass over the kernel each. f, g (anchors),
    lu, lv (log-scalings: the potentials are f + reg lu, g + reg lv) and ``state`` (the
    stopper's last value, last step and hits: multivariate._Stopper with one column) are
    updated in place. Returns (code, iterations used):

    - CONVERGED: the stopping rule holds;
    - STOPPED: ``max_iter`` iterations without it;
    - REBUILD: the scalings were absorbed into (f, g), or a kernel row or column underflowed
      and that half-step was done exactly in the log domain: the caller rebuilds the kernel
      around the new (f, g) (lu = lv = 0) and calls again;
    - OVERFLOW: a kernel row sums to infinity (float32 entries overflow above exp(88)): the
      caller rebuilds the kernel with its rows capped (:func:`kernel_exponents`) and calls
      again; that iteration is not counted and lv is kept (the u-half-step comes first).

    The passes over the kernel run in its precision: with a float32 kernel the weights, the
    row sums and the column sums are float32 too (8 or 16 lanes a vector instead of 4, no
    conversions: 2 to 3 times faster), the logarithms, potentials and the value float64.
    Scalings then stay within exp(+-``absorb``) so that no float32 product overflows (the
    caller passes a smaller ``absorb`` for float32); a float32 column sum that overflows is
    absorbed like a large scaling.

    ``omega`` > 1 over-relaxes the u-half-step (Thibault, Chizat, Dossal & Papadakis 2021,
    "Overrelaxed Sinkhorn-Knopp"): ``lu_s <- (1 - omega) lu_s + omega (-log kv_s)`` from the
    second iteration of a call on, the v-half-step staying exact, so the column marginals are
    b after every iteration and the value stays the dual objective of a plan of mass 1 (the
    fixed point, hence the optimum, is plain Sinkhorn's). A step of the value <= 0 while
    relaxed (an overshoot) is not taken for convergence: the iterations go on plain.
    """
    n, m = cost.shape
    relax = omega != 1.0
    w = np.empty(m, kernel.dtype)  # b_t exp(lv_t); after the first iteration b_t / ku_t
    for t in range(m):
        w[t] = b[t] * math.exp(lv[t])
    ku = np.empty(m, kernel.dtype)
    for it in range(max_iter):
        ku[:] = 0.0
        ok = True
        fa = 0.0  # <a, f + reg lu> and the largest |lu|, |lv|, summed as the rows go
        big = 0.0
        for s in range(n):
            acc = np.float64(_dot(kernel[s], w))
            if not acc > 0.0:
                ok = False
                break
            if acc == np.inf:
                return OVERFLOW, it
            if relax and it > 0:
                lu[s] = (1.0 - omega) * lu[s] - omega * math.log(acc)
                share = a[s] * math.exp(lu[s])
            else:
                lu[s] = -math.log(acc)
                share = a[s] / acc
            fa += a[s] * (f[s] + reg * lu[s])
            big = max(big, abs(lu[s]))
            # a_s exp(lu_s): row s's share of the column sums, while the row is in cache
            _axpy(kernel[s], share, ku)
        if not ok:  # a kernel row underflowed: this half-step exactly, then a new kernel
            for t in range(m):
                g[t] += reg * lv[t]
            f[:] = _log_half_step(cost, g, b, reg, False)
            lu[:] = 0.0
            lv[:] = 0.0
            return REBUILD, it + 1
        wide = False
        for t in range(m):
            if not ku[t] > 0.0:
                ok = False
            wide = wide or ku[t] == np.inf
        if wide and ok:  # a float32 column sum overflowed: absorb lu (lv is not updated)
            _absorb(f, g, lu, lv, reg)
            return REBUILD, it + 1
        if not ok:  # a kernel column underflowed
            for s in range(n):
                f[s] += reg * lu[s]
            g[:] = _log_half_step(cost, f, a, reg, True)
            lu[:] = 0.0
            lv[:] = 0.0
            return REBUILD, it + 1
        gb = 0.0
        for t in range(m):
            sum_t = np.float64(ku[t])
            lv[t] = -math.log(sum_t)
            w[t] = b[t] / sum_t
            gb += b[t] * (g[t] + reg * lv[t])
            big = max(big, abs(lv[t]))
        value = fa + gb
        step = value - state[0]
        rho = step / state[1]
        rest = step * rho / (1.0 - rho)
        close = rho >= 0 and rho < 1 and 2.0 * rest <= tol * abs(value)
        state[2] = state[2] + 1 if close else 0.0
        state[0] = value
        state[1] = step
        if step <= 0 and relax:  # overshot: plain iterations from here
            relax = False
            state[2] = 0.0
        elif step <= 0 or state[2] >= 2:
            return CONVERGED, it + 1
        if big > absorb:
            _absorb(f, g, lu, lv, reg)
            return REBUILD, it + 1
    return STOPPED, max_iter


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _absorb(f, g, lu, lv, reg):
    """Move the log-scalings into the anchors: f += reg lu, g += reg lv, lu = lv = 0."""
    for s in range(f.size):
        f[s] += reg * lu[s]
        lu[s] = 0.0
    for t in range(g.size):
        g[t] += reg * lv[t]
        lv[t] = 0.0


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath=_REASSOC)
def linear_deltas(weights, uniform, potentials, out):
    """out[r, p] = sum_t (weights[r, t] - uniform[t]) potentials[p, t], t in order.

    weights (b, n); potentials (P, n); out (b, P). Each entry is summed on its own, so the
    numbers do not depend on the batch size.
    """
    b, n = weights.shape
    for r in range(b):
        for p in range(potentials.shape[0]):
            acc = 0.0
            for t in range(n):
                acc += (weights[r, t] - uniform[t]) * potentials[p, t]
            out[r, p] = acc
