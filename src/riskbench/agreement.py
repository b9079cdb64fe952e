"""Baselines and agreement between rankings (METHOD.md section 10).

- Mean Win Rate in both readings: per item (share of other models beaten on the item, ties 1/2,
  averaged over items) and HELM's (share of other models with a lower mean, per metric, averaged
  over metrics).
- Kendall tau-b between any two rankings (scipy), and the stability curve: tau between the
  ranking on m random items and the ranking on all items, as m grows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from riskbench._samples import as_samples
from riskbench.errors import DegenerateDataWarning, InputError, RiskbenchWarning, shorten

__all__ = [
    "READINGS",
    "WinRates",
    "Agreement",
    "Stability",
    "mean_win_rate",
    "model_order",
    "kendall_tau",
    "compare_rankings",
    "stability",
]

READINGS = ("item", "helm")


@dataclass(frozen=True, eq=False)
class WinRates:
    """Mean win rate of each model (higher is better), in input order."""

    models: tuple[str, ...]
    values: np.ndarray = field(repr=False)
    reading: str
    metrics: tuple[str, ...]

    @property
    def ranked(self) -> tuple[str, ...]:
        """Models from the highest win rate to the lowest (ties by name)."""
        order = sorted(range(len(self.models)), key=lambda a: (-self.values[a], self.models[a]))
        return tuple(self.models[a] for a in order)

    def to_frame(self):
        import pandas as pd

        frame = pd.DataFrame({"model": list(self.models), "win_rate": self.values})
        return frame.sort_values(["win_rate", "model"], ascending=[False, True],
                                 ignore_index=True)


def _pairwise_wins(x: np.ndarray) -> np.ndarray:
    """For scores (k, n) the share of the other k-1 models beaten per column, ties 1/2."""
    k = x.shape[0]
    out = np.empty(x.shape)
    for a in range(k):  # (k, n) per model: bounded memory
        beaten = (x[a] > x).sum(axis=0)
        ties = (x[a] == x).sum(axis=0) - 1  # the model itself
        out[a] = (beaten + 0.5 * ties) / (k - 1)
    return out


def mean_win_rate(table: object, *, reading: str = "item", metric: str | None = None,
                  metrics: Sequence[str] | None = None) -> WinRates:
    """Mean Win Rate of every model, in one of two readings.

    Parameters
    ----------
    table : ScoreTable, mapping or array
    reading : {"item", "helm"}
        "item": for each item, the share of the other models whose score the model beats (ties
        count 1/2), averaged over items (needs aligned items). "helm": for each metric, the share
        of the other models with a lower mean (ties 1/2), averaged over the metrics.
    metric : str, optional
        "item" reading: the metric (may be omitted when the table has one metric).
    metrics : sequence of str, optional
        "helm" reading: the metrics averaged over (default: all of the table's metrics).
    """
    if reading not in READINGS:
        raise InputError(f"reading must be one of 'item', 'helm'; got {reading!r}")
    if reading == "item":
        samples = as_samples(table, metric=metric)
        x = samples.matrix()  # (k, n), oriented
        return WinRates(samples.models, _pairwise_wins(x).mean(axis=1), "item",
                        (samples.metric,) if samples.metric else ())
    names = tuple(metrics) if metrics is not None else tuple(getattr(table, "metrics", (None,)))
    means, models = [], None
    for m in names:
        s = as_samples(table, metric=m)
        models = s.models if models is None else models
        if s.models != models:
            raise InputError(f"metric {m!r} has different models from the others")
        means.append([v.mean() for v in s.values])
    wins = _pairwise_wins(np.array(means).T)  # (k, N)
    return WinRates(models, wins.mean(axis=1), "helm", tuple(n for n in names if n))


def model_order(ranking: object) -> tuple[str, ...]:
    """Models from best to worst of a Ranking, BordaRanking, WinRates, MeanRisk-like mapping
    ``{model: score}`` (higher is better) or a plain sequence of names."""
    if isinstance(ranking, WinRates):
        return ranking.ranked
    if hasattr(ranking, "models") and hasattr(ranking, "group"):
        return tuple(ranking.models)
    if isinstance(ranking, Mapping):
        return tuple(sorted(ranking, key=lambda m: (-float(ranking[m]), str(m))))
    if isinstance(ranking, Sequence) and not isinstance(ranking, str):
        return tuple(str(m) for m in ranking)
    raise InputError(f"cannot read a ranking from {type(ranking).__name__}; pass a Ranking, "
                     "WinRates, a mapping {model: score} or a list of models best first")


def kendall_tau(a: object, b: object) -> tuple[float, float, int]:
    """Kendall tau-b (scipy) between two rankings over their common models.

    Returns ``(tau, pvalue, n_common)``.
    """
    first, second = model_order(a), model_order(b)
    common = [m for m in first if m in set(second)]
    if len(common) < 2:
        raise InputError(f"the rankings share {len(common)} model(s); Kendall tau needs two")
    from scipy.stats import kendalltau  # scipy.stats takes a second to import: only when used

    pos_a = {m: i for i, m in enumerate(first)}
    pos_b = {m: i for i, m in enumerate(second)}
    res = kendalltau([pos_a[m] for m in common], [pos_b[m] for m in common], variant="b")
    return float(res.statistic), float(res.pvalue), len(common)


@dataclass(frozen=True, eq=False)
class Agreement:
    """Kendall tau-b between every two of several rankings."""

    names: tuple[str, ...]
    tau: np.ndarray = field(repr=False)
    pvalue: np.ndarray = field(repr=False)
    n_common: np.ndarray = field(repr=False)

    def to_frame(self):
        """The tau matrix as a labelled DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.tau, index=list(self.names), columns=list(self.names))


def compare_rankings(rankings: Mapping[str, object]) -> Agreement:
    """Kendall tau-b agreement matrix of named rankings (any kind :func:`model_order` reads)."""
    names = tuple(rankings)
    if len(names) < 2:
        raise InputError("compare_rankings needs at least two rankings")
    r = len(names)
    tau, pval, common = np.eye(r), np.zeros((r, r)), np.zeros((r, r), dtype=int)
    for i in range(r):
        common[i, i] = len(model_order(rankings[names[i]]))
        for j in range(i + 1, r):
            t, p, c = kendall_tau(rankings[names[i]], rankings[names[j]])
            tau[i, j] = tau[j, i] = t
            pval[i, j] = pval[j, i] = p
            common[i, j] = common[j, i] = c
    return Agreement(names, tau, pval, common)


@dataclass(frozen=True, eq=False)
class Stability:
    """Kendall tau between rankings on m random items and on all items, for growing m."""

    sizes: tuple[int, ...]
    taus: np.ndarray = field(repr=False)  # (len(sizes), repeats)
    n_items: int
    seed: int

    @property
    def mean(self) -> np.ndarray:
        return self.taus.mean(axis=1)

    @property
    def sd(self) -> np.ndarray:
        return self.taus.std(axis=1, ddof=1) if self.taus.shape[1] > 1 else \
            np.zeros(len(self.sizes))

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({
            "items": list(self.sizes), "tau_mean": self.mean, "tau_sd": self.sd,
            "tau_min": self.taus.min(axis=1), "tau_max": self.taus.max(axis=1),
            "repeats": self.taus.shape[1],
        })


def default_sizes(n: int) -> list[int]:
    """The stability curve's default numbers of items: 50, 100, 200, 400 below n, and n;
    with fewer than 100 items, a quarter, a half and three quarters of them instead (at least
    2), so that a small table's curve still has points below all items."""
    sizes = [m for m in (50, 100, 200, 400) if m < n]
    if len(sizes) < 2:
        sizes = sorted({m for m in (n // 4, n // 2, (3 * n) // 4) if 2 <= m < n})
    return sizes + [n]


def stability(table: object, rank_fn: Callable[[object, int], object], *,
              sizes: Sequence[int], repeats: int = 10, seed: int = 0,
              progress: Callable[[int, int], None] | None = None) -> Stability:
    """Stability curve of a ranking method.

    Parameters
    ----------
    table : ScoreTable
        Needs ``items()`` and ``select(items=...)``.
    rank_fn : callable(table, seed) -> ranking
        The ranking method, e.g. ``lambda t, s: riskbench.rank(t, seed=s, n_resamples=200)``.
    sizes : sequence of int
        Numbers of items m; sizes above the number of items are an error.
    repeats : int
        Random subsets per size (drawn without replacement).
    seed : int

    Notes
    -----
    1. Rank on all items once.
    2. For each m and repeat: draw m items without replacement (its own seeded stream), rank on
       them, and take Kendall tau-b against the full ranking.

    The warnings of these rankings (one per subset, often the same) are gathered into one
    warning per kind, which counts them and quotes the first: they concern the curve's own
    rankings, not a result the user reads.
    """
    items = table.items() if callable(getattr(table, "items", None)) else None
    if items is None:
        raise InputError("stability needs a ScoreTable (with item ids)")
    n = len(items)
    sizes = tuple(int(m) for m in sizes)
    bad = [m for m in sizes if not 2 <= m <= n]
    if bad:
        raise InputError(f"stability sizes must be between 2 and the number of items ({n}); "
                         f"got {bad}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise InputError(f"repeats must be a positive integer; got {repeats!r}")
    if sizes and all(m == n for m in sizes):
        warnings.warn(DegenerateDataWarning(
            f"every stability size is all {n} items, so each 'subset' is the whole table and "
            "its Kendall tau measures only the bootstrap's own variation, not the choice of "
            f"items; pass sizes below {n} (e.g. {default_sizes(n)[:-1] or 'none: too few items'})"),
            stacklevel=2)
    seq = np.random.SeedSequence(seed)
    gathered: dict[type, list[str]] = {}  # warning class -> messages of its rankings

    def ranked(data):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RiskbenchWarning)
            result = rank_fn(data, seed)
        for w in caught:
            if issubclass(w.category, RiskbenchWarning):
                gathered.setdefault(w.category, []).append(str(w.message))
            else:  # not ours: as it was
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return result

    full = ranked(table)
    taus = np.empty((len(sizes), repeats))
    streams = seq.spawn(len(sizes) * repeats)
    total, done = len(sizes) * repeats, 0
    for s, m in enumerate(sizes):
        for r in range(repeats):
            rng = np.random.default_rng(streams[s * repeats + r])
            chosen = [items[t] for t in np.sort(rng.choice(n, size=m, replace=False))]
            sub = ranked(table.select(items=chosen))
            taus[s, r] = kendall_tau(sub, full)[0]
            done += 1
            if progress is not None:
                progress(done, total)
    for category, messages in gathered.items():
        warnings.warn(category(
            f"the {total + 1} rankings of the stability curve (on all items and on random "
            f"item subsets, each its own bootstrap) raised {len(messages)} "
            f"{category.__name__}(s), about those rankings, not a result shown; the first: "
            f"{shorten(messages[0])}"), stacklevel=2)
    return Stability(sizes, taus, n, seed)
