"""Multivariate first-order dominance by entropic optimal transport (METHOD.md section 13).

Instead of collapsing N metrics into one score per item (the portfolios of section 9), compare
the joint distributions P (model X) and Q (model Y) of the metric vectors, oriented
higher-is-better and normalised per metric by the pooled ECDF (section 9.1), so every
coordinate is in (0, 1].

- Violation cost ``c(x, y) = sum_d h(y_d - x_d)``: the hinge ``h(t) = max(t, 0)^power``
  (power 1 or 2) or its smooth version ``softplus_beta(t)^power``,
  ``softplus_beta(t) = log(1 + exp(beta t)) / beta``. With the hinge ``c(x, y) = 0`` exactly
  when x >= y componentwise, so a coupling of cost 0 is Strassen's certificate that X
  dominates Y.
- ``OT(P, Q) = min_pi E_pi c(X, Y) + lambda KL(pi | P x Q)`` over couplings pi of P and Q
  (entropic optimal transport; ``lambda = reg``).
- ``eps(X, Y) = OT(P, Q) / (OT(P, Q) + OT(Q, P))``: small when X almost dominates Y; always
  ``eps(X, Y) + eps(Y, X) = 1``. With one metric, power 2, the hinge and lambda -> 0 the optimal
  plan is the monotone coupling and eps is eps_1 of section 3.

The (k, k) matrix of eps, the one-versus-all means and their bootstrap replicates come back as a
:class:`riskbench.inference.Bootstrap`, so the relative and absolute tests of section 4
(:func:`riskbench.inference.relative_test_from`, :func:`~riskbench.inference.absolute_test_from`)
and the rankings consume them unchanged.

How lambda shapes eps: ``OT_0 <= OT_lambda <= OT_0 + lambda log n`` (the KL of a coupling of two
uniform measures on n points is at most log n). The entropic term is paid in both directions,
so where it is comparable to the OT values themselves (close models, few metrics) it pulls eps
towards 1/2; as lambda grows eps tends to ``E c(X, Y) / (E c(X, Y) + E c(Y, X))`` with X and
Y independent. The paper's central limit theorem is for the entropic ratio at fixed lambda,
which is what the tests use; ``DEFAULT_REG`` trades its pull against solver time.

Solver: own code (numpy, and compiled with numba), not POT. Four reasons:

1. Stopping rule. What the ratio needs is the OT *value* to a relative accuracy; the dual value
   of Sinkhorn converges far faster than the marginals (1e-8 relative after 300 iterations while
   the marginal error is still 3e-5 and needs > 1e5 iterations for 1e-9). POT stops on the
   marginal error; here the remaining increase of the (monotone) dual value is extrapolated from
   its last two increments, which gives the requested relative accuracy in 100-200 iterations.
2. The bootstrap. A paired resample is the original points with weights counts / n on *both*
   sides, so every replicate reuses the pair's Gibbs kernel, warm-started from the point
   estimate's potentials, and B replicates run as one matrix-matrix product per half-step.
   POT batches several target histograms with one source histogram only.
3. Measured in issue 15 on one pair (12 x 1,000 x 8): 60-80 times faster than POT's
   ``sinkhorn_log`` (numpy or torch), ~100 times more accurate at POT's iteration cap, and
   POT's stabilised variant returns a wrong value at lambda = 0.01.
4. DESIGN.md: the numeric core imports numpy, scipy and numba only; no new dependency.

The iterations are the stabilised scaling form of the log-domain Sinkhorn algorithm (Schmitzer
2019): potentials are kept in a Gibbs kernel ``exp((f_s + g_t - C_st) / lambda)`` that is rebuilt
("absorbed") whenever the scalings leave ``exp(+-200)``, so nothing overflows, every inner step is
a matrix-vector product, and where a kernel row would underflow the half-step is redone with
``logsumexp``. A cold start anneals lambda from the largest cost down to ``reg`` by factors of 10
(epsilon-scaling).

Two engines run that algorithm (``backend=``): the plain numpy one (``_stage``, the reference)
and, by default, the compiled one of :mod:`riskbench.backends._numba_ot`: one pass over the
kernel per iteration (row s gives its u-scaling and at once its share of the column sums), the
kernel stored in float32 for every stage, its passes in float32 (weights, row and column sums;
the logarithms and potentials in float64) and over-relaxed, annealing from max(C) / 20, then
one more plain stage at
``reg`` with a float64 kernel from that optimum (a few iterations), so the value is the float64
problem's to ``tol``; the costs of both directions of a pair in one pass, and each thread's
cost and kernel buffers reused from pair to pair (touching fresh pages cost more than the
loops). Tests hold the two engines to each other and to tight solves on the same inputs and
resamples.

No torch path: a GPU path could batch pairs behind the same functions, but no GPU was
available to check one, so none is shipped. On the CPU the pairs are independent problems and
run on a thread per core (numpy and the compiled kernels release the GIL), each pair on one
thread, so the numbers do not depend on the number of threads.

References
----------
Rioux, Nitsure, Rigotti, Greenewald, Mroueh, "Multivariate Stochastic Dominance via Optimal
Transport and Applications to Models Benchmarking", NeurIPS 2024.
Cuturi, "Sinkhorn Distances", NeurIPS 2013.
Schmitzer, "Stabilized Sparse Scaling Algorithms for Entropy Regularized Transport Problems",
SIAM J. Sci. Comput. 41 (2019).
Peyre and Cuturi, "Computational Optimal Transport", Found. Trends Mach. Learn. 11 (2019),
sections 4.2-4.4 (log-domain iterations, dual potentials as derivatives of the OT value).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from riskbench._samples import Samples
from riskbench.backends import Resampler
from riskbench.dominance import one_vs_all
from riskbench.equality import EqualityAccumulator, legendre_features
from riskbench.errors import DegenerateDataWarning, InputError, RiskbenchWarning
from riskbench.inference import (
    DEFAULT_BATCH_ELEMENTS,
    DEFAULT_BATCH_REPLICATES,
    Bootstrap,
    Progress,
    _check_choice,
    _check_design,
    _check_resamples,
    _check_seed,
    logit_sd,
)
from riskbench.portfolio import MetricCube, cube_ranks, pooled_ecdf, scores_frame

__all__ = [
    "DEFAULT_REG",
    "DEFAULT_TOL",
    "METHODS",
    "MULTIVARIATE",
    "ConvergenceWarning",
    "MultivariatePortfolio",
    "build_multivariate",
    "entropic_ot",
    "multivariate_bootstrap",
    "ot_violation_ratio",
]

#: Name of the multivariate target among the portfolios (``rank(portfolio=...)``).
MULTIVARIATE = "multivariate"
#: Bootstrap methods: "linear" (delta method through the dual potentials) or "exact".
METHODS = ("linear", "exact")
#: Default entropic regularisation lambda, in units of the cost on pooled-ECDF scores (each
#: metric contributes at most 1). See :func:`multivariate_bootstrap` for the choice.
DEFAULT_REG = 0.01
#: Default relative accuracy of every OT value.
DEFAULT_TOL = 1e-6
#: Default cap on the Sinkhorn iterations of one problem (per annealing stage).
DEFAULT_MAX_ITER = 10_000

#: Annealing factor of lambda for a cold start (epsilon-scaling).
_SCALING = 0.1
#: Relative accuracy of the intermediate annealing stages (only a warm start for the next).
_STAGE_TOL = 1e-3
#: Absorb the scalings into the kernel when a log-scaling leaves [-_ABSORB, _ABSORB]
#: (exp(200) ~ 1e87: products of two scalings and a kernel entry stay finite in float64).
_ABSORB = 200.0
#: The same bound when the compiled solver's sums run in float32 (backends._numba_ot.iterate):
#: a kernel entry near 1 times a scaling below exp(40) stays far from float32's exp(88).
_ABSORB32 = 40.0
#: Over-relaxation of the compiled solver's float32 stages (backends._numba_ot.iterate): the
#: same optimum in about 40% fewer iterations on the demo's pairs, synthetic tables and the
#: tests' problems (lambda = 0.001 to 0.05), as accurate in value and potentials; the float64
#: stage that ends every compiled solve stays plain Sinkhorn.
_OMEGA = 1.8
#: With it, the compiled engine's cold start anneals from max(C) / 20 instead of max(C): the
#: stages above converge in 3 to 4 iterations each but cost a kernel build apiece (0.75 ms of a
#: demo solve's ~10), and from f = g = 0 the first stage needs few more iterations. On 80 demo
#: solves: 2.3 stages instead of 4, 43 float32 iterations instead of 47, 18% less time, the
#: value and potentials as accurate (exponents down to -20 at the start: no float32 row
#: underflows). Starting at max(C) / 100 saved 6% more but moved the linear sd of a test
#: problem 2.4e-3 from the plain engine's (the tests hold it to 2e-3).
_FIRST_COMPILED = 0.05
#: Kernel entries below exp(_FLUSH) are flushed to 0 (see :func:`_kernel`).
_FLUSH = -500.0


class ConvergenceWarning(RiskbenchWarning):
    """Sinkhorn iterations stopped at ``max_iter`` before reaching the requested accuracy."""


# ----------------------------------------------------------------------------- validation

def _check_power(power: object) -> int:
    if isinstance(power, bool) or power not in (1, 2):
        raise InputError(f"power must be 1 or 2 (the exponent of the hinge h(t) = max(t, 0)^power "
                         f"in the violation cost); got {power!r}")
    return int(power)  # type: ignore[call-overload]


def _check_smooth(smooth: object) -> float | None:
    if smooth is None:
        return None
    if isinstance(smooth, bool) or not isinstance(smooth, int | float) \
            or not np.isfinite(smooth) or smooth <= 0:
        raise InputError(f"smooth must be None (the hinge max(t, 0)) or a finite number > 0 (beta "
                         f"of the smooth hinge softplus_beta(t) = log(1 + exp(beta t)) / beta); "
                         f"got {smooth!r}")
    return float(smooth)


def _check_reg(reg: object) -> float:
    if isinstance(reg, bool) or not isinstance(reg, int | float) or not np.isfinite(reg) \
            or reg <= 0:
        raise InputError(f"reg must be a finite number > 0 (the entropic regularisation lambda, "
                         f"in units of the cost; default {DEFAULT_REG}); got {reg!r}")
    return float(reg)


def _check_tol(tol: object) -> float:
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 < tol < 1:
        raise InputError(f"tol must be a number in (0, 1) (relative accuracy of each OT value); "
                         f"got {tol!r}")
    return float(tol)


def _check_max_iter(max_iter: object) -> int:
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise InputError(f"max_iter must be a positive integer; got {max_iter!r}")
    return int(max_iter)


def _as_points(x: object, name: str, infinite: bool = False) -> np.ndarray:
    """One sample of metric vectors as a float64 (n, d) array (1-D: one metric).

    NaN is refused. +-inf (issue 12: the worst or best outcome) is accepted when ``infinite``
    (the pooled-ECDF scale, where they are the bottom and top ranks) and refused otherwise,
    since a cost on the raw scale would be infinite.
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be an array of numbers, items x metrics ({exc})") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputError(f"{name} must be 2-D (items x metrics) or 1-D (one metric); got an "
                         f"array of shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {arr.shape}); a sample needs at least one item "
                         "and one metric")
    bad = np.flatnonzero(np.isnan(arr).any(axis=1))
    if bad.size:
        shown = ", ".join(str(i) for i in bad[:5])
        raise InputError(f"{name} has {bad.size} row(s) with NaN values (rows {shown}"
                         f"{', ...' if bad.size > 5 else ''}); drop or fix them first")
    bad = np.flatnonzero(np.isinf(arr).any(axis=1))
    if bad.size and not infinite:
        shown = ", ".join(str(i) for i in bad[:5])
        raise InputError(f"{name} has {bad.size} row(s) with infinite values (rows {shown}"
                         f"{', ...' if bad.size > 5 else ''}); the violation cost on the raw "
                         "scale (normalise=False) cannot use them: pass normalise=True (the "
                         "pooled-ECDF scale, where +-inf are the top and bottom ranks) or "
                         "replace them with finite worst/best values")
    return arr


def _pair(x: object, y: object, normalise: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validated (n, d) and (m, d) samples, on the pooled-ECDF scale when ``normalise``."""
    x, y = _as_points(x, "x", normalise), _as_points(y, "y", normalise)
    if x.shape[1] != y.shape[1]:
        raise InputError(f"x has {x.shape[1]} metric(s) (columns) but y has {y.shape[1]}; both "
                         "samples need the same metrics in the same order")
    if normalise:
        pooled = pooled_ecdf(np.concatenate([x, y])) / (x.shape[0] + y.shape[0])
        x, y = pooled[:x.shape[0]], pooled[x.shape[0]:]
    return x, y


# ----------------------------------------------------------------------------- cost

def _cost(x: np.ndarray, y: np.ndarray, power: int, smooth: float | None) -> np.ndarray:
    """Violation cost ``C[s, t] = sum_d h(y[t, d] - x[s, d])`` of x (n, d) and y (m, d): (n, m)."""
    cost = np.zeros((x.shape[0], y.shape[0]))
    buf = np.empty_like(cost)
    for d in range(x.shape[1]):  # one (n, m) buffer per metric, not an (n, m, d) tensor
        np.subtract(y[None, :, d], x[:, None, d], out=buf)
        if smooth is None:
            np.maximum(buf, 0.0, out=buf)
        else:
            buf *= smooth
            np.logaddexp(0.0, buf, out=buf)  # log(1 + e^z) without overflow
            buf /= smooth
        if power == 2:
            np.square(buf, out=buf)
        cost += buf
    return cost


# ----------------------------------------------------------------------------- sinkhorn

@dataclass(frozen=True, eq=False)
class _Solution:
    """Entropic OT value and dual potentials: value = <a, f> + <b, g> at convergence."""

    value: float
    f: np.ndarray
    g: np.ndarray
    converged: bool


class _Stopper:
    """Stop when the extrapolated remaining increase of the dual value is below tol * value.

    The dual value increases monotonically along Sinkhorn iterations and, close to the
    optimum, linearly with some rate rho: the remaining increase after a step of size delta
    is about ``delta rho / (1 - rho)``, with rho estimated by the ratio of the last two steps.
    Degenerate costs (the hinge is 0 on whole regions) can make the convergence sublinear,
    gap ~ C / k^alpha, where this extrapolation is low by the factor alpha / (alpha + 1):
    hence the factor 2 (exact for alpha = 1). The test must hold twice in a row (one lucky
    ratio does not stop); a step <= 0 is rounding at the optimum. Vectorised over columns
    (replicates).
    """

    def __init__(self, tol: float, size: int) -> None:
        self.tol = tol
        self.value = np.full(size, np.nan)
        self.step = np.full(size, np.nan)
        self.hits = np.zeros(size, dtype=int)

    def update(self, value: np.ndarray) -> np.ndarray:
        """Record new dual values; True where converged."""
        step = value - self.value
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = step / self.step
            rest = step * rho / (1.0 - rho)
        close = (rho >= 0) & (rho < 1) & (2.0 * rest <= self.tol * np.abs(value))
        self.hits = np.where(close, self.hits + 1, 0)
        done = (step <= 0) | (self.hits >= 2)
        self.value, self.step = value, step
        return done

    def keep(self, rows: np.ndarray) -> None:
        self.value, self.step, self.hits = self.value[rows], self.step[rows], self.hits[rows]


# Reference engine. Matrix-vector products by einsum, not BLAS: at n ~ 1,000 they are
# memory-bound and gain nothing from BLAS threads, and with busy cores the threads' spin-waits
# made a Sinkhorn solve 10 times slower (measured on the 2-core benchmark machine); einsum runs
# in the calling thread. The compiled engine (backends._numba_ot) solves a demo pair about 2.5
# times faster (bench/RESULTS.md, issue 15).
def _matvec(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.einsum("st,t->s", m, x)


def _vecmat(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    return np.einsum("s,st->t", x, m)


def _kernel(cost: np.ndarray, f: np.ndarray, g: np.ndarray, reg: float) -> np.ndarray:
    """Gibbs kernel with the potentials absorbed: exp((f_s + g_t - C_st) / reg).

    Entries below exp(_FLUSH) are set to 0: they are negligible next to a row's largest entry
    (about 1 after absorption) even when scaled by exp(2 _ABSORB), and as subnormal floats they
    would only slow the products down.
    """
    out = np.subtract(f[:, None], cost)
    out += g[None, :]
    out /= reg
    out[out < _FLUSH] = -np.inf
    return np.exp(out, out=out)


def _log_half_step(cost: np.ndarray, g: np.ndarray, b: np.ndarray, reg: float) -> np.ndarray:
    """Exact log-domain update f_s = -reg log sum_t b_t exp((g_t - C_st) / reg)."""
    with np.errstate(divide="ignore"):
        return -reg * logsumexp((g[None, :] - cost) / reg, b=b[None, :], axis=1)


def _stage(cost: np.ndarray, a: np.ndarray, b: np.ndarray, reg: float, f: np.ndarray,
           g: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Sinkhorn iterations at one lambda from potentials (f, g): the new potentials.

    Weights must be positive. Scalings are kept as logs (f = anchor + reg lu) and absorbed into
    the kernel when they leave [-_ABSORB, _ABSORB]. A kernel row (column) that underflows
    entirely, e.g. after a poor warm start, makes that half-step run exactly in the log domain,
    and the kernel is rebuilt around the result.
    """
    kernel = _kernel(cost, f, g, reg)
    lu, lv = np.zeros(a.size), np.zeros(b.size)
    stop = _Stopper(tol, 1)
    for _ in range(max_iter):
        kv = _matvec(kernel, b * np.exp(lv))
        if not (kv > 0).all():
            g = g + reg * lv
            f = _log_half_step(cost, g, b, reg)
            kernel, lu, lv = _kernel(cost, f, g, reg), np.zeros(a.size), np.zeros(b.size)
            continue
        lu = -np.log(kv)
        ku = _vecmat(a * np.exp(lu), kernel)
        if not (ku > 0).all():
            f = f + reg * lu
            g = _log_half_step(cost.T, f, a, reg)
            kernel, lu, lv = _kernel(cost, f, g, reg), np.zeros(a.size), np.zeros(b.size)
            continue
        lv = -np.log(ku)
        value = a @ (f + reg * lu) + b @ (g + reg * lv)
        if stop.update(np.array([value]))[0]:
            return f + reg * lu, g + reg * lv, True
        if max(np.abs(lu).max(), np.abs(lv).max()) > _ABSORB:
            f, g = f + reg * lu, g + reg * lv
            kernel, lu, lv = _kernel(cost, f, g, reg), np.zeros(a.size), np.zeros(b.size)
    return f + reg * lu, g + reg * lv, False


def _stage_compiled(cost: np.ndarray, a: np.ndarray, b: np.ndarray, reg: float, f: np.ndarray,
                    g: np.ndarray, tol: float, max_iter: int, dtype: type,
                    kernel: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """:func:`_stage` by the compiled kernels, the Gibbs kernel stored in ``dtype``.

    float32 halves the memory traffic of an iteration and doubles the lanes of its vector
    arithmetic (the passes run in float32, the potentials and the value in float64); its
    rounding of the kernel entries and sums is a perturbation of the cost of about
    ``reg * |log K| * 6e-8``, which :func:`_sinkhorn` removes with a final float64 stage.
    ``kernel``: an (n, m) buffer of ``dtype`` to reuse (fresh pages are slow to touch).
    """
    from riskbench.backends import _numba_ot as compiled

    f, g = f.copy(), g.copy()  # anchors, updated in place by the kernels
    lu, lv = np.zeros(a.size), np.zeros(b.size)
    state = np.array([np.nan, np.nan, 0.0])  # the stopper's last value, last step, hits
    if kernel is None:
        kernel = np.empty(cost.shape, dtype=dtype)
    # float32: no subnormals (exp(-87) is the smallest normal)
    flush = _FLUSH if dtype == np.float64 else -87.0
    cap = np.inf  # after an overflow, rows are capped at exp(30) for the rest of the stage
    left = max_iter
    # float32 passes: scalings kept below exp(40) and the iterations over-relaxed (see the
    # constants); the float64 stage is plain Sinkhorn with the float64 bound
    absorb, omega = (_ABSORB, 1.0) if dtype == np.float64 else (_ABSORB32, _OMEGA)
    while True:
        compiled.kernel_exponents(cost, f, g, reg, flush, cap, kernel)
        with np.errstate(over="ignore"):  # an overflow is caught below (OVERFLOW)
            np.exp(kernel, out=kernel)
        code, used = compiled.iterate(cost, a, b, reg, f, g, lu, lv, kernel, state, tol, left,
                                      absorb, omega)
        left -= used
        if code == compiled.OVERFLOW and cap == np.inf:
            cap = 30.0
        elif code == compiled.OVERFLOW:  # not from the kernel (capped rows are <= 1): give up
            return f + reg * lu, g + reg * lv, False
        elif code != compiled.REBUILD or left <= 0:
            return f + reg * lu, g + reg * lv, code == compiled.CONVERGED


def _sinkhorn(cost: np.ndarray, a: np.ndarray, b: np.ndarray, reg: float, *, tol: float,
              max_iter: int, f: np.ndarray | None = None,
              g: np.ndarray | None = None, engine: str = "numpy",
              work: dict | None = None) -> _Solution:
    """Entropic OT between positive weights a (n,) and b (m,) (each summing to 1), cost (n, m).

    Algorithm
    1. Cold start (no f, g): anneal lambda = max(C), max(C)/10, ..., down to ``reg``, each
       stage warm-started by the last and solved to ``_STAGE_TOL`` (the compiled engine
       starts at max(C) * ``_FIRST_COMPILED``). Warm start: ``reg`` only.
    2. Each stage: stabilised log-domain Sinkhorn (:func:`_stage`).
    3. The value is the dual objective <a, f> + <b, g> (after a Sinkhorn half-step the plan
       has total mass 1, so the exponential term of the dual is constant). A cost that is 0
       everywhere gives 0 exactly (f = g = 0 are optimal).

    ``engine="numba"``: every stage by the compiled kernels with a float32 Gibbs kernel
    (float32 passes, float64 potentials), then one more stage at ``reg`` with a float64
    kernel from that optimum (a few iterations): the value is that of the float64 problem to
    ``tol``. ``work``: a dict of reusable buffers (see :func:`_buffer`).
    """
    top = float(cost.max())
    if top <= 0 and not cost.any():  # the independent coupling costs nothing: OT = 0 exactly
        return _Solution(0.0, np.zeros(a.size), np.zeros(b.size), True)
    if f is None or g is None:
        f, g = np.zeros(a.size), np.zeros(b.size)
        stages = []
        lam = max(top * (1.0 if engine == "numpy" else _FIRST_COMPILED), reg)
        while lam > reg:
            stages.append(lam)
            lam *= _SCALING
        stages.append(reg)
    else:
        stages = [reg]
    converged = True
    for lam in stages:
        final = lam == stages[-1]
        if engine == "numpy":
            f, g, converged = _stage(cost, a, b, lam, f, g, tol if final else _STAGE_TOL,
                                     max_iter)
        else:
            f, g, converged = _stage_compiled(cost, a, b, lam, f, g,
                                              tol if final else _STAGE_TOL, max_iter,
                                              np.float32, _buffer(work, cost.shape, np.float32))
    if engine != "numpy":  # from the float32 optimum, a few float64 iterations to tol
        f, g, converged = _stage_compiled(cost, a, b, reg, f, g, tol, max_iter, np.float64,
                                          _buffer(work, cost.shape, np.float64))
    # the entropic OT is >= 0; a dual value a hair below 0 is rounding
    return _Solution(max(float(a @ f + b @ g), 0.0), f, g, converged)


def _buffer(work: dict | None, shape: tuple[int, ...], dtype: type,
            name: str = "kernel") -> np.ndarray | None:
    """A reusable array from ``work`` (None: no reuse, the caller allocates)."""
    if work is None:
        return None
    key = (name, shape, np.dtype(dtype).str)
    if key not in work:
        work[key] = np.empty(shape, dtype=dtype)
    return work[key]


def _sinkhorn_replicates(cost: np.ndarray, kernel: np.ndarray, point: _Solution,
                         wa: np.ndarray, wb: np.ndarray, reg: float, tol: float,
                         max_iter: int) -> tuple[np.ndarray, int]:
    """Entropic OT of b weighted problems sharing one cost, warm-started from ``point``.

    Parameters
    ----------
    cost : (n, m); kernel : (n, m), the Gibbs kernel absorbed at ``point``'s potentials.
    wa, wb : (b, n) and (b, m) weights of each replicate.

    Returns
    -------
    values : (b,) and the number of replicates that hit ``max_iter``.

    Notes
    -----
    All replicates iterate together as matrix-matrix products with the shared kernel; a
    replicate leaves the batch when it has converged (so its result does not depend on the
    others). One whose scalings leave the safe range is solved alone by :func:`_sinkhorn`,
    which re-absorbs its own kernel.
    """
    count = wa.shape[0]
    values = np.full(count, np.nan)
    alone = np.zeros(count, dtype=bool)
    active = np.arange(count)
    wa_t, wb_t = np.ascontiguousarray(wa.T), np.ascontiguousarray(wb.T)  # (n, b), (m, b)
    lu, lv = np.zeros(wa_t.shape), np.zeros(wb_t.shape)
    stop = _Stopper(tol, count)
    for _ in range(max_iter):
        a_t, b_t = wa_t[:, active], wb_t[:, active]
        kv = kernel @ (b_t * np.exp(lv))
        with np.errstate(divide="ignore", over="ignore"):
            lu = np.where(a_t > 0, -np.log(kv), 0.0)
            ku = kernel.T @ (a_t * np.exp(lu))
            lv = np.where(b_t > 0, -np.log(ku), 0.0)
        value = wa[active] @ point.f + wb[active] @ point.g \
            + reg * ((a_t * lu).sum(axis=0) + (b_t * lv).sum(axis=0))
        unsafe = ~(np.abs(lu).max(axis=0) <= _ABSORB) | ~(np.abs(lv).max(axis=0) <= _ABSORB)
        done = stop.update(value) & ~unsafe
        values[active[done]] = value[done]
        alone[active[unsafe]] = True
        keep = ~(done | unsafe)
        active, lu, lv = active[keep], lu[:, keep], lv[:, keep]
        stop.keep(keep)
        if active.size == 0:
            break
    values[active] = stop.value  # hit max_iter: the last dual value
    stuck = active.size
    for r in np.flatnonzero(alone):  # on the items the replicate drew
        rows, cols = wa[r] > 0, wb[r] > 0
        sol = _sinkhorn(cost[np.ix_(rows, cols)], wa[r, rows], wb[r, cols], reg, tol=tol,
                        max_iter=max_iter, f=point.f[rows], g=point.g[cols])
        values[r] = sol.value
        stuck += not sol.converged
    return values, stuck


def _warn_stuck(count: int, total: int, max_iter: int) -> None:
    if count:
        warnings.warn(
            f"{count} of {total} Sinkhorn problem(s) stopped at max_iter = {max_iter} before "
            "reaching tol; their OT values are lower bounds (dual values). Raise max_iter, "
            "loosen tol, or raise reg",
            ConvergenceWarning,
            stacklevel=3,
        )


# ----------------------------------------------------------------------------- two samples

def entropic_ot(x: object, y: object, *, power: int = 2, smooth: float | None = None,
                reg: float = DEFAULT_REG, normalise: bool = True, tol: float = DEFAULT_TOL,
                max_iter: int = DEFAULT_MAX_ITER) -> float:
    """Entropic OT violation cost ``OT(P, Q)`` of sample x (P) against sample y (Q).

    ``OT(P, Q) = min_pi E_pi sum_d h(Y_d - X_d) + reg KL(pi | P x Q)`` over couplings pi of the
    empirical measures (uniform weights). With the hinge, 0 means X dominates Y at first order
    (with reg > 0: only when every x is componentwise >= every y).

    Parameters
    ----------
    x, y : array, shape (n, d) and (m, d)
        Metric vectors of the items, higher is better in every metric (1-D: one metric).
    power : {1, 2}
        Exponent of the hinge.
    smooth : float, optional
        None: hinge ``max(t, 0)``; beta > 0: ``softplus_beta(t) = log(1 + e^{beta t}) / beta``.
    reg : float
        Entropic regularisation lambda > 0, in units of the cost.
    normalise : bool
        Map each metric through the ECDF pooled over x and y (METHOD.md 9.1) first (default).
    tol : float
        Relative accuracy of the value.
    max_iter : int
        Cap on the Sinkhorn iterations per annealing stage.

    Returns
    -------
    float
    """
    power, smooth, reg = _check_power(power), _check_smooth(smooth), _check_reg(reg)
    tol, max_iter = _check_tol(tol), _check_max_iter(max_iter)
    x, y = _pair(x, y, normalise)
    sol = _sinkhorn(_cost(x, y, power, smooth), np.full(x.shape[0], 1.0 / x.shape[0]),
                    np.full(y.shape[0], 1.0 / y.shape[0]), reg, tol=tol, max_iter=max_iter)
    _warn_stuck(int(not sol.converged), 1, max_iter)
    return sol.value


def ot_violation_ratio(x: object, y: object, *, power: int = 2, smooth: float | None = None,
                       reg: float = DEFAULT_REG, normalise: bool = True,
                       tol: float = DEFAULT_TOL, max_iter: int = DEFAULT_MAX_ITER) -> float:
    """Multivariate violation ratio ``eps(X, Y) = OT(P, Q) / (OT(P, Q) + OT(Q, P))``.

    Small means X almost dominates Y at first order in all metrics jointly; 0.5 is no
    preference, and ``eps(X, Y) + eps(Y, X) = 1``. Parameters as :func:`entropic_ot`.

    Notes
    -----
    1. Normalise each metric by the ECDF pooled over both samples (unless ``normalise=False``).
    2. Cost matrices ``C[s, t] = sum_d h(y_t,d - x_s,d)`` and the reverse.
    3. Entropic OT of each by Sinkhorn (:func:`entropic_ot`); the ratio. Both OT values are 0
       only when all points coincide: then eps = 0.5 with a DegenerateDataWarning.

    With one metric, ``power=2``, the hinge and reg -> 0 this is eps_1 of METHOD.md section 3
    (:func:`riskbench.violation_ratio` with ``order=1``); the difference is at most
    ``reg log(n) / (OT(P, Q) + OT(Q, P))`` in relative terms.
    """
    power, smooth, reg = _check_power(power), _check_smooth(smooth), _check_reg(reg)
    tol, max_iter = _check_tol(tol), _check_max_iter(max_iter)
    x, y = _pair(x, y, normalise)
    a, b = np.full(x.shape[0], 1.0 / x.shape[0]), np.full(y.shape[0], 1.0 / y.shape[0])
    forward = _sinkhorn(_cost(x, y, power, smooth), a, b, reg, tol=tol, max_iter=max_iter)
    backward = _sinkhorn(_cost(y, x, power, smooth), b, a, reg, tol=tol, max_iter=max_iter)
    _warn_stuck(int(not forward.converged) + int(not backward.converged), 2, max_iter)
    total = forward.value + backward.value
    if total <= 0:
        warnings.warn("x and y are one and the same point repeated: their violation ratio is "
                      "undefined and set to 0.5", DegenerateDataWarning, stacklevel=2)
        return 0.5
    return forward.value / total


# ----------------------------------------------------------------------------- k models

@dataclass(frozen=True, eq=False)
class MultivariatePortfolio:
    """k models' metric vectors on a common scale, and the settings of their OT comparison.

    Mirrors :class:`riskbench.portfolio.Portfolio` so rankings, reports and the CLI can show it:
    ``normalised`` (k, n, N) are the pooled-ECDF scores in (0, 1]; ``scores`` (k, n) is only a
    display summary (the per-item mean of the normalised metrics: the mean and TVaR columns of
    a ranking); the tests use the whole vectors. ``weights`` are the metrics' weights in the
    cost (all 1: the cost is a plain sum over metrics).
    """

    models: tuple[str, ...]
    items: tuple[str, ...]
    metrics: tuple[str, ...]
    normalised: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    power: int = 2
    smooth: float | None = None
    reg: float = DEFAULT_REG
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    kind: str = MULTIVARIATE
    clusters: np.ndarray | None = field(default=None, repr=False)  # of each item, or None

    @property
    def name(self) -> str:
        return f"portfolio:{self.kind}"

    def cost_words(self) -> str:
        hinge = "max(t, 0)" if self.smooth is None else f"softplus_{self.smooth:g}(t)"
        return f"sum over metrics of {hinge}{'^2' if self.power == 2 else ''}"

    def describe(self) -> str:
        parts = [f"{m} ({'higher' if self.higher_is_better.get(m, True) else 'lower'} is better)"
                 for m in self.metrics]
        return (f"multivariate first-order dominance by entropic optimal transport (cost "
                f"{self.cost_words()}, lambda = {self.reg:g}) of {', '.join(parts)}; mean and "
                "TVaR are of the per-item mean of the normalised metrics")

    def samples(self, metric: str | None = None) -> Samples:
        """The display summary as aligned samples (higher is better)."""
        return Samples(self.models, tuple(self.scores), True, self.name, True, self.items,
                       self.clusters)

    def to_frame(self):
        """Long table: model, item, display score and each normalised metric."""
        return scores_frame(self)


def _as_cube(data: object) -> MetricCube:
    if isinstance(data, MetricCube):
        return data
    if hasattr(data, "cube") and callable(data.cube):
        return data.cube()
    try:
        values = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 3:
        shape = getattr(values, "shape", None)
        raise InputError(
            "scores must be a ScoreTable, a MetricCube or an array of shape (models, items, "
            f"metrics); got {type(data).__name__}" + (f" of shape {shape}" if shape else "")
        )
    k, n, n_metrics = values.shape
    return MetricCube(tuple(f"model_{a}" for a in range(k)), tuple(str(t) for t in range(n)),
                      tuple(f"metric_{u}" for u in range(n_metrics)), values)


def build_multivariate(data: object, *, power: int = 2, smooth: float | None = None,
                       reg: float = DEFAULT_REG) -> MultivariatePortfolio:
    """Normalise k models' metrics for the multivariate comparison (METHOD.md 9.1 and 13).

    Parameters
    ----------
    data : ScoreTable, MetricCube or array (models, items, metrics)
        Oriented scores (higher is better in every metric; a ScoreTable orients them). Arrays
        are taken as higher-is-better.
    power, smooth, reg
        Settings of the violation cost and the entropic regularisation, as
        :func:`entropic_ot`; recorded for :func:`multivariate_bootstrap`.

    Returns
    -------
    MultivariatePortfolio
    """
    power, smooth, reg = _check_power(power), _check_smooth(smooth), _check_reg(reg)
    cube = _as_cube(data)
    k, n, n_metrics = cube.values.shape
    if k < 2:
        raise InputError(f"need at least 2 models to compare; got {k}")
    if len(set(cube.models)) != k:
        raise InputError(f"model names must be unique; got {list(cube.models)}")
    if n == 0 or n_metrics == 0:
        raise InputError(f"no scores: {n} items and {n_metrics} metrics")
    # +-inf (kept by the readers as the worst or best outcome) are fine: the pooled ECDF
    # below ranks them at the bottom and the top (ties at the extreme); NaN has no rank
    bad = np.isnan(cube.values)
    if bad.any():
        a, t, u = (int(i[0]) for i in np.nonzero(bad))
        raise InputError(f"{int(bad.sum())} NaN score(s), e.g. model {cube.models[a]!r}, item "
                         f"{cube.items[t]!r}, metric {cube.metrics[u]!r}; drop or fix them "
                         "first")
    normalised = (cube_ranks(cube) / (k * n)).reshape(
        k, n, n_metrics)
    return MultivariatePortfolio(cube.models, cube.items, cube.metrics, normalised,
                                 normalised.mean(axis=2), np.ones(n_metrics), power, smooth,
                                 reg, dict(cube.higher_is_better), clusters=cube.clusters)


def _batches(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(total, start + size)


def _ratio(ot: np.ndarray) -> np.ndarray:
    """eps[..., i, j] = OT[i, j] / (OT[i, j] + OT[j, i]), 0/0 -> 0.5, NaN diagonal."""
    total = ot + np.swapaxes(ot, -1, -2)
    eps = np.divide(ot, total, out=np.full(ot.shape, 0.5), where=total > 0)
    k = ot.shape[-1]
    eps[..., np.arange(k), np.arange(k)] = np.nan
    return eps


def _identical(normalised: np.ndarray) -> np.ndarray:
    """(k, k) bool: models whose empirical joint distributions (multisets of rows) coincide."""
    k = normalised.shape[0]
    keys = []
    for v in normalised:
        rows = v[np.lexsort(v.T[::-1])]
        keys.append(rows.tobytes())
    return np.array([[i != j and keys[i] == keys[j] for j in range(k)] for i in range(k)])


def multivariate_bootstrap(data: object, *, power: int | None = None,
                           smooth: float | None = None, reg: float | None = None,
                           method: str = "linear", design: str = "paired",
                           n_resamples: int = 1000, seed: int | None = None,
                           batch: int | None = None, tol: float = DEFAULT_TOL,
                           max_iter: int = DEFAULT_MAX_ITER, backend: str = "auto",
                           progress: Progress | None = None) -> Bootstrap:
    """Multivariate violation ratios of k models and their bootstrap replicates.

    Parameters
    ----------
    data : ScoreTable, MetricCube, array (models, items, metrics) or MultivariatePortfolio
        Oriented scores of at least two models on the same items. A
        :class:`MultivariatePortfolio` (:func:`build_multivariate`) brings its own settings.
    power : {1, 2}, default 2
        Exponent of the hinge in the cost ``c(x, y) = sum_d h(y_d - x_d)``.
    smooth : float, optional
        None: hinge (default); beta > 0: smooth hinge ``softplus_beta``.
    reg : float, default :data:`DEFAULT_REG` (0.01)
        Entropic regularisation lambda, in cost units; every metric is on the pooled-ECDF scale
        (0, 1], so one metric adds at most 1 to the cost. Smaller is closer to unregularised OT
        (whose ratio has no central limit theorem in several dimensions) but slower to solve
        and pulls eps less towards 1/2: at 1,000 items and 8 metrics lambda = 0.01 keeps
        eps within 0.09 of its lambda -> 0 value for close models, and a solve takes 0.1-0.2 s.
    method : {"linear", "exact"}
        linear (default): first-order (delta-method) replicates through the dual potentials,
        ``OT_w = OT + sum_t (a_t - 1/n) f_t + sum_t (b_t - 1/n) g_t`` for resample weights a
        (model X) and b (model Y), clipped at 0. exact: Sinkhorn on every replicate,
        warm-started from the point estimate (10 to 100 times slower).
    design : {"paired", "independent"}
        paired (default): one resample of items shared by all models (a = b).
    n_resamples : int
        B, the number of bootstrap replicates.
    seed : int or None
        None draws a fresh seed, recorded in the result.
    batch : int, optional
        Replicates per batch (default up to 64). Results do not depend on it (exact method: to
        the tolerance).
    tol, max_iter
        Relative accuracy of every OT value and the cap on Sinkhorn iterations.
    backend : {"auto", "numba", "numpy"}
        numba (what "auto" picks; numba is a dependency): the compiled solver of
        :mod:`riskbench.backends._numba_ot`, float32 Gibbs kernels and passes and a
        float64 final stage, both costs of a pair in one pass. numpy: the plain reference
        solver. Both give the same eps to the solver tolerance (tests).
    progress : callable(done, total), optional
        Called after each pair of models.

    Returns
    -------
    Bootstrap
        ``order`` is 1 (first-order dominance); ``samples`` holds the display summary of
        :class:`MultivariatePortfolio`. Feed it to :func:`riskbench.inference.relative_test_from`
        or :func:`~riskbench.inference.absolute_test_from`.

    Notes
    -----
    1. Normalise every metric by its ECDF pooled over all models and items (section 9.1).
    2. Draw the resample indices of all replicates (:class:`riskbench.backends.Resampler`,
       the same streams as :func:`riskbench.bootstrap`) and turn them into weights counts / n:
       a resampled empirical measure is the original points with these weights.
    3. For each ordered pair (i, j): the cost matrix, the entropic OT by annealed, stabilised
       log-domain Sinkhorn, and its dual potentials (f, g).
    4. Replicates: linear, the first-order change of OT under the weights (the potentials are
       its gradient with respect to the weights); exact, Sinkhorn on each replicate with the
       pair's kernel, all replicates of a batch together, warm-started from (f, g).
    5. ``E[i, j] = OT[i, j] / (OT[i, j] + OT[j, i])`` for the data and each replicate; the
       one-versus-all means; the sd of E over replicates.
    Cost: O(k^2 n^2 N) for the cost matrices and O(k^2 n^2) per Sinkhorn iteration;
    the exact method multiplies the iterations by about B.

    The linear replicates agree with the exact ones to a few percent of the sd at the default
    lambda (first order in 1/sqrt(n); the error grows as lambda shrinks).

    References
    ----------
    Rioux et al., NeurIPS 2024 (CLT and bootstrap consistency of the entropic ratio).
    """
    target = _as_target(data, power, smooth, reg)
    method = _check_choice(method, "method", METHODS)
    samples = target.samples()
    design = _check_design(design, samples)
    n_resamples = _check_resamples(n_resamples)
    seed = _check_seed(seed)
    tol, max_iter = _check_tol(tol), _check_max_iter(max_iter)
    engine = _engine(backend)
    k, n, _ = target.normalised.shape
    if batch is None:
        batch = max(1, min(DEFAULT_BATCH_REPLICATES, DEFAULT_BATCH_ELEMENTS // (k * n)))
    elif isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InputError(f"batch must be a positive integer; got {batch!r}")
    if n < 2:
        warnings.warn(f"the models have only {n} item(s): every bootstrap replicate is the "
                      "same, so the tests have no power; score more items",
                      DegenerateDataWarning, stacklevel=2)
    same = _identical(target.normalised)
    if same.any():
        i, j = (int(v[0]) for v in np.nonzero(np.triu(same)))
        warnings.warn(f"{int(np.triu(same).sum())} pair(s) of models have identical joint "
                      f"score distributions, e.g. {target.models[i]!r} and "
                      f"{target.models[j]!r}: their violation ratio is set to 0.5 and no test "
                      "can separate them", DegenerateDataWarning, stacklevel=2)

    resampler = Resampler((n,) * k, design, seed, clusters=samples.clusters)
    batches = list(_batches(n_resamples, batch))
    uniform = np.full(n, 1.0 / n)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    ot = np.zeros((k, k))
    ot_reps = np.zeros((n_resamples, k, k))
    potentials = {}
    stuck = 0

    def solve_one(u: int, v: int, cost: np.ndarray):
        """OT(u -> v) of the data, and of each replicate with the exact method."""
        point = _sinkhorn(cost, uniform, uniform, target.reg, tol=tol, max_iter=max_iter,
                          engine=engine, work=_workspace())
        hits = int(not point.converged)
        if method == "linear":
            return point, None, hits
        kernel = _kernel(cost, point.f, point.g, target.reg)
        reps = np.empty(n_resamples)
        for start, stop in batches:
            w = weights[start, stop]
            reps[start:stop], hit = _sinkhorn_replicates(cost, kernel, point, w[u], w[v],
                                                         target.reg, tol, max_iter)
            hits += hit
        return point, reps, hits

    def solve(i: int, j: int):
        """Both directions of the pair i < j (their costs built in one pass when compiled)."""
        x, y = target.normalised[i], target.normalised[j]
        if engine == "numba" and target.smooth is None:
            from riskbench.backends._numba_ot import hinge_costs

            work = _workspace()
            c_ij, c_ji = hinge_costs(x, y, target.power, _buffer(work, (n, n), float, "c_ij"),
                                     _buffer(work, (n, n), float, "c_ji"))
        else:
            c_ij = _cost(x, y, target.power, target.smooth)
            c_ji = _cost(y, x, target.power, target.smooth)
        return solve_one(i, j, c_ij), solve_one(j, i, c_ji)

    local = threading.local()

    def _workspace() -> dict:
        """This thread's buffers: the costs and kernels of one pair at a time, reused."""
        if not hasattr(local, "work"):
            local.work = {}
        return local.work

    # the pairs are independent problems whose time goes into passes over their kernels
    # (numpy and the compiled kernels release the GIL there): solve them on all cores. Each
    # result depends only on its pair, so the numbers do not depend on the number of threads.
    weights = {} if method == "linear" else {  # drawn once, before any thread reads them
        (start, stop): _resample_weights(resampler, start, stop, k, n) for start, stop in batches}
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        for done, ((i, j), both) in enumerate(
                zip(pairs, pool.map(lambda ij: solve(*ij), pairs), strict=True), 1):
            for (u, v), (point, reps, hits) in zip(((i, j), (j, i)), both, strict=True):
                stuck += hits
                ot[u, v] = point.value
                if method == "linear":
                    potentials[u, v] = point
                else:
                    ot_reps[:, u, v] = reps
            if progress is not None:
                progress(done, len(pairs))
    if method == "linear":
        for start, stop in batches:
            w = _resample_weights(resampler, start, stop, k, n)
            ot_reps[start:stop] = _linear_replicates(ot, potentials, w, uniform, design, engine)
    _warn_stuck(stuck, k * (k - 1) * (1 + (method == "exact") * n_resamples), max_iter)

    eps_matrix = _ratio(ot)
    eps_matrix[same] = 0.5
    reps = _ratio(ot_reps)  # (B, k, k)
    sd = reps.std(axis=0, ddof=1)
    # the equality gate of every dominance claim (riskbench.equality): the smooth-test scores
    # of all metrics side by side, on the same resamples; equal joint laws have equal marginals
    metrics = target.normalised.shape[2]
    per_metric = [legendre_features([target.normalised[a, :, d] for a in range(k)])
                  for d in range(metrics)]
    equality = EqualityAccumulator(
        [np.concatenate([per_metric[d][a] for d in range(metrics)], axis=1) for a in range(k)],
        n_resamples)
    for start, stop in batches:
        equality.add(start, stop, resampler.counts(start, stop))
    return Bootstrap(samples=samples, order=1, design=design, n_resamples=n_resamples,
                     seed=seed, eps_matrix=eps_matrix, eps=one_vs_all(eps_matrix),
                     eps_replicates=one_vs_all(reps), eps_matrix_sd=sd,
                     equality_pvalue=equality.pvalues(n),
                     eps_matrix_logit_sd=logit_sd(reps, 0.5 / n))


def _engine(backend: object) -> str:
    """The solver a ``backend=`` value stands for: "numba" (compiled) or "numpy"."""
    backend = _check_choice(backend, "backend", ("auto", "numba", "numpy"))
    if backend == "numpy":
        return "numpy"
    from riskbench.backends import available

    if available("numba"):
        return "numba"
    if backend == "numba":
        raise InputError("backend='numba' needs numba, which is not installed: pip install "
                         "numba (or pass backend='numpy')")
    return "numpy"


def _linear_replicates(ot: np.ndarray, potentials: dict, w: list[np.ndarray],
                       uniform: np.ndarray, design: str, engine: str) -> np.ndarray:
    """OT of each replicate to first order, (b, k, k): ``OT + (w_u - 1/n) f + (w_v - 1/n) g``.

    ``w`` holds each model's weights (b, n) for the batch. Every entry is a sum over the items
    on its own (never a matrix product, which may round a row differently in another shape),
    so the numbers do not depend on the batch size.
    """
    k = ot.shape[0]
    out = np.zeros((w[0].shape[0], k, k))
    order = list(potentials)
    if engine == "numpy":
        for u, v in order:
            point = potentials[u, v]
            delta = np.einsum("rt,t->r", w[u] - uniform, point.f) \
                + np.einsum("rt,t->r", w[v] - uniform, point.g)
            out[:, u, v] = np.maximum(point.value + delta, 0.0)
        return out
    from riskbench.backends._numba_ot import linear_deltas

    values = np.array([potentials[uv].value for uv in order])
    rows, cols = np.array([uv[0] for uv in order]), np.array([uv[1] for uv in order])
    if design == "paired":  # one weight vector for both models: one sum with f + g
        stacked = np.stack([potentials[uv].f + potentials[uv].g for uv in order])
        delta = np.empty((w[0].shape[0], len(order)))
        linear_deltas(w[0], uniform, stacked, delta)
    else:
        delta = np.zeros((w[0].shape[0], len(order)))
        for a in range(k):  # model a's weights multiply f where a is first, g where second
            for side, mine in (("f", rows == a), ("g", cols == a)):
                if mine.any():
                    stacked = np.stack([getattr(potentials[order[p]], side)
                                        for p in np.flatnonzero(mine)])
                    part = np.empty((w[a].shape[0], stacked.shape[0]))
                    linear_deltas(w[a], uniform, stacked, part)
                    delta[:, mine] += part
    out[:, rows, cols] = np.maximum(values + delta, 0.0)
    return out


def _threads() -> int:
    """Worker threads for the pairs: the usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _resample_weights(resampler: Resampler, start: int, stop: int, k: int,
                      n: int) -> list[np.ndarray]:
    """Each model's resample weights counts / size, (b, n), for replicates start..stop-1: the
    size is n, or with clusters of unequal sizes the number of items the drawn clusters hold."""
    counts = resampler.counts(start, stop)
    if resampler.clusters is not None:
        counts = [c / c.sum(axis=1, keepdims=True) for c in counts]
        return counts * k if len(counts) == 1 else counts
    if len(counts) == 1:  # paired: one resample of items for every model
        return [counts[0] / n] * k
    return [c / n for c in counts]


def _as_target(data: object, power: object, smooth: object,
               reg: object) -> MultivariatePortfolio:
    if isinstance(data, MultivariatePortfolio):
        given = [name for name, value in (("power", power), ("smooth", smooth), ("reg", reg))
                 if value is not None]
        if given:
            raise InputError(f"{', '.join(given)} come(s) from the MultivariatePortfolio passed "
                             "as data; set them in build_multivariate instead")
        return data
    return build_multivariate(data, power=2 if power is None else power, smooth=smooth,
                              reg=DEFAULT_REG if reg is None else reg)
