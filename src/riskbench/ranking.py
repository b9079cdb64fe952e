"""From pairwise tests to an honest ranking (METHOD.md 7): wins, simultaneous rank confidence
intervals, the top set, a compact letter display, and an order the data cannot contradict."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from riskbench._samples import Samples, as_samples
from riskbench.errors import InputError, RiskbenchWarning, option_hint
from riskbench.inference import (
    CORRECTIONS,
    PairwiseTest,
    Progress,
    _check_alpha,
    _check_choice,
    _check_eps0,
    absolute_test_from,
    bootstrap,
    identical_pairs,
    relative_eps,
    relative_test_from,
    score_test_from,
)
from riskbench.multivariate import MULTIVARIATE, MultivariatePortfolio, build_multivariate
from riskbench.multivariate import multivariate_bootstrap as _multivariate_bootstrap
from riskbench.portfolio import PORTFOLIOS, Portfolio
from riskbench.portfolio import build_portfolio as make_portfolio
from riskbench.risk import RISK_MEASURES, check_level, mean_risk_scores

__all__ = ["Ranking", "BordaRanking", "borda", "rank", "tie_groups", "compact_letters",
           "rank_intervals", "empirical_fsd", "TESTS", "CRITERIA", "NO_DECISION"]

TESTS = ("relative", "absolute")
CRITERIA = ("dominance",) + RISK_MEASURES
#: What every output says when no test separates any two models.
NO_DECISION = "no decision: the data do not separate these models"


def rank_intervals(reject: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank confidence intervals from pairwise decisions (Mogstad, Romano, Shaikh & Wilhelm).

    Model i's rank lies in ``[1 + #{j : j beats i}, k - #{j : i beats j}]``. When the decisions
    control the family-wise error at alpha over all ordered pairs (Bonferroni, Holm), every
    claim is true with probability >= 1 - alpha, and then every model's true rank (1 + the
    number of models truly better) is inside its interval, for all models at once.

    Parameters
    ----------
    reject : (k, k) bool, ``reject[i, j]``: i significantly better than j.

    Returns
    -------
    low, high : (k,) int, in the models' order.

    References
    ----------
    Mogstad, Romano, Shaikh and Wilhelm, "Inference for Ranks with Applications to Mobility
    across Neighbourhoods and Academic Achievement across Countries", Review of Economic
    Studies 91 (2024), 476-518.
    """
    k = reject.shape[0]
    return 1 + reject.sum(axis=0), k - reject.sum(axis=1)


NO_LETTERS = "-"  # every model's letters when the display would need too many


def _letters_or_dash(order: np.ndarray, separated: np.ndarray) -> tuple[str, ...]:
    letters = compact_letters(order, separated, max_letters=LETTERS_MAX)
    return (NO_LETTERS,) * order.size if letters is None else letters


def _letter(index: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if index < len(alphabet):
        return alphabet[index]
    return alphabet[index % len(alphabet)] + str(index // len(alphabet))


#: Most letters a display may need before it is given up: beyond a few alphabets it is
#: unreadable, and the insert-and-absorb algorithm can need exponentially many (500 models
#: with 172 scattered separated pairs took 220 s before this cap).
LETTERS_MAX = 260


def compact_letters(order: np.ndarray, separated: np.ndarray, *,
                    max_letters: int | None = LETTERS_MAX) -> tuple[str, ...] | None:
    """Compact letter display: models that share a letter are not separated by any test.

    Insert-and-absorb algorithm (Piepho 2004): start with one letter shared by all models; for
    each separated pair, split every letter that holds both into two (one without each model)
    and drop letters whose models are a subset of another letter's. At the end two models share
    a letter exactly when no test separates them... up to the cover: every pair that is not
    separated shares at least one letter, and no separated pair shares any. Letters are named
    in rank order (the first model's letters first).

    Parameters
    ----------
    order : (k,) model indices in rank order.
    separated : (k, k) bool, symmetric: a test decided between the two models.

    Returns
    -------
    tuple of str, aligned with ``order``; None when more than ``max_letters`` letters would
    be needed (None: no limit).

    References
    ----------
    Piepho, "An algorithm for a letter-based representation of all-pairwise comparisons",
    Journal of Computational and Graphical Statistics 13 (2004), 456-466.
    """
    k = order.size
    sep = separated[np.ix_(order, order)]  # in rank positions
    columns = [(1 << k) - 1]  # bit p: the model at rank position p holds the letter
    for i, j in zip(*np.nonzero(np.triu(sep, 1)), strict=True):
        bi, bj = 1 << int(i), 1 << int(j)
        both = bi | bj
        hit = [c for c in columns if c & both == both]
        if not hit:  # no letter holds both: nothing to split
            continue
        rest = [c for c in columns if c & both != both]
        # Only the new letters can be absorbed: the others were no subset of one another
        # before, and a new letter is a subset of the letter it came from (so an old letter
        # inside a new one would have been inside that one). Same letters as absorbing all.
        new = sorted({c & ~bi for c in hit} | {c & ~bj for c in hit}, key=lambda c: -c.bit_count())
        kept: list[int] = []
        for c in new:
            if not any(c & d == c for d in rest) and not any(c & d == c for d in kept):
                kept.append(c)
        columns = rest + kept
        if max_letters is not None and len(columns) > max_letters:
            return None
    columns.sort(key=lambda c: [p for p in range(k) if c >> p & 1])
    letters = [""] * k
    for name, c in enumerate(columns):
        for p in range(k):
            if c >> p & 1:
                letters[p] += _letter(name)
    return tuple(letters)


def empirical_fsd(samples: Samples, *, chunk: int = 1 << 22) -> np.ndarray:
    """(k, k) bool: model i's empirical distribution first-order dominates model j's.

    Every sample quantile of i is at least j's and some is higher (identical distributions do
    not dominate each other). Sizes may differ: quantile functions are compared on the union
    of both breakpoint sets.
    """
    from riskbench.dominance import union_grid

    k = samples.k
    ordered = [np.sort(np.asarray(v, dtype=float)) for v in samples.values]
    out = np.zeros((k, k), dtype=bool)
    if len({v.size for v in ordered}) == 1:
        s = np.stack(ordered)  # (k, n)
        rows = max(1, chunk // max(1, k * s.shape[1]))
        for lo in range(0, k, rows):
            a = s[lo:lo + rows, None, :]
            out[lo:lo + rows] = (a >= s[None]).all(axis=2) & (a > s[None]).any(axis=2)
        return out
    for i in range(k):
        for j in range(k):
            if i != j:
                ix, iy, _ = union_grid(ordered[i].size, ordered[j].size)
                a, b = ordered[i][ix], ordered[j][iy]
                out[i, j] = bool((a >= b).all() and (a > b).any())
    return out


def _consistent_order(keys: list[tuple], fsd: np.ndarray) -> np.ndarray:
    """Model indices sorted by ``keys`` but never placing a model below one it dominates.

    A linear extension of the empirical first-order dominance order: repeatedly take, among the
    models that no remaining model dominates, the one with the smallest key.
    """
    k = len(keys)
    remaining = np.ones(k, dtype=bool)
    out = []
    for _ in range(k):
        free = remaining & ~(fsd & remaining[:, None]).any(axis=0)
        a = min(np.flatnonzero(free), key=lambda x: keys[x])
        out.append(a)
        remaining[a] = False
    return np.array(out, dtype=int)


def _mid_ranks(order: np.ndarray, twins: np.ndarray) -> np.ndarray:
    """(k,) ranks in rank order where models with identical distributions share the mean of
    their positions (they are adjacent in ``order``)."""
    k = order.size
    out = np.arange(1, k + 1, dtype=float)
    pos = 0
    while pos < k:
        end = pos + 1
        while end < k and twins[order[pos], order[end]]:
            end += 1
        out[pos:end] = (pos + 1 + end) / 2.0
        pos = end
    return out


def tie_groups(order: np.ndarray, reject: np.ndarray) -> np.ndarray:
    """Tie groups along a ranked order: contiguous runs that no test separates.

    Walk the models in rank order; a model joins the current group unless a test separates it
    from some model already in the group (either direction), in which case it opens a new group.
    Within a group no pair is significantly different; each group after the first holds a
    model separated from some model of the group before it.

    Parameters
    ----------
    order : (k,) model indices in rank order.
    reject : (k, k) bool, ``reject[i, j]``: i significantly better than j.

    Returns
    -------
    (k,) int group labels 1, 2, ... aligned with ``order``.
    """
    separated = reject | reject.T
    labels = np.empty(order.size, dtype=int)
    group, members = 0, []
    for pos, m in enumerate(order):
        if not members or separated[m, members].any():
            group += 1
            members = []
        members.append(m)
        labels[pos] = group
    return labels


@dataclass(frozen=True, eq=False)
class Ranking:
    """A risk-aware ranking of k models with simultaneous rank confidence intervals.

    Per-model arrays are in rank order (``models[0]`` is first). ``test`` holds the pairwise
    test in the input order of models; ``decisions`` and ``pvalues`` are its matrices
    re-ordered to rank order (row i, column j: "model i beats model j").

    The order: by wins (models significantly beaten), then eps_i (or the score), then name; a
    model whose empirical distribution first-order dominates another's is never placed below
    it, and models with identical distributions share a mid-rank (``rank``).

    What the data back (for #14 and every output):

    * ``rank_low``, ``rank_high``: rank confidence intervals ``[1 + #beaten by, k - #beats]``
      (:func:`rank_intervals`), simultaneous at ``1 - alpha`` when ``test.simultaneous``
      (Bonferroni or Holm); under BH they carry no guarantee and ``interval_level`` is None.
    * ``top_set``: the models whose interval starts at 1, a confidence set for the best model
      (None under BH, which gives no such guarantee; ``best_set`` is then only "not beaten by
      any discovery").
    * ``letters``: compact letter display; models sharing a letter are not separated.
    * ``no_decision``: no pair is separated (``NO_DECISION`` is what outputs say).
    * ``test.decided_by``, ``test.explain(i, j)``: which test decided each pair.
    """

    models: tuple[str, ...]
    eps: np.ndarray = field(repr=False)
    eps_sd: np.ndarray = field(repr=False)
    wins: np.ndarray = field(repr=False)
    group: np.ndarray = field(repr=False)
    mean: np.ndarray = field(repr=False)
    tvar: np.ndarray = field(repr=False)
    score: np.ndarray | None = field(repr=False)
    best_set: tuple[str, ...]
    test: PairwiseTest = field(repr=False)
    metric: str | None
    higher_is_better: bool
    criterion: str
    p: float
    n_items: tuple[int, ...]
    _perm: np.ndarray = field(repr=False)
    portfolio: Portfolio | MultivariatePortfolio | None = field(default=None, repr=False)
    samples: Samples | None = field(default=None, repr=False)  # the data ranked (oriented)
    input_sha256: str | None = None  # checksum of the table ranked, when known
    rank_low: np.ndarray | None = field(default=None, repr=False)
    rank_high: np.ndarray | None = field(default=None, repr=False)
    letters: tuple[str, ...] = ()
    rank_mid: np.ndarray | None = field(default=None, repr=False)
    fsd_checked: bool = True  # False: the order was not checked against empirical FSD

    @property
    def seed(self) -> int:
        return self.test.seed

    @property
    def h0(self) -> str:
        return self.test.h0

    @property
    def order(self) -> int | None:
        return self.test.order

    @property
    def resampling(self) -> dict[str, object]:
        """What the bootstrap resampled: ``{"unit": "item"}``, ``{"unit": "cluster",
        "clusters": C}`` (METHOD.md 14: whole clusters of items) or ``{"unit": "two-stage",
        "items": I}`` (items, then each model's generations of them)."""
        s = self.samples
        if s is not None and s.clusters is not None:
            return {"unit": "cluster", "clusters": int(np.max(s.clusters)) + 1}
        if s is not None and s.groups is not None:
            return {"unit": "two-stage", "items": int(np.max(s.groups)) + 1}
        return {"unit": "item"}

    def bootstrap_words(self) -> str:
        """``paired bootstrap``, ``paired cluster bootstrap (8 clusters)``, ...: the design
        and what was resampled, for the terminal and the report."""
        how = self.resampling
        design = self.test.design
        if how["unit"] == "cluster":
            return f"{design} cluster bootstrap ({how['clusters']} clusters of items)"
        if how["unit"] == "two-stage":
            return (f"{design} two-stage bootstrap ({how['items']} items, then each model's "
                    "generations of them)")
        return f"{design} bootstrap"

    @property
    def position(self) -> np.ndarray:
        """1, 2, ..., k: the place in the printed order."""
        return np.arange(1, len(self.models) + 1)

    @property
    def rank(self) -> np.ndarray:
        """Ranks in rank order; models with identical score distributions share their mean
        position (mid-ranks), so the rank is a float (1, 2, 3.5, 3.5, ...)."""
        return self.position.astype(float) if self.rank_mid is None else self.rank_mid

    @property
    def decisions(self) -> np.ndarray:
        """(k, k) bool in rank order: H0 for (i, j) rejected in favour of model i."""
        return self.test.reject[np.ix_(self._perm, self._perm)]

    @property
    def pvalues(self) -> np.ndarray:
        """(k, k) raw one-sided p-values in rank order."""
        return self.test.pvalue[np.ix_(self._perm, self._perm)]

    @property
    def pvalues_adjusted(self) -> np.ndarray:
        """(k, k) corrected p-values in rank order."""
        return self.test.pvalue_adjusted[np.ix_(self._perm, self._perm)]

    @property
    def no_decision(self) -> bool:
        """True when no test separates any two models: nothing can be selected."""
        return self.test.no_decision

    @property
    def simultaneous(self) -> bool:
        return self.test.simultaneous

    @property
    def interval_level(self) -> float | None:
        """Joint confidence level of the rank intervals and the top set (None under BH)."""
        return 1.0 - self.test.alpha if self.simultaneous else None

    @property
    def top_set(self) -> tuple[str, ...] | None:
        """Models that can be first: a confidence set for the best model at
        ``interval_level`` (None under BH, where no such guarantee exists)."""
        return self.best_set if self.simultaneous else None

    @property
    def tvar_column(self) -> str:
        return f"tvar_{self.p:g}"

    @property
    def notes(self) -> tuple[str, ...]:
        """Plain statements a reader of this ranking needs."""
        out = []
        t = self.test
        if self.no_decision:
            out.append(f"{NO_DECISION.capitalize()} (no pair is separated at alpha = "
                       f"{t.alpha:g}); the order below is by the point estimates only.")
        if t.test == "relative":
            others = ("the other model" if len(self.models) == 2
                      else f"the other {len(self.models) - 1} models")
            out.append(f"Relative test: each model is judged against the pool of {others}, so "
                       "adding or removing models can change the order.")
        if not self.higher_is_better:
            out.append(f"Metric {self.metric!r} is lower-is-better: it was negated before the "
                       "tests; mean and TVaR are shown in its own units (TVaR = mean of the "
                       "worst, i.e. highest, p-fraction).")
        if isinstance(self.portfolio, MultivariatePortfolio):
            out.append(f"Tests: {self.portfolio.describe()}; each metric normalised by its "
                       "ECDF pooled over all models and items, so values are in (0, 1].")
        elif self.portfolio is not None:
            out.append(f"Scores: {self.portfolio.describe()}; each metric normalised by its "
                       "ECDF pooled over all models and items, so values are in (0, 1].")
        if self.simultaneous:
            what = ("rank intervals" if t.test != "absolute" else
                    "rank intervals: positions consistent with the claims 'i beats j', as the "
                    "absolute test's relation need not be a total order")
            out.append(f"Rank interval [low, high]: with probability >= {1 - t.alpha:g} every "
                       f"model's rank is in its interval, all at once ({what}; "
                       f"{t.correction} over {t.n_comparisons} ordered pairs). Top set: the "
                       "models whose interval starts at 1, a confidence set for the best.")
        else:
            out.append("Benjamini-Hochberg controls the false discovery rate only: the rank "
                       "bounds and the set of models not beaten by any discovery are shown "
                       "without a confidence guarantee (use --correction holm or bonferroni "
                       "for rank intervals and a top set).")
        if self.letters and self.letters[0] == NO_LETTERS:
            out.append(f"Letters: not shown ('{NO_LETTERS}'): a display of who is separated "
                       f"from whom would need more than {LETTERS_MAX} letters here; the rank "
                       "intervals and the pairwise results (to_frame, --json) say it.")
        else:
            out.append(f"Letters: models that share a letter are not separated by any test at "
                       f"alpha = {t.alpha:g}; models without a common letter are.")
        if not self.fsd_checked:
            out.append("The order was not checked against first-order dominance of the "
                       "display scores: the multivariate test compares joint distributions.")
        return tuple(out)

    def _repr_html_(self) -> str:
        from riskbench.report.html import notebook_html, ranking_table_html

        return notebook_html(f"{self.test.test} test ranking of {len(self.models)} models",
                             ranking_table_html(self), self.h0)

    def _beaten_by(self) -> np.ndarray:
        return self.decisions.sum(axis=0)

    def to_frame(self):
        """One row per model, in rank order."""
        import pandas as pd

        top = self.top_set
        frame = pd.DataFrame({
            "model": list(self.models),
            "rank": self.rank,
            "rank_low": self.rank_low,
            "rank_high": self.rank_high,
            "letters": list(self.letters),
            "eps": self.eps,
            "eps_sd": self.eps_sd,
            "wins": self.wins,
            "beaten_by": self._beaten_by(),
            "top": [None if top is None else m in top for m in self.models],
            "mean": self.mean,
            self.tvar_column: self.tvar,
        })
        if self.score is not None:
            frame[f"score_{self.criterion}"] = self.score
        return frame

    def to_dict(self) -> dict:
        """A JSON-ready summary (strict JSON: no NaN or Infinity): the ranking rows, the
        pairwise decisions, and everything needed to reproduce it."""
        rows = []
        top = self.top_set
        beaten = self._beaten_by()
        for a, m in enumerate(self.models):
            row = {
                "model": m,
                "rank": float(self.rank[a]),
                "rank_interval": [int(self.rank_low[a]), int(self.rank_high[a])],
                "letters": self.letters[a],
                "eps": _num(self.eps[a]),
                "eps_sd": _num(self.eps_sd[a]),
                "wins": int(self.wins[a]),
                "beaten_by": int(beaten[a]),
                "top": None if top is None else m in top,
                "mean": _num(self.mean[a]),
                self.tvar_column: _num(self.tvar[a]),
            }
            if self.score is not None:
                row[f"score_{self.criterion}"] = _num(self.score[a])
            rows.append(row)
        t = self.test
        return {
            "ranking": rows,
            "decision": NO_DECISION if self.no_decision else None,
            "no_decision": self.no_decision,
            "top_set": None if top is None else list(top),
            "best_set": list(self.best_set),
            "interval_level": self.interval_level,
            "simultaneous": self.simultaneous,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "criterion": self.criterion,
            "test": t.test if self.criterion == "dominance" else "score",
            "order": t.order,
            "eps0": t.eps0,
            "alpha": t.alpha,
            "correction": t.correction,
            "n_comparisons": t.n_comparisons,
            "scale": t.scale,
            "design": t.design,
            "resampling": self.resampling,
            "n_resamples": t.n_resamples,
            "seed": t.seed,
            "backend": t.backend,
            "h0": t.h0,
            "pairs": t.pairs(),
            "n_items": dict(zip(self.models, self.n_items, strict=True)),
            "input_sha256": self.input_sha256,
            "riskbench_version": _version(),
            "portfolio": None if self.portfolio is None else {
                "kind": self.portfolio.kind,
                "metrics": list(self.portfolio.metrics),
                "weights": dict(zip(self.portfolio.metrics, map(float, self.portfolio.weights),
                                    strict=True)),
                "higher_is_better": self.portfolio.higher_is_better,
                **_multivariate_settings(self.portfolio),
            },
            "notes": list(self.notes),
        }


def _version() -> str:
    from riskbench import __version__

    return __version__


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _multivariate_settings(built: object) -> dict:
    """The OT settings of a multivariate ranking, for its JSON summary (empty otherwise)."""
    if not isinstance(built, MultivariatePortfolio):
        return {}
    return {"cost": built.cost_words(), "power": built.power, "smooth": built.smooth,
            "reg": built.reg}


@dataclass(frozen=True, eq=False)
class BordaRanking:
    """Per-metric rankings aggregated by Borda count (METHOD.md section 9, no portfolio).

    Model i gets ``sum_u (k - rank_u(i))`` points, with mid-ranks: models tied on a metric
    (identical score distributions) share the mean of their positions and so the same points.
    Models with equal points share a group and a mid-rank (``rank``). ``per_metric`` holds each
    metric's own :class:`Ranking`. A Borda count is a summary of rankings, not a test: it has
    no confidence statement (``top_set`` is None); see each metric's rank intervals.
    """

    models: tuple[str, ...]
    points: np.ndarray = field(repr=False)
    group: np.ndarray = field(repr=False)
    per_metric: dict[str, Ranking] = field(repr=False)

    @property
    def rank(self) -> np.ndarray:
        """Mid-ranks: models with equal points share the mean of their positions."""
        out = np.empty(len(self.models))
        for g in np.unique(self.group):
            pos = np.flatnonzero(self.group == g)
            out[pos] = pos.mean() + 1.0
        return out

    @property
    def best_set(self) -> tuple[str, ...]:
        """The models with the most points (no confidence statement)."""
        return tuple(m for m, g in zip(self.models, self.group, strict=True) if g == 1)

    @property
    def top_set(self) -> None:
        return None

    @property
    def seed(self) -> int:
        return next(iter(self.per_metric.values())).seed

    @property
    def h0(self) -> str:
        return next(iter(self.per_metric.values())).h0

    @property
    def notes(self) -> tuple[str, ...]:
        return (f"Borda count over {len(self.per_metric)} per-metric rankings "
                f"({', '.join(self.per_metric)}): each model gets k - rank points per metric, "
                "tied models (identical distributions) sharing the mean rank; models with "
                "equal points share a group and a mid-rank. A Borda count carries no "
                "confidence statement: see each metric's rank intervals.",)

    def _metric_ranks(self) -> dict[str, list[float]]:
        out = {}
        for m, r in self.per_metric.items():
            pos = {name: float(r.rank[a]) for a, name in enumerate(r.models)}
            out[m] = [pos[name] for name in self.models]
        return out

    def to_frame(self):
        """One row per model: rank, group, Borda points and the rank on each metric."""
        import pandas as pd

        frame = pd.DataFrame({"model": list(self.models), "rank": self.rank,
                              "group": self.group, "borda": self.points})
        for m, ranks in self._metric_ranks().items():
            frame[f"rank_{m}"] = ranks
        return frame

    def to_dict(self) -> dict:
        ranks = self._metric_ranks()
        mid = self.rank
        rows = [{"model": m, "rank": float(mid[a]), "group": int(self.group[a]),
                 "borda": float(self.points[a]),
                 "metric_ranks": {u: ranks[u][a] for u in ranks}}
                for a, m in enumerate(self.models)]
        return {"ranking": rows, "best_set": list(self.best_set), "top_set": None,
                "aggregation": "borda",
                "per_metric": {u: r.to_dict() for u, r in self.per_metric.items()},
                "seed": self.seed, "h0": self.h0, "notes": list(self.notes)}


def borda(rankings: dict[str, Ranking]) -> BordaRanking:
    """Aggregate rankings of the same models by Borda count, with mid-ranks for ties.

    Each ranking's ``rank`` (mid-ranks for models with identical distributions) gives
    ``k - rank`` points; models with equal totals share a group, listed by name.
    """
    models = sorted(next(iter(rankings.values())).models)
    k = len(models)
    points = dict.fromkeys(models, 0.0)
    for r in rankings.values():
        for a, m in enumerate(r.models):
            points[m] += k - float(r.rank[a])
    ordered = sorted(models, key=lambda m: (-points[m], m))
    pts = np.array([points[m] for m in ordered])
    group = np.concatenate([[1], 1 + np.cumsum(~np.isclose(pts[1:], pts[:-1], rtol=0,
                                                            atol=1e-9))]).astype(int)
    return BordaRanking(tuple(ordered), pts, group, dict(rankings))


def _multivariate_target(table: object, metric: str | None,
                         weights: object) -> MultivariatePortfolio:
    """The k models' metric vectors for ``portfolio="multivariate"``."""
    if metric is not None:
        raise InputError(f"metric={metric!r} ranks one metric, but portfolio='multivariate' "
                         "compares the models on all metrics jointly; drop one of the two")
    if weights is not None:
        raise InputError("weights apply to the independent-copula portfolio only; the "
                         "multivariate cost is a plain sum over metrics: drop them or use "
                         "portfolio='ic'")
    return build_multivariate(table)


def _target(table: object, metric: str | None, portfolio: str | None, weights: object):
    """What to rank: one metric's samples, a portfolio, or None for per-metric Borda."""
    if portfolio == MULTIVARIATE:
        built = _multivariate_target(table, metric, weights)
        return built.samples(), built
    metrics = getattr(table, "metrics", None)
    multi = metric is None and metrics is not None and not callable(metrics) and len(metrics) > 1
    if not multi:
        if weights is not None:
            raise InputError(f"a weight ({option_hint('weights=', '--weight')}) applies only to "
                             "a portfolio of several metrics; this ranking uses one metric, so "
                             "drop the weights")
        return as_samples(table, metric=metric), None
    if portfolio is None:
        return None, None
    built = make_portfolio(table.cube(), kind=portfolio, weights=weights)
    return built.samples(), built


def rank(
    table: object,
    *,
    metric: str | None = None,
    portfolio: str | None = "ic",
    weights: Mapping[str, float] | None = None,
    order: int | None = None,
    test: str = "relative",
    eps0: float = 0.25,
    alpha: float = 0.05,
    correction: str = "bonferroni",
    design: str = "paired",
    n_resamples: int = 1000,
    seed: int | None = None,
    criterion: str = "dominance",
    p: float = 0.05,
    beta: float = 0.05,
    batch: int | None = None,
    backend: str = "auto",
    progress: Progress | None = None,
) -> Ranking | BordaRanking:
    """Rank models by stochastic dominance (default R-SSD), with rank intervals and a top set.

    Parameters
    ----------
    table : ScoreTable, mapping {model: scores}, or array (models x items)
    metric : str, optional
        Rank on this metric alone. Without it, a table with one metric is ranked on it and a
        table with several metrics on their portfolio.
    portfolio : {"ic", "ec", "multivariate", None}
        With several metrics: the independent-copula (default) or empirical-copula portfolio
        (METHOD.md section 9); None ranks each metric separately and aggregates the rankings by
        Borda count (returns a :class:`BordaRanking`). "multivariate" tests first-order
        dominance of the joint distributions of all metrics by entropic optimal transport
        (METHOD.md section 13; :func:`riskbench.multivariate_bootstrap` with its defaults:
        squared hinge cost, lambda = 0.01, linear bootstrap; ``backend`` "auto" or "numba":
        the compiled solver, "numpy": the plain one); the mean and TVaR columns are then of
        the per-item mean of the normalised metrics, a display summary only.
    weights : mapping {metric: weight}, optional
        Weights of the independent-copula portfolio (uniform by default).
    order : {1, 2}, optional
        1: first-order dominance (quantiles); 2 (default): second-order (risk-averse). The
        multivariate comparison is first-order only (default 1 there; 2 is an error).
    test : {"relative", "absolute"}
        relative (default): R-FSD/R-SSD on one-vs-all ratios; absolute: eps-FSD/eps-SSD with
        threshold ``eps0``.
    alpha, correction, design, n_resamples, seed, batch, backend
        As :func:`riskbench.relative_test`.
    criterion : {"dominance", "mean", "abs_semidev", "std_semidev", "gini", "tvar", "tail_gini"}
        "dominance" (default) ranks by the test above; a mean-risk name ranks by that score,
        with paired bootstrap tests of score differences.
    p, beta : float
        Levels of TVaR (also shown for every model) and of the tail Gini score.
    progress : callable(done, total), optional
        Called after each batch of bootstrap replicates.

    Returns
    -------
    Ranking, or BordaRanking when ``portfolio=None`` with several metrics.

    Notes
    -----
    1. Bootstrap the violation ratios (or scores) of all models (paired by default).
    2. Test every ordered pair, correcting over the k(k-1) hypotheses.
    3. wins[i] = number of models i significantly beats; rank by wins (descending), then eps_i
       (ascending) or the score (descending), then name, never placing a model below one whose
       empirical distribution it first-order dominates; identical models share a mid-rank.
    4. Rank intervals ``[1 + #beaten by, k - #beats]`` (simultaneous at 1 - alpha under
       Bonferroni or Holm), the top set (intervals starting at 1; None under BH), and a compact
       letter display of the pairs no test separates.
    """
    test = _check_choice(test, "test", TESTS)
    criterion = _check_choice(criterion, "criterion", CRITERIA)
    if portfolio is not None and portfolio not in PORTFOLIOS + (MULTIVARIATE,):
        raise InputError(f"portfolio must be one of 'ic', 'ec', 'multivariate' (or None to rank "
                         f"each metric and aggregate by Borda count); got {portfolio!r}")
    order = _check_order(order, portfolio, criterion)
    if criterion != "dominance" and test == "absolute":
        raise InputError(
            f"criterion={criterion!r} ranks by a mean-risk score, which has no absolute test; "
            "use test='relative' (the default) or criterion='dominance'"
        )
    options = dict(order=order, test=test, eps0=eps0, alpha=alpha, correction=correction,
                   design=design, n_resamples=n_resamples, seed=seed, criterion=criterion, p=p,
                   beta=beta, batch=batch, backend=backend)
    samples, built = _target(table, metric, portfolio, weights)
    checksum = getattr(table, "checksum", None)
    if samples is None:  # Borda over the metrics, each with the same seed (same resamples)
        if options["seed"] is None:
            options["seed"] = secrets.randbits(63)
        per_metric = {}
        for u, m in enumerate(table.metrics):
            with _named_warnings(m):
                per_metric[m] = rank_samples(as_samples(table, metric=m), None, progress=_part(
                    progress, u, len(table.metrics)), **options)
        return borda(per_metric)
    return replace(rank_samples(samples, built, progress=progress, **options),
                   input_sha256=checksum if isinstance(checksum, str) else None)


def _check_order(order: object, portfolio: str | None, criterion: str) -> object:
    """The order of dominance: default 2, and 1 (the only one) for the multivariate target."""
    if portfolio != MULTIVARIATE:
        return 2 if order is None else order
    if criterion != "dominance":
        raise InputError(f"criterion={criterion!r} ranks by a mean-risk score of one value per "
                         "item, but portfolio='multivariate' compares whole metric vectors; use "
                         "criterion='dominance' or a scalar portfolio ('ic', 'ec')")
    if order is not None and (isinstance(order, bool) or order != 1):
        raise InputError(f"portfolio='multivariate' tests first-order dominance only (METHOD.md "
                         f"section 13); got order={order!r}: drop it or pass order=1")
    return 1


@contextmanager
def _named_warnings(metric: str) -> Iterator[None]:
    """Re-issue the riskbench warnings of one metric's ranking with the metric's name first:
    of a Borda count's several rankings, the user must know which one a warning is about."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RiskbenchWarning)
        yield
    for w in caught:
        if issubclass(w.category, RiskbenchWarning):
            raw = w.message.args[0] if w.message.args else str(w.message)
            warnings.warn(w.category(f"metric {metric!r}: {raw}"), stacklevel=3)
        else:  # not ours: as it was
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _part(progress: Progress | None, index: int, parts: int) -> Progress | None:
    """Progress of one of several equal runs, reported on the whole."""
    if progress is None:
        return None
    return lambda done, total: progress(index * total + done, parts * total)


def _multivariate_boot(samples: Samples, built: MultivariatePortfolio, *, order, design,
                       n_resamples, seed, batch, backend, progress):
    """The multivariate bootstrap of the models in ``samples`` (a subset of ``built``'s)."""
    if order != 1:
        raise InputError(f"the multivariate comparison is first-order only; got order={order!r}")
    if backend not in ("auto", "numpy", "numba"):
        raise InputError(f"portfolio='multivariate' runs its own Sinkhorn solver (compiled "
                         f"with numba, or plain numpy); backend={backend!r} applies to the "
                         "scalar tests only: drop it or pass backend='numba' or 'numpy'")
    if samples.models != built.models:  # e.g. the models that pass a selection's guardrails
        keep = [built.models.index(m) for m in samples.models]
        built = replace(built, models=samples.models, normalised=built.normalised[keep],
                        scores=built.scores[keep])
    return _multivariate_bootstrap(built, design=design, n_resamples=n_resamples, seed=seed,
                                   batch=batch, backend=backend, progress=progress)


def _multivariate_h0(h0: str) -> str:
    """Say in the null hypothesis that the ratio is that of the joint metric distributions."""
    joint = ("; eps is the entropic optimal-transport violation ratio of the joint "
             "distributions of all metrics (multivariate first-order dominance)")
    head, sep, tail = h0.partition("; rejected at")
    return head + joint + sep + tail if sep else h0 + joint


def rank_samples(samples, built, *, order, test, eps0, alpha, correction, design, n_resamples,
                 seed, criterion, p, beta, batch, progress, backend="auto") -> Ranking:
    dominance = criterion == "dominance"
    if isinstance(built, MultivariatePortfolio):
        # validate what the tests read before the (long) bootstrap
        p, beta = check_level(p, "p"), check_level(beta, "beta")
        _check_alpha(alpha)
        _check_choice(correction, "correction", CORRECTIONS)
        if test == "absolute":
            _check_eps0(eps0)
        boot = _multivariate_boot(samples, built, order=order, design=design,
                                  n_resamples=n_resamples, seed=seed, batch=batch,
                                  backend=backend, progress=progress)
        boot = replace(boot, p=p, beta=beta)  # the TVaR level shown
    else:
        boot = bootstrap(samples, order=order, design=design, n_resamples=n_resamples,
                         seed=seed, batch=batch, dominance=dominance, risk=not dominance, p=p,
                         beta=beta, backend=backend, progress=progress)
    if not dominance:
        result = score_test_from(boot, criterion, alpha=alpha, correction=correction)
    elif test == "relative":
        result = relative_test_from(boot, alpha=alpha, correction=correction)
    else:
        result = absolute_test_from(boot, eps0=eps0, alpha=alpha, correction=correction)
    if isinstance(built, MultivariatePortfolio):
        result = replace(result, h0=_multivariate_h0(result.h0))

    k = samples.k
    wins = result.reject.sum(axis=1)
    names = np.array(samples.models, dtype=object)
    score = boot.scores[criterion] if not dominance else None
    eps, eps_reps = relative_eps(boot)
    tiebreak = eps if dominance else -score
    joint = isinstance(built, MultivariatePortfolio)
    twins = identical_pairs(samples) & (boot.eps_matrix == 0.5)
    keys = [(-int(wins[a]), float(tiebreak[a]), str(names[a])) for a in range(k)]
    for a in range(k):  # identical models share the best key of their class: adjacent
        mates = np.flatnonzero(twins[a])
        if mates.size:
            best = min(keys[b] for b in (a, *mates))
            keys[a] = best[:2] + (keys[a][2],)
    # the display scores of a multivariate ranking were not tested: no FSD constraint there
    fsd = np.zeros((k, k), dtype=bool) if joint else empirical_fsd(samples)
    perm = _consistent_order(keys, fsd)
    beaten = result.reject.any(axis=0)
    low, high = rank_intervals(result.reject)
    sign = 1.0 if samples.higher_is_better else -1.0
    tvar = np.array([float(mean_risk_scores(np.sort(v), p=boot.p)["tvar"])
                     for v in samples.values])
    return Ranking(
        models=tuple(names[perm]),
        eps=eps[perm],
        eps_sd=eps_reps[:, perm].std(axis=0, ddof=1),
        wins=wins[perm],
        group=tie_groups(perm, result.reject),
        mean=sign * np.array([v.mean() for v in samples.values])[perm],
        tvar=sign * tvar[perm],
        score=None if score is None else score[perm],
        best_set=tuple(names[perm][~beaten[perm]]),
        test=result,
        metric=samples.metric,
        higher_is_better=samples.higher_is_better,
        criterion=criterion,
        p=boot.p,
        n_items=tuple(samples.sizes[a] for a in perm),
        _perm=perm,
        portfolio=built,
        samples=samples,
        rank_low=low[perm],
        rank_high=high[perm],
        letters=_letters_or_dash(perm, result.separated),
        rank_mid=_mid_ranks(perm, twins),
        fsd_checked=not joint,
    )
