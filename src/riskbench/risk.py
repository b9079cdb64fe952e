"""Mean-risk scores (METHOD.md section 8), all consistent with second-order dominance.

Every score is ``mean - risk`` on the oriented scale (higher is better for every metric, since
lower-is-better metrics are negated first): if X dominates Y at second order, X's score is at
least Y's for each of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from riskbench._samples import as_samples
from riskbench.errors import InputError

__all__ = ["RISK_MEASURES", "mean_risk", "mean_risk_scores", "MeanRisk", "check_level"]

#: Names of the mean-risk scores, in display order.
RISK_MEASURES = ("mean", "abs_semidev", "std_semidev", "gini", "tvar", "tail_gini")

DESCRIPTIONS = {
    "mean": "mean",
    "abs_semidev": "mean - E(mean - X)_+ (absolute semideviation)",
    "std_semidev": "mean - sqrt(E(mean - X)_+^2) (standard semideviation)",
    "gini": "mean - Gini half mean difference",
    "tvar": "TVaR_p: mean of the worst p-fraction",
    "tail_gini": "tail Gini (2/beta^2) * int_0^beta G(p) dp",
}


def check_level(value: object, name: str) -> float:
    """A risk level in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise InputError(f"{name} must be a number in (0, 1]; got {value!r}")
    return float(value)


def _lorenz_at(xs: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray, int, float]:
    """G_n at p for sorted samples xs (..., n): returns (G(p), cumsum/n, r, delta)."""
    n = xs.shape[-1]
    g = np.cumsum(xs, axis=-1) / n  # G(s/n), s = 1..n
    r = min(int(np.floor(p * n)), n - 1)
    delta = p - r / n  # in [0, 1/n]
    below = g[..., r - 1] if r > 0 else np.zeros(xs.shape[:-1])
    return below + delta * xs[..., r], g, r, delta


def mean_risk_scores(xs: np.ndarray, *, p: float = 0.05,
                     beta: float = 0.05) -> dict[str, np.ndarray]:
    """All mean-risk scores of sorted samples.

    Parameters
    ----------
    xs : ndarray, shape (..., n)
        Samples sorted ascending along the last axis.
    p : float
        Level of TVaR_p (mean of the worst p-fraction).
    beta : float
        Level of the tail Gini score.

    Returns
    -------
    dict
        ``{name: ndarray of shape (...)}`` for every name in :data:`RISK_MEASURES`.

    Notes
    -----
    1. mean mu; semideviations from (mu - x)_+.
    2. Gini half mean difference ``(1/n^2) sum_r (2r - n - 1) x_(r)``.
    3. G_n is piecewise linear through (s/n, cumsum/n): TVaR_p = G(p)/p exactly, and
       ``int_0^beta G`` is the trapezoid sum up to the last knot below beta plus the exact
       partial segment ``G_r delta + x_(r+1) delta^2 / 2``.
    """
    # every score is positively homogeneous (score(c x) = c score(x), c > 0): compute on data
    # scaled by a power of two (exact) so that huge or tiny scores neither overflow nor vanish
    peak = float(np.max(np.abs(xs))) if xs.size else 0.0
    e = int(np.frexp(peak)[1]) if 0.0 < peak < np.inf else 0  # peak 2^-e in [1/2, 1)
    down, up = (np.ldexp(1.0, -e // 2), np.ldexp(1.0, -e - (-e // 2))), \
        (np.ldexp(1.0, e // 2), np.ldexp(1.0, e - e // 2))  # two factors: none overflows
    scores = _scores(xs * down[0] * down[1], p, beta)
    with np.errstate(over="ignore"):  # a score beyond the float range is inf, as it should
        return {name: value * up[0] * up[1] for name, value in scores.items()}


def _scores(xs: np.ndarray, p: float, beta: float) -> dict[str, np.ndarray]:
    n = xs.shape[-1]
    mu = xs.mean(axis=-1)
    short = np.maximum(mu[..., None] - xs, 0.0)
    ranks = 2.0 * np.arange(1, n + 1) - n - 1
    gini = xs @ ranks / n**2
    g_p, _, _, _ = _lorenz_at(xs, p)
    g_b, g, r, delta = _lorenz_at(xs, beta)
    knots = np.concatenate([np.zeros(xs.shape[:-1] + (1,)), g[..., :r]], axis=-1)  # G(0..r/n)
    area = (knots[..., :-1] + knots[..., 1:]).sum(axis=-1) / (2 * n)
    g_r = knots[..., -1]
    area = area + g_r * delta + xs[..., r] * delta**2 / 2
    return {
        "mean": mu,
        "abs_semidev": mu - short.mean(axis=-1),
        "std_semidev": mu - np.sqrt((short**2).mean(axis=-1)),
        "gini": mu - gini,
        "tvar": g_p / p,
        "tail_gini": 2.0 * area / beta**2,
    }


@dataclass(frozen=True, eq=False)
class MeanRisk:
    """Mean-risk scores of k models on one metric (oriented: higher is better)."""

    models: tuple[str, ...]
    scores: dict[str, np.ndarray] = field(repr=False)
    p: float
    beta: float
    metric: str | None = None
    higher_is_better: bool = True

    def to_frame(self):
        """One row per model; one column per score."""
        import pandas as pd

        frame = pd.DataFrame({"model": list(self.models)})
        for name in RISK_MEASURES:
            frame[name] = self.scores[name]
        return frame


def mean_risk(data: object, *, metric: str | None = None, p: float = 0.05,
              beta: float = 0.05) -> MeanRisk:
    """Mean-risk scores of every model (METHOD.md section 8).

    Parameters
    ----------
    data : ScoreTable, mapping {model: scores}, or array (models x items, or one 1-D sample)
    metric : str, optional
        Which metric of a ScoreTable; may be omitted when it has one metric.
    p : float
        Level of TVaR_p. ``beta``: level of the tail Gini score.

    Returns
    -------
    MeanRisk
        Scores on the oriented scale: lower-is-better metrics were negated, so for every
        metric and every score, higher is better.
    """
    p = check_level(p, "p")
    beta = check_level(beta, "beta")
    samples = as_samples(data, metric=metric, min_models=1)
    per_model = [mean_risk_scores(np.sort(v), p=p, beta=beta) for v in samples.values]
    scores = {name: np.array([float(s[name]) for s in per_model]) for name in RISK_MEASURES}
    return MeanRisk(samples.models, scores, p, beta, samples.metric, samples.higher_is_better)
