"""From pairwise tests to an honest ranking: wins, tie groups and the best set (METHOD.md 7)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from riskbench._samples import Samples, as_samples
from riskbench.errors import InputError
from riskbench.inference import (
    CORRECTIONS,
    PairwiseTest,
    Progress,
    _check_alpha,
    _check_choice,
    _check_eps0,
    absolute_test_from,
    bootstrap,
    relative_test_from,
    score_test_from,
)
from riskbench.multivariate import MULTIVARIATE, MultivariatePortfolio, build_multivariate
from riskbench.multivariate import multivariate_bootstrap as _multivariate_bootstrap
from riskbench.portfolio import PORTFOLIOS, Portfolio
from riskbench.portfolio import build_portfolio as make_portfolio
from riskbench.risk import RISK_MEASURES, check_level, mean_risk_scores

__all__ = ["Ranking", "BordaRanking", "borda", "rank", "tie_groups", "TESTS", "CRITERIA"]

TESTS = ("relative", "absolute")
CRITERIA = ("dominance",) + RISK_MEASURES


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
    """A risk-aware ranking of k models with tie groups.

    Per-model arrays are in rank order (``models[0]`` is first). ``test`` holds the pairwise
    test in the input order of models; ``decisions`` and ``pvalues`` are its matrices
    re-ordered to rank order (row i, column j: "model i beats model j").
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
    def rank(self) -> np.ndarray:
        return np.arange(1, len(self.models) + 1)

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
    def tvar_column(self) -> str:
        return f"tvar_{self.p:g}"

    @property
    def notes(self) -> tuple[str, ...]:
        """Plain statements a reader of this ranking needs."""
        out = []
        if self.test.test == "relative":
            out.append("Relative test: each model is judged against the pool of the other "
                       f"{len(self.models) - 1} models, so adding or removing models can change "
                       "the order.")
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
        out.append(f"Tie groups: models in one group are not separated by any test at alpha = "
                   f"{self.test.alpha:g} ({self.test.correction}).")
        return tuple(out)

    def _repr_html_(self) -> str:
        from riskbench.report.html import notebook_html, ranking_table_html

        return notebook_html(f"{self.test.test} test ranking of {len(self.models)} models",
                             ranking_table_html(self), self.h0)

    def to_frame(self):
        """One row per model, in rank order."""
        import pandas as pd

        frame = pd.DataFrame({
            "model": list(self.models),
            "rank": self.rank,
            "group": self.group,
            "eps": self.eps,
            "eps_sd": self.eps_sd,
            "wins": self.wins,
            "best": [m in self.best_set for m in self.models],
            "mean": self.mean,
            self.tvar_column: self.tvar,
        })
        if self.score is not None:
            frame[f"score_{self.criterion}"] = self.score
        return frame

    def to_dict(self) -> dict:
        """A JSON-ready summary: the ranking rows plus everything needed to reproduce it."""
        rows = []
        for a, m in enumerate(self.models):
            row = {
                "model": m,
                "rank": a + 1,
                "group": int(self.group[a]),
                "eps": _num(self.eps[a]),
                "eps_sd": _num(self.eps_sd[a]),
                "wins": int(self.wins[a]),
                "best": m in self.best_set,
                "mean": _num(self.mean[a]),
                self.tvar_column: _num(self.tvar[a]),
            }
            if self.score is not None:
                row[f"score_{self.criterion}"] = _num(self.score[a])
            rows.append(row)
        t = self.test
        return {
            "ranking": rows,
            "best_set": list(self.best_set),
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "criterion": self.criterion,
            "test": t.test if self.criterion == "dominance" else "score",
            "order": t.order,
            "eps0": t.eps0,
            "alpha": t.alpha,
            "correction": t.correction,
            "n_comparisons": t.n_comparisons,
            "design": t.design,
            "n_resamples": t.n_resamples,
            "seed": t.seed,
            "backend": t.backend,
            "h0": t.h0,
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

    Model i gets ``sum_u (k - rank_u(i))`` points; models with equal points share a group.
    ``per_metric`` holds each metric's own :class:`Ranking`.
    """

    models: tuple[str, ...]
    points: np.ndarray = field(repr=False)
    group: np.ndarray = field(repr=False)
    per_metric: dict[str, Ranking] = field(repr=False)

    @property
    def rank(self) -> np.ndarray:
        return np.arange(1, len(self.models) + 1)

    @property
    def best_set(self) -> tuple[str, ...]:
        return tuple(m for m, g in zip(self.models, self.group, strict=True) if g == 1)

    @property
    def seed(self) -> int:
        return next(iter(self.per_metric.values())).seed

    @property
    def h0(self) -> str:
        return next(iter(self.per_metric.values())).h0

    @property
    def notes(self) -> tuple[str, ...]:
        return (f"Borda count over {len(self.per_metric)} per-metric rankings "
                f"({', '.join(self.per_metric)}): each model gets k - rank points per metric; "
                "models with equal points share a group.",)

    def _metric_ranks(self) -> dict[str, list[int]]:
        out = {}
        for m, r in self.per_metric.items():
            pos = {name: a + 1 for a, name in enumerate(r.models)}
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
        rows = [{"model": m, "rank": a + 1, "group": int(self.group[a]),
                 "borda": int(self.points[a]),
                 "metric_ranks": {u: ranks[u][a] for u in ranks}}
                for a, m in enumerate(self.models)]
        return {"ranking": rows, "best_set": list(self.best_set), "aggregation": "borda",
                "per_metric": {u: r.to_dict() for u, r in self.per_metric.items()},
                "seed": self.seed, "h0": self.h0, "notes": list(self.notes)}


def borda(rankings: dict[str, Ranking]) -> BordaRanking:
    """Aggregate rankings of the same models by Borda count (ties broken by name)."""
    models = sorted(next(iter(rankings.values())).models)
    k = len(models)
    points = dict.fromkeys(models, 0)
    for r in rankings.values():
        for a, m in enumerate(r.models):
            points[m] += k - (a + 1)
    ordered = sorted(models, key=lambda m: (-points[m], m))
    pts = np.array([points[m] for m in ordered])
    group = np.concatenate([[1], 1 + np.cumsum(pts[1:] != pts[:-1])]).astype(int)
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
            raise InputError("weights apply to a portfolio of several metrics; this ranking uses "
                             "one metric, so drop them")
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
    """Rank models by stochastic dominance (default R-SSD), with tie groups and a best set.

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
        squared hinge cost, lambda = 0.01, linear bootstrap); the mean and TVaR columns are
        then of the per-item mean of the normalised metrics, a display summary only.
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
    2. Test every pair, correcting over the k(k-1)/2 pairs.
    3. wins[i] = number of models i significantly beats; rank by wins (descending), then eps_i
       (ascending) or the score (descending), then name.
    4. Tie groups: contiguous runs of the ranked order that no test separates; best set: models
       that no other model significantly beats.
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
    if backend not in ("auto", "numpy"):
        raise InputError(f"portfolio='multivariate' runs its own numpy Sinkhorn solver; "
                         f"backend={backend!r} applies to the scalar tests only: drop it or "
                         "pass backend='numpy'")
    if samples.models != built.models:  # e.g. the models that pass a selection's guardrails
        keep = [built.models.index(m) for m in samples.models]
        built = replace(built, models=samples.models, normalised=built.normalised[keep],
                        scores=built.scores[keep])
    return _multivariate_bootstrap(built, design=design, n_resamples=n_resamples, seed=seed,
                                   batch=batch, progress=progress)


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
    tiebreak = boot.eps if dominance else -score
    perm = np.array(sorted(range(k), key=lambda a: (-wins[a], tiebreak[a], names[a])))
    beaten = result.reject.any(axis=0)
    sign = 1.0 if samples.higher_is_better else -1.0
    tvar = np.array([float(mean_risk_scores(np.sort(v), p=boot.p)["tvar"])
                     for v in samples.values])
    return Ranking(
        models=tuple(names[perm]),
        eps=boot.eps[perm],
        eps_sd=boot.eps_replicates[:, perm].std(axis=0, ddof=1),
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
    )
