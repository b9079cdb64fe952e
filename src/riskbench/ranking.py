"""From pairwise tests to an honest ranking: wins, tie groups and the best set (METHOD.md 7)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from riskbench._samples import as_samples
from riskbench.inference import (
    PairwiseTest,
    Progress,
    _check_choice,
    absolute_test_from,
    bootstrap,
    relative_test_from,
    score_test_from,
)
from riskbench.risk import RISK_MEASURES, mean_risk_scores

__all__ = ["Ranking", "rank", "tie_groups", "TESTS", "CRITERIA"]

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
        out.append(f"Tie groups: models in one group are not separated by any test at alpha = "
                   f"{self.test.alpha:g} ({self.test.correction}).")
        return tuple(out)

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
            "h0": t.h0,
            "n_items": dict(zip(self.models, self.n_items, strict=True)),
            "notes": list(self.notes),
        }


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def rank(
    table: object,
    *,
    metric: str | None = None,
    order: int = 2,
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
    progress: Progress | None = None,
) -> Ranking:
    """Rank models by stochastic dominance (default R-SSD), with tie groups and a best set.

    Parameters
    ----------
    table : ScoreTable, mapping {model: scores}, or array (models x items)
        A ScoreTable with several metrics needs ``metric``.
    metric : str, optional
    order : {1, 2}
        1: first-order dominance (quantiles); 2 (default): second-order (risk-averse).
    test : {"relative", "absolute"}
        relative (default): R-FSD/R-SSD on one-vs-all ratios; absolute: eps-FSD/eps-SSD with
        threshold ``eps0``.
    alpha, correction, design, n_resamples, seed, batch
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
    Ranking

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
    if criterion != "dominance" and test == "absolute":
        from riskbench.errors import InputError

        raise InputError(
            f"criterion={criterion!r} ranks by a mean-risk score, which has no absolute test; "
            "use test='relative' (the default) or criterion='dominance'"
        )
    samples = as_samples(table, metric=metric)
    dominance = criterion == "dominance"
    boot = bootstrap(samples, order=order, design=design, n_resamples=n_resamples, seed=seed,
                     batch=batch, dominance=dominance, risk=not dominance, p=p, beta=beta,
                     progress=progress)
    if not dominance:
        result = score_test_from(boot, criterion, alpha=alpha, correction=correction)
    elif test == "relative":
        result = relative_test_from(boot, alpha=alpha, correction=correction)
    else:
        result = absolute_test_from(boot, eps0=eps0, alpha=alpha, correction=correction)

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
    )
