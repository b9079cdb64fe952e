"""What a reviewer asks of a ranking, answered from its evidence: *which* model (or that the
data decide nothing), *why* (one plain sentence built from the tail and the pairwise tests),
and *where it fails* (its worst items, how many share the worst score, and how every other
model did on those items). Plain data first (:func:`why`, :func:`worst_items`,
:func:`compare_items`); the HTML report renders them. No matplotlib here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Why", "why", "worst_items", "compare_items", "item_ids", "WORST_ITEMS"]

WORST_ITEMS = 5  # worst items listed per model (every item at the minimum is counted)


def _num(x: float) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.3g}"


def _names(models, limit: int = 4) -> str:
    models = list(models)
    shown = ", ".join(models[:limit])
    return shown + (f" and {len(models) - limit} more" if len(models) > limit else "")


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class Why:
    """The evidence behind the report's decision, as data and as one plain sentence.

    Attributes
    ----------
    subject : str or None
        The model the sentence is about (the chosen one, else the first of the ranking);
        None when no test separates any two models.
    sentence : str
        The plain-language answer, e.g. "X is the only model whose worst 5% of items are not
        all at the worst score observed (TVaR 5% 0.4; next best 0); it significantly beats 5
        of 8 models; no model beats it."
    decided : bool
        False when no pair of models is separated ("no decision").
    beats, beaten_by : tuple of str
        Models the subject significantly beats / that significantly beat it.
    level : float
        The TVaR level p of the tail clause.
    tvar : dict {model: float}
        TVaR_p of every model in the metric's own units.
    """

    subject: str | None
    sentence: str
    decided: bool
    beats: tuple[str, ...] = ()
    beaten_by: tuple[str, ...] = ()
    level: float = 0.05
    tvar: dict = field(default_factory=dict, repr=False)

    def to_frame(self):
        """One row per model: its TVaR_p (metric units), and whether the subject beats it or
        it beats the subject."""
        import pandas as pd

        return pd.DataFrame({"model": list(self.tvar), "tvar": list(self.tvar.values()),
                             "beaten_by_subject": [m in self.beats for m in self.tvar],
                             "beats_subject": [m in self.beaten_by for m in self.tvar]})

    def to_dict(self) -> dict:
        return {"subject": self.subject, "sentence": self.sentence, "decided": self.decided,
                "beats": list(self.beats), "beaten_by": list(self.beaten_by),
                "level": self.level,
                "tvar": {m: (None if not np.isfinite(v) else float(v))
                         for m, v in self.tvar.items()}}


def _no_decision(ranking) -> bool:
    flag = getattr(ranking, "no_decision", None)
    return bool(flag) if flag is not None else not bool(np.asarray(ranking.decisions).any())


def why(ranking, *, selection=None) -> Why:
    """Build the plain-language "why" of a ranking (and of a selection under guardrails).

    Steps: (1) the subject is the selection's chosen model, else the first of the ranking, or
    nobody when no pair is separated; (2) the tail clause: the only model whose worst p of
    items are not all at the worst score observed, when so; else, for scores with at most 10
    distinct values, the share of its items at the worst score against the others'; else its
    TVaR_p against the others' (the best, tied, or where it stands); (3) the test clauses
    count the models it significantly beats and those that beat it, and name the models it is
    not separated from among those that can also be first; (4) guardrails add how many models
    they excluded.

    Parameters
    ----------
    ranking : Ranking
    selection : Selection, optional
        The selection the ranking belongs to (its chosen model is the subject).

    Returns
    -------
    Why
    """
    models = list(ranking.models)
    k = len(models)
    p = float(ranking.p)
    level = f"{p * 100:g}%"
    sign = 1.0 if ranking.higher_is_better else -1.0
    tvar = {m: float(v) for m, v in zip(models, ranking.tvar, strict=True)}
    oriented = np.array([sign * tvar[m] for m in models])
    samples = ranking.samples
    floor = float(min(np.min(v) for v in samples.values)) if samples is not None else np.nan
    decisions = np.asarray(ranking.decisions, dtype=bool)  # rank order, row beats column
    what = _measure(ranking)
    if _no_decision(ranking):
        best = int(np.argmax(oriented))
        sentence = (f"No test separates any two of the {k} models at alpha = "
                    f"{ranking.test.alpha:g} ({ranking.test.correction}): the data do not back "
                    f"a choice. On the point estimates alone, {models[best]} has the best mean "
                    f"{what} over its worst {level} of items (TVaR {level} "
                    f"{_num(tvar[models[best]])}), which the tests cannot tell from the "
                    "others'.")
        return Why(None, sentence, False, level=p, tvar=tvar)
    subject = selection.chosen if selection is not None and selection.chosen else models[0]
    a = models.index(subject)
    beats = tuple(models[j] for j in np.flatnonzero(decisions[a]))
    beaten_by = tuple(models[i] for i in np.flatnonzero(decisions[:, a]))
    levels = _levels(samples)
    only = _only_clause(subject, a, models, oriented, tvar, floor, level, sign, what)
    if only is not None:  # the strongest tail statement there is
        clauses = [only]
    elif levels is not None:  # few distinct scores: how often a model hits the worst one
        clauses = [_floor_clause(ranking, subject, levels[0], sign, what)]
    else:
        clauses = [_tail_clause(subject, a, models, oriented, tvar, floor, level, sign, what)]
    if k == 2:
        clauses.append("it significantly beats the other model" if beats else
                       "it does not significantly beat the other model")
    elif beats:
        clauses.append(f"it significantly beats {len(beats)} of the {k - 1} other models")
    else:
        clauses.append(f"it significantly beats none of the {k - 1} other models")
    if beaten_by:
        verb = "beats" if len(beaten_by) == 1 else "beat"
        clauses.append(f"{_plural(len(beaten_by), 'model')} {verb} it ({_names(beaten_by)})")
    else:
        clauses.append("no model beats it")
    rivals = [m for m in _can_be_first(ranking) if m != subject]
    if rivals:
        clauses.append(f"the tests cannot separate it from {_names(rivals)}, which "
                       f"{'is' if len(rivals) == 1 else 'are'} not beaten either")
    sentence = "; ".join(clauses) + "."
    if selection is not None:
        excluded = len(selection.excluded)
        sentence += (f" It passes every guardrail; {excluded} of the {len(selection.models)} "
                     "models fail at least one." if excluded else
                     " Every model passes every guardrail.")
    return Why(subject, sentence, True, beats, beaten_by, p, tvar)


def _measure(ranking) -> str:
    if getattr(ranking.portfolio, "kind", None) == "multivariate":
        return "mean normalised score"
    if ranking.portfolio is not None:
        return "portfolio score"
    return "score"


def _can_be_first(ranking) -> tuple[str, ...]:
    top = getattr(ranking, "top_set", None)
    return tuple(top) if top is not None else tuple(ranking.best_set)


def _levels(samples, limit: int = 10):
    if samples is None:
        return None
    pooled = np.unique(np.concatenate([np.asarray(v, dtype=float) for v in samples.values]))
    return pooled if pooled.size <= limit else None


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%"


def _floor_clause(ranking, subject, worst, sign, what) -> str:
    """Discrete scores: the share of each model's items at the worst level observed."""
    samples = ranking.samples
    index = {m: a for a, m in enumerate(samples.models)}
    share = {m: float((np.asarray(samples.values[index[m]]) == worst).mean())
             for m in ranking.models}
    others = [m for m in ranking.models if m != subject]
    fewest = min(others, key=lambda m: share[m])
    head = f"{subject} is at the worst {what} observed, {_num(sign * worst)}, on "
    if share[subject] < share[fewest]:
        return (head + f"{_pct(share[subject])} of its items, the fewest (next fewest "
                f"{fewest}, {_pct(share[fewest])})")
    if share[subject] == share[fewest]:
        return head + f"{_pct(share[subject])} of its items, as few as {fewest}"
    place = 1 + sum(share[m] < share[subject] for m in others)
    return (head + f"{_pct(share[subject])} of its items ({place} of {len(ranking.models)}; "
            f"fewest {fewest}, {_pct(share[fewest])}): it ranks first on the whole "
            "distribution, not on its failures alone")


def _only_clause(subject, a, models, oriented, tvar, floor, level, sign, what) -> str | None:
    """"X is the only model whose worst p of items are not all at the worst score", when so."""
    others = np.delete(np.arange(len(models)), a)
    best_other = int(others[np.argmax(oriented[others])])
    at_floor = np.isclose(oriented[others], floor, rtol=0, atol=1e-12)
    if at_floor.all() and not np.isclose(oriented[a], floor, rtol=0, atol=1e-12):
        return (f"{subject} is the only model whose worst {level} of items are not all at "
                f"the worst {what} observed, {_num(sign * floor)} (TVaR {level} "
                f"{_num(tvar[subject])}; next best {_num(tvar[models[best_other]])})")
    return None


def _tail_clause(subject, a, models, oriented, tvar, floor, level, sign, what) -> str:
    others = np.delete(np.arange(len(models)), a)
    mine = oriented[a]
    best_other = int(others[np.argmax(oriented[others])])
    if mine > oriented[best_other]:
        return (f"{subject} has the best mean {what} over its worst {level} of items (TVaR "
                f"{level} {_num(tvar[subject])}; next best {models[best_other]}, "
                f"{_num(tvar[models[best_other]])})")
    tied = [models[j] for j in others if np.isclose(oriented[j], mine, rtol=1e-12, atol=1e-15)]
    if np.isclose(oriented[best_other], mine, rtol=1e-12, atol=1e-15):
        return (f"{subject} shares the best mean {what} over its worst {level} of items, "
                f"{_num(tvar[subject])}, with {_plural(len(tied), 'other model')}")
    place = 1 + int((oriented > mine).sum())
    return (f"{subject} ranks first on the whole distribution, not on the tail alone: its "
            f"worst {level} of items average {_num(tvar[subject])} ({place} of {len(models)} "
            f"on TVaR {level}; best {models[best_other]}, {_num(tvar[models[best_other]])})")


# --- where it fails ------------------------------------------------------------------------

def item_ids(samples, a: int) -> list[str]:
    """The item id of each of model a's values (repeated generations share their item's id)."""
    n = samples.values[a].size
    items = samples.items
    if items is None:
        return [str(t) for t in range(n)]
    if samples.groups is not None and len(items) != n:
        return [str(items[g]) for g in samples.groups]
    return [str(x) for x in items] if len(items) == n else [str(t) for t in range(n)]


def worst_items(samples, a: int, *, shown: int = WORST_ITEMS) -> dict:
    """Model a's worst items: the ``shown`` lowest (oriented scale, stable order), the minimum
    and every item at it, so a list cut at ``shown`` never hides how many items share the
    worst score. Items at the model's best score are not "worst" and are left out of the list
    (with few distinct scores, e.g. pass/fail, the list is then the failures); a model whose
    items all score the same lists them all.

    Returns ``{"worst": [(item, value), ...], "minimum": float, "at_minimum": [item, ...],
    "n": int}`` (values on the oriented scale: higher is better).
    """
    values = np.asarray(samples.values[a], dtype=float)
    ids = item_ids(samples, a)
    order = np.argsort(values, kind="stable")
    low = float(values[order[0]])
    at_min = [ids[t] for t in order if values[t] == low]
    best = float(values[order[-1]])
    listed = [t for t in order[:shown] if values[t] < best or low == best]
    return {"worst": [(ids[t], float(values[t])) for t in listed], "minimum": low,
            "at_minimum": at_min, "n": values.size}


def compare_items(ranking, items) -> list[dict]:
    """Every model's score on each of ``items`` (oriented scale), models in rank order:
    ``[{"item": id, "scores": [(model, value or None), ...]}, ...]``. A model without the
    item (unaligned tables) gets None; a model with several generations of it, their mean."""
    samples = ranking.samples
    wanted = {str(i) for i in items}
    index = {m: a for a, m in enumerate(samples.models)}
    lookup: dict[str, dict[str, float]] = {}
    for m in ranking.models:
        a = index[m]
        found: dict[str, list[float]] = {}
        for i, v in zip(item_ids(samples, a), samples.values[a].tolist(), strict=True):
            if i in wanted:
                found.setdefault(i, []).append(v)
        lookup[m] = {i: sum(v) / len(v) for i, v in found.items()}
    return [{"item": str(item), "scores": [(m, lookup[m].get(str(item))) for m in ranking.models]}
            for item in items]
