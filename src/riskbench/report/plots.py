"""Paper-style plots of riskbench results (matplotlib, no pyplot: safe without a display).

Each function takes a result object and returns a ``matplotlib.figure.Figure``; :func:`save`
writes one as PNG, SVG or PDF. With many models the plots focus on the first ``top`` models of
the ranking (coloured, labelled) and draw the others thin and grey, so 50+ models stay readable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from riskbench._atomic import atomic_path
from riskbench.errors import InputError

__all__ = ["quantile_curves", "matrix_heatmap", "ranking_plot", "ecdf_plot", "stability_plot",
           "save", "FORMATS"]

FORMATS = (".png", ".svg", ".pdf")
_OTHERS = "#b9b9b9"


def _colours(count: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]


def _focus(ranking, top: int | None) -> int:
    k = len(ranking.models)
    return k if top is None else max(1, min(int(top), k))


def _samples(ranking):
    if ranking.samples is None:
        raise InputError("this ranking carries no samples to plot; rank with riskbench.rank()")
    return ranking.samples


def _value_label(ranking) -> str:
    name = ranking.metric or "score"
    if getattr(ranking.portfolio, "kind", None) == "multivariate":
        return "mean of the normalised metrics (display summary)"
    if ranking.portfolio is not None:
        return f"{ranking.portfolio.kind.upper()} portfolio score (higher is better)"
    return name if ranking.higher_is_better else f"-{name} (negated: lower {name} is better)"


def quantile_curves(ranking, *, kind: str = "quantile", top: int | None = 8,
                    highlight: str | None = None) -> Figure:
    """Quantile curves Q(p) (``kind="quantile"``) or TVaR_p curves (``kind="tvar"``) per model.

    The paper's Figure 1 a/b: model X dominates Y at first order when its quantile curve is
    above everywhere, at second order when its TVaR curve is. ``highlight`` (the chosen
    model; labelled so) is drawn thick, else the first model of the ranking (thick, not
    labelled as chosen: a ranking with no decision chooses nothing).
    """
    if kind not in ("quantile", "tvar"):
        raise InputError(f"kind must be 'quantile' or 'tvar'; got {kind!r}")
    samples = _samples(ranking)
    index = {m: a for a, m in enumerate(samples.models)}
    focus = _focus(ranking, top)
    chosen = highlight
    highlight = highlight or ranking.models[0]
    fig = Figure(figsize=(7.5, 4.6), layout="constrained")
    ax = fig.add_subplot()
    colours = _colours(focus)
    for pos in range(len(ranking.models) - 1, -1, -1):  # first-ranked drawn on top
        model = ranking.models[pos]
        xs = np.sort(samples.values[index[model]])
        n = xs.size
        p = np.arange(1, n + 1) / n
        y = xs if kind == "quantile" else np.cumsum(xs) / np.arange(1, n + 1)
        if pos < focus:
            ax.step(np.concatenate([[0], p]), np.concatenate([[y[0]], y]), where="pre",
                    color=colours[pos], lw=3.0 if model == highlight else 1.4,
                    label=f"{pos + 1}. {model}" + (" (chosen)" if model == chosen else ""),
                    zorder=3 if model == highlight else 2)
        else:
            ax.step(p, y, where="pre", color=_OTHERS, lw=0.6, zorder=1, rasterized=True)
    ax.set_xlabel("p (share of items, worst first)")
    ax.set_ylabel(_value_label(ranking))
    ax.set_title("Quantile curves Q(p)" if kind == "quantile" else
                 "TVaR_p: mean of the worst p-fraction of items")
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    extra = len(ranking.models) - focus
    handles, labels = ax.get_legend_handles_labels()
    ordered = sorted(zip(labels, handles, strict=True), key=lambda x: int(x[0].split(".")[0]))
    ax.legend([h for _, h in ordered], [lab for lab, _ in ordered],
              title=f"top {focus}" + (f" (+{extra} in grey)" if extra else ""),
              fontsize=7.5, title_fontsize=8, loc="best", frameon=False)
    return fig


def matrix_heatmap(ranking, *, top: int | None = None) -> Figure:
    """Delta eps = eps_i - eps_j (relative test) or eps(i, j) (absolute test), rank order.

    A dot marks the cells where H0 was rejected in favour of the row model.
    """
    focus = _focus(ranking, top)
    test = ranking.test
    order = ranking._perm[:focus]
    values = test.statistic[np.ix_(order, order)]
    decided = test.reject[np.ix_(order, order)]
    names = list(ranking.models[:focus])
    size = min(11.0, 3.0 + 0.16 * focus)
    fig = Figure(figsize=(size + 1.4, size), layout="constrained")
    ax = fig.add_subplot()
    if test.test == "absolute":
        image = ax.imshow(values, cmap="viridis_r", vmin=0, vmax=1)
        label = "eps(row, column)"
    else:
        bound = np.nanmax(np.abs(values)) or 1.0
        image = ax.imshow(values, cmap="RdBu", vmin=-bound, vmax=bound)
        label = ("eps_row - eps_col" if test.test == "relative" else
                 "score_col - score_row") + " (negative: row better)"
    rows, cols = np.nonzero(decided)
    ax.scatter(cols, rows, s=max(2, 300 / focus), c="black", marker="o",
               label="H0 rejected: row beats column")
    fontsize = max(4.0, min(9.0, 360 / max(focus, 1)))
    ax.set_xticks(range(focus), names, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(focus), names, fontsize=fontsize)
    fig.colorbar(image, ax=ax, shrink=0.7, label=label)
    ax.set_title(f"Pairwise test, {test.correction} at alpha = {test.alpha:g}"
                 + (f" (first {focus} of {len(ranking.models)})"
                    if focus < len(ranking.models) else ""), fontsize=10)
    ax.legend(loc="upper right", bbox_to_anchor=(1.0, -0.02 - 0.004 * focus), fontsize=8,
              frameon=False)
    return fig


def ranking_plot(ranking, *, top: int | None = None, z: float = 1.96) -> Figure:
    """eps_i (or the criterion score) per model with +-z bootstrap-sd intervals, each model
    labelled with its rank interval and letters (models sharing a letter are not separated),
    the top set in bold."""
    focus = _focus(ranking, top)
    dominance = ranking.criterion == "dominance"
    value = ranking.eps if dominance else ranking.score
    sd = ranking.eps_sd if dominance else np.full(len(ranking.models), np.nan)
    fig = Figure(figsize=(7.5, max(2.5, 0.22 * focus + 1.2)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(focus)
    colours = _colours(1)
    ax.errorbar(value[:focus], y, xerr=np.where(np.isfinite(sd[:focus]), z * sd[:focus], 0),
                fmt="none", ecolor="#555555", elinewidth=1, capsize=2, zorder=2)
    ax.scatter(value[:focus], y, c=[colours[0]] * focus, s=28, zorder=3)
    labels = [f"{m}  [{int(lo)}-{int(hi)}] {let}" for m, lo, hi, let in zip(
        ranking.models[:focus], ranking.rank_low[:focus], ranking.rank_high[:focus],
        ranking.letters[:focus], strict=True)]
    ax.set_yticks(y, labels, fontsize=max(5.0, min(9.0, 300 / max(focus, 1))))
    top_set = ranking.top_set or ()
    for tick, model in zip(ax.get_yticklabels(), ranking.models[:focus], strict=True):
        if model in top_set:
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlabel("eps_i: mean violation ratio against the others (lower is better)"
                  if dominance else f"{ranking.criterion} score (higher is better)")
    ax.set_title(f"Ranking: [rank interval] and letters (shared letter: not separated); "
                 f"+-{z:g} sd bootstrap intervals; bold: top set", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return fig


def ecdf_plot(table, *, ranking=None, metrics=None, models=None,
              top: int | None = 8) -> Figure:
    """Empirical CDF of each model's scores, one panel per metric, in the metric's own units.

    Models are taken in the order of ``ranking`` when given (its first ``top`` coloured).
    """
    metrics = list(metrics or table.metrics)
    chosen = list(models or (ranking.models if ranking is not None else table.models))
    focus = len(chosen) if top is None else min(top, len(chosen))
    colours = _colours(focus)
    cols = min(3, len(metrics))
    rows = -(-len(metrics) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    for u, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, u + 1)
        samples = table.samples(metric)
        index = {m: a for a, m in enumerate(samples.models)}
        for pos in range(len(chosen) - 1, -1, -1):
            raw = np.sort(samples.raw(index[chosen[pos]]))
            p = np.arange(1, raw.size + 1) / raw.size
            if pos < focus:
                ax.step(raw, p, where="post", color=colours[pos], lw=1.3, label=chosen[pos])
            else:
                ax.step(raw, p, where="post", color=_OTHERS, lw=0.5, rasterized=True)
        direction = "higher" if table.higher_is_better[metric] else "lower"
        ax.set_title(f"{metric} ({direction} is better)", fontsize=9)
        ax.set_ylabel("share of items <= x", fontsize=8)
        pooled = np.concatenate(samples.values) * (1 if samples.higher_is_better else -1)
        median = float(np.median(pooled))
        # a long right tail on an unbounded scale (lengths, counts); shares stay linear
        if pooled.min() >= 0 and pooled.max() > 1 and median > 0 and pooled.max() > 20 * median:
            ax.set_xscale("symlog", linthresh=float(np.quantile(pooled[pooled > 0], 0.01)))
        ax.grid(alpha=0.3)
        if u == 0:
            handles, labels = ax.get_legend_handles_labels()
            ax.legend(handles[::-1], labels[::-1], fontsize=6.5, frameon=False)
    return fig


def stability_plot(stability) -> Figure:
    """Kendall tau between the ranking on m random items and on all items, against m."""
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    sizes = np.array(stability.sizes)
    ax.fill_between(sizes, stability.taus.min(axis=1), stability.taus.max(axis=1),
                    color="#c6dbef", label="min-max over subsets")
    ax.errorbar(sizes, stability.mean, yerr=stability.sd, fmt="o-", capsize=3,
                label="mean +- sd")
    ax.set_xscale("log")
    ax.set_xlabel("items in the subset (m)")
    ax.set_ylabel("Kendall tau-b vs all items")
    ax.set_ylim(min(0.0, float(stability.taus.min()) - 0.05), 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Ranking stability", fontsize=10)
    return fig


def save(fig: Figure, path: str | Path, *, dpi: int = 150) -> Path:
    """Write a figure as PNG, SVG or PDF (by the extension), atomically."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InputError(f"{path}: plots are written as {', '.join(FORMATS)}; got "
                         f"{path.suffix or 'no extension'}")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lower()[1:])
    return path
