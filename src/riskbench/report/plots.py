"""Paper-style plots of riskbench results (matplotlib, no pyplot: safe without a display).

Each function takes a result object and returns a ``matplotlib.figure.Figure``; :func:`save`
writes one as PNG, SVG or PDF. Plots are built for real model names and real data:

- every name goes through one helper (:func:`model_labels`): the model's rank number (the key
  into the ranking table, which has the full names) and the name, shortened in the middle
  beyond :data:`LABEL_CHARS` characters so that labels stay unique;
- the figure size is computed from the measured width of those labels, so long names widen the
  figure instead of squeezing the axes, and from the number of rows, so tick labels never
  overlap (2 to a few hundred models);
- legends sit outside the axes, never over the curves, and every model is accounted for: the
  coloured ones by name, the grey rest as one entry with their count;
- scores with few distinct values (<= :data:`DISCRETE_LEVELS`, e.g. pass/fail or a 5-point
  judge scale) are shown as the share of items at each level (stacked bars), since their
  quantile and TVaR step curves would lie on top of each other.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import numpy as np

from riskbench._atomic import atomic_path
from riskbench._extras import require
from riskbench.errors import InputError

Figure = require("matplotlib.figure", needed_by="riskbench.report.plots").Figure

__all__ = ["quantile_curves", "level_bars", "matrix_heatmap", "ranking_plot",
           "rank_intervals_plot", "ecdf_plot",
           "stability_plot", "save", "model_labels", "discrete_levels", "FORMATS",
           "LABEL_CHARS", "DISCRETE_LEVELS"]

FORMATS = (".png", ".svg", ".pdf")
LABEL_CHARS = 36  # a model name longer than this is shortened in the middle in plots
DISCRETE_LEVELS = 10  # at most this many distinct values: shares per level, not curves
MAX_WIDTH = 10.5  # inches: the report's column shows figures up to this wide at full size
_OTHERS = "#b9b9b9"
_FONT = 8.0
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069]")


# --- text -----------------------------------------------------------------------------------

def plot_text(value: object) -> str:
    """Any name or value as matplotlib text: shown literally (``$`` is not mathtext), control
    characters written as escapes. Every name in a plot goes through here."""
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                         else f"\\u{ord(m.group()):04x}", str(value))
    return shown.replace("$", r"\$")


def _shorten(name: str, width: int, tail: int) -> str:
    if len(name) <= width:
        return name
    tail = min(tail, width - 2)
    return name[:width - 1 - tail] + "…" + name[len(name) - tail:]


def short_names(names, *, width: int = LABEL_CHARS) -> list[str]:
    """Names cut in the middle to at most ``width`` characters, still unique: the head (the
    organisation and model) is kept, and the tail (a run's date or id often tells two runs
    apart) grows from 6 characters until every shortened name is distinct (or the names are
    kept whole)."""
    names = [str(n) for n in names]
    if len(names) > 1 and max(map(len, names)) > width:
        # an organisation or folder every name shares ("org/", "runs/v1/") says nothing in a
        # legend: it is shown as "…"
        cut = os.path.commonprefix(names).rfind("/") + 1
        if cut >= 4 and all(len(n) > cut for n in names):
            names = ["…" + n[cut:] for n in names]
    for tail in range(min(6, width - 2), width - 1):
        short = [_shorten(n, width, tail) for n in names]
        if len(set(short)) == len(set(names)):
            return short
    return names


def model_labels(models, ranks=None, *, width: int = LABEL_CHARS) -> list[str]:
    """Plot labels of models: ``"<rank>. <name>"``, the name shortened to ``width`` characters
    and made safe for matplotlib. ``ranks`` default to 1, 2, ... (the models in rank order)."""
    ranks = range(1, len(models) + 1) if ranks is None else ranks
    return [f"{r}. {plot_text(s)}" for r, s in zip(ranks, short_names(models, width=width),
                                                   strict=True)]


def _points(text: str, size: float) -> float:
    """Width of one line of text in points (DejaVu Sans, matplotlib's default font)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    return TextToPath().get_text_width_height_descent(
        text.replace(r"\$", "$"), FontProperties(size=size), ismath=False)[0]


def _inches(texts, size: float = _FONT) -> float:
    """Width of the widest text, in inches."""
    return max((_points(t, size) for t in texts), default=0.0) / 72.0


def _wrap(text: str, width_in: float, size: float) -> str:
    """Wrap a title or axis label into lines that fit ``width_in`` inches at ``size``."""
    per_char = _points("abcdefghijklmnopqrstuvwxyz0123456789 ", size) / 37.0
    chars = max(20, int(width_in * 72.0 / per_char * 0.95))
    return "\n".join(textwrap.wrap(text, chars)) or text


def _row_font(rows: int) -> tuple[float, float]:
    """(font size, row height in inches) for a list of ``rows`` labels: labels never overlap
    because every row is taller than its font."""
    size = 8.0 if rows <= 40 else (7.0 if rows <= 120 else 6.0)
    return size, max(0.2, size * 1.55 / 72.0)


# --- data helpers -----------------------------------------------------------------------------

def _colours(count: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]


def _focus(k: int, top: int | None) -> int:
    """How many models are drawn in colour: all when the rest would be only a few (a grey
    curve nobody can name is worse than one more colour), else the first ``top``."""
    if top is None or k <= max(int(top), 10):
        return k
    return max(1, int(top))


def _samples(ranking):
    if getattr(ranking, "samples", None) is None:
        raise InputError("this ranking carries no samples to plot; rank with riskbench.rank()")
    return ranking.samples


def discrete_levels(samples, *, limit: int = DISCRETE_LEVELS) -> np.ndarray | None:
    """The distinct values (oriented scale, ascending) pooled over all models when there are at
    most ``limit`` of them, else None."""
    pooled = np.unique(np.concatenate([np.asarray(v, dtype=float) for v in samples.values]))
    return pooled if pooled.size <= limit else None


def _value_label(ranking) -> str:
    name = plot_text(ranking.metric or "score")
    if getattr(ranking.portfolio, "kind", None) == "multivariate":
        return "mean of the normalised metrics (display summary)"
    if ranking.portfolio is not None:
        return f"{ranking.portfolio.kind.upper()} portfolio score (higher is better)"
    return name if ranking.higher_is_better else f"-{name} (negated: lower {name} is better)"


def _level_name(value: float) -> str:
    return f"{value:.4g}"


def _legend_outside(fig, ax, handles, labels, title: str) -> None:
    """A legend to the right of the axes (constrained layout makes room for it)."""
    ax.legend(handles, labels, title=title, fontsize=_FONT - 0.5, title_fontsize=_FONT,
              loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)


def _others_handle(count: int):
    from matplotlib.lines import Line2D

    return (Line2D([], [], color=_OTHERS, lw=1.0),
            f"{count} more model{'s' if count != 1 else ''} (grey; ranks in the table)")


# --- figures ----------------------------------------------------------------------------------

def quantile_curves(ranking, *, kind: str = "quantile", top: int | None = 8,
                    highlight: str | None = None) -> Figure:
    """Quantile curves Q(p) (``kind="quantile"``) or TVaR_p curves (``kind="tvar"``) per model.

    The paper's Figure 1 a/b: model X dominates Y at first order when its quantile curve is
    above everywhere, at second order when its TVaR curve is. ``highlight`` (the chosen
    model) is drawn thick and labelled "(chosen)"; without it the first model of the ranking
    is drawn thick, not labelled (a ranking with no decision chooses nothing). The first
    ``top`` models are coloured and named in the legend (all of them when at most 10), the
    others drawn thin and grey and counted in the legend.
    """
    if kind not in ("quantile", "tvar"):
        raise InputError(f"kind must be 'quantile' or 'tvar'; got {kind!r}")
    samples = _samples(ranking)
    index = {m: a for a, m in enumerate(samples.models)}
    k = len(ranking.models)
    focus = _focus(k, top)
    chosen = highlight
    highlight = highlight or ranking.models[0]
    labels = model_labels(ranking.models[:focus])
    legend_w = _inches(labels + [_others_handle(k - focus)[1]] if focus < k else labels,
                       _FONT - 0.5) + 0.5
    width = min(MAX_WIDTH, 6.0 + legend_w)
    fig = Figure(figsize=(width, max(4.4, 0.2 * (focus + 2) + 1.2)), layout="constrained")
    ax = fig.add_subplot()
    colours = _colours(focus)
    handles = {}
    for pos in range(k - 1, -1, -1):  # first-ranked drawn on top
        model = ranking.models[pos]
        xs = np.sort(samples.values[index[model]])
        n = xs.size
        p = np.arange(1, n + 1) / n
        y = xs if kind == "quantile" else np.cumsum(xs) / np.arange(1, n + 1)
        if pos < focus:
            (line,) = ax.step(np.concatenate([[0], p]), np.concatenate([[y[0]], y]),
                              where="pre", color=colours[pos],
                              lw=3.0 if model == highlight else 1.4,
                              zorder=3 if model == highlight else 2)
            handles[pos] = line
        else:
            ax.step(p, y, where="pre", color=_OTHERS, lw=0.6, zorder=1, rasterized=True)
    ax.set_xlabel("p (share of items, worst first)", fontsize=_FONT + 1)
    ax.set_ylabel(_wrap(_value_label(ranking), 3.6, _FONT + 1), fontsize=_FONT + 1)
    ax.set_title("Quantile curves Q(p)" if kind == "quantile" else
                 "TVaR_p: mean of the worst p-fraction of items", fontsize=_FONT + 2)
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    shown = [handles[pos] for pos in range(focus)]
    names = [lab + (" (chosen)" if ranking.models[pos] == chosen else "")
             for pos, lab in enumerate(labels)]
    if focus < k:
        handle, text = _others_handle(k - focus)
        shown.append(handle)
        names.append(text)
    _legend_outside(fig, ax, shown, names, f"top {focus} of {k}" if focus < k else "rank")
    return fig


def level_bars(ranking, *, levels: np.ndarray | None = None) -> Figure:
    """The share of items at each score level per model, as stacked horizontal bars (rows in
    rank order): the distribution of scores with few distinct values, e.g. pass/fail.

    For such scores first-order dominance reads directly off the bars: X dominates Y when, from
    the worst level up, X's cumulative share never exceeds Y's. Levels are shown in the metric's
    own units; colours run from the worst level (red) to the best (green).
    """
    samples = _samples(ranking)
    levels = discrete_levels(samples) if levels is None else np.asarray(levels, dtype=float)
    if levels is None:
        raise InputError(f"level_bars is for scores with at most {DISCRETE_LEVELS} distinct "
                         "values; use quantile_curves for continuous scores")
    index = {m: a for a, m in enumerate(samples.models)}
    k = len(ranking.models)
    shares = np.zeros((k, levels.size))
    for pos, model in enumerate(ranking.models):
        values = np.asarray(samples.values[index[model]], dtype=float)
        shares[pos] = (values[:, None] == levels[None, :]).mean(axis=0)
    sign = 1.0 if samples.higher_is_better else -1.0  # back to the metric's own units
    return _bars_figure(model_labels(ranking.models), shares, [sign * v for v in levels],
                        title="Share of items at each score level (worst level on the left)",
                        xlabel=f"share of items; levels of {_value_label(ranking)}")


def _bars_figure(labels, shares, raw_levels, *, title: str, xlabel: str) -> Figure:
    size, row = _row_font(len(labels))
    label_w = _inches(labels, size)
    axes_w = 5.0
    legend_names = [plot_text(_level_name(v)) for v in raw_levels]
    legend_w = _inches(legend_names, _FONT) + 0.9
    width = min(MAX_WIDTH, label_w + axes_w + legend_w + 0.4)
    fig = Figure(figsize=(width, row * len(labels) + 1.3), layout="constrained")
    ax = fig.add_subplot()
    _draw_bars(ax, labels, shares, raw_levels, size)
    ax.set_title(_wrap(title, axes_w, _FONT + 2), fontsize=_FONT + 2)  # centred on the axes
    ax.set_xlabel(_wrap(xlabel, axes_w, _FONT + 1), fontsize=_FONT + 1)
    ax.legend(title="level", fontsize=_FONT, title_fontsize=_FONT, loc="upper left",
              bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    return fig


def _draw_bars(ax, labels, shares, raw_levels, size: float) -> None:
    from matplotlib import colormaps

    cmap = colormaps["RdYlGn"]
    y = np.arange(len(labels))
    left = np.zeros(len(labels))
    count = shares.shape[1]
    for u in range(count):
        colour = cmap(0.08 + 0.84 * (u / max(1, count - 1))) if count > 1 else cmap(0.9)
        ax.barh(y, shares[:, u], left=left, height=0.8, color=colour, edgecolor="white",
                linewidth=0.4, label=plot_text(_level_name(raw_levels[u])))
        left += shares[:, u]
    ax.set_yticks(y, labels, fontsize=size)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.tick_params(axis="x", labelsize=_FONT)


def matrix_heatmap(ranking, *, top: int | None = None) -> Figure:
    """Delta eps = eps_i - eps_j (relative test) or eps(i, j) (absolute test), rank order.

    A dot marks the cells where H0 was rejected in favour of the row model. Rows and columns
    are the first ``top`` models (all by default); labels carry the rank number.
    """
    k = len(ranking.models)
    focus = k if top is None else max(1, min(int(top), k))
    test = ranking.test
    order = ranking._perm[:focus]
    values = test.statistic[np.ix_(order, order)]
    decided = test.reject[np.ix_(order, order)]
    labels = model_labels(ranking.models[:focus], width=30)
    size = 8.0 if focus <= 30 else (7.0 if focus <= 45 else 6.0)
    cell = max(0.13, size * 1.55 / 72.0)  # a row of tick labels is taller than its font
    side = max(2.6, cell * focus)
    label_w = _inches(labels, size) + 0.15
    # the axes are square: the y labels and the colour bar widen it, the rotated x labels,
    # the title and the legend below make it taller
    fig = Figure(figsize=(label_w + side + 1.3, label_w + side + 1.0), layout="constrained")
    ax = fig.add_subplot()
    if test.test == "absolute":
        image = ax.imshow(values, cmap="viridis_r", vmin=0, vmax=1)
        label = "eps(row, column)\n(below eps0: row dominates)"
    else:
        bound = float(np.nanmax(np.abs(values))) or 1.0
        image = ax.imshow(values, cmap="RdBu", vmin=-bound, vmax=bound)
        label = ("eps_row - eps_col" if test.test == "relative" else
                 "score_col - score_row") + "\n(negative: row better)"
    rows, cols = np.nonzero(decided)
    dots = ax.scatter(cols, rows, s=max(2.0, min(30.0, 900.0 / focus)), c="black", marker="o")
    ax.set_xticks(range(focus), labels, rotation=90, fontsize=size)
    ax.set_yticks(range(focus), labels, fontsize=size)
    bar = fig.colorbar(image, ax=ax, shrink=1.0, fraction=0.05, pad=0.02)
    bar.set_label(label, fontsize=_FONT)
    bar.ax.tick_params(labelsize=_FONT)
    title = f"Pairwise test, {test.correction} at alpha = {test.alpha:g}" + (
        f" (first {focus} of {k} models)" if focus < k else "")
    ax.set_title(_wrap(title, side, _FONT + 2), fontsize=_FONT + 2)
    # below everything, rotated tick labels included: constrained layout reserves the room
    fig.legend([dots], ["H0 rejected: the row model beats the column model"],
               loc="outside lower center", fontsize=_FONT, frameon=False)
    return fig


def ranking_plot(ranking, *, top: int | None = None, z: float = 1.96) -> Figure:
    """eps_i (or the criterion score) per model with +-z bootstrap-sd intervals; one row per
    model, labels keyed by rank. Each label carries the model's compact letters when the
    ranking has them (models sharing a letter are not separated; the top set in bold), else
    its tie group [g] (groups shaded in alternating bands; the best set in bold)."""
    k = len(ranking.models)
    focus = k if top is None else max(1, min(int(top), k))
    dominance = ranking.criterion == "dominance"
    value = ranking.eps if dominance else ranking.score
    sd = ranking.eps_sd if dominance else np.full(k, np.nan)
    letters = tuple(getattr(ranking, "letters", ()) or ())
    groups = np.asarray(getattr(ranking, "group", np.ones(k, dtype=int)))[:focus]
    names = model_labels(ranking.models[:focus])
    if letters:
        labels = [f"{lab}  {plot_text(let)}" for lab, let in zip(names, letters, strict=False)]
        bold = getattr(ranking, "top_set", None)
        bold = ranking.best_set if bold is None else bold
    else:
        labels = [f"{lab}  [{g}]" for lab, g in zip(names, groups, strict=True)]
        bold = ranking.best_set
    size, row = _row_font(focus)
    label_w = _inches(labels, size) * 1.08 + 0.1  # bold labels are a little wider
    axes_w = 5.0
    width = min(MAX_WIDTH, label_w + axes_w + 0.4)
    fig = Figure(figsize=(width, row * focus + 1.5), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(focus)
    if not letters:
        for g in np.unique(groups):
            rows = y[groups == g]
            if g % 2 == 0:
                ax.axhspan(rows.min() - 0.5, rows.max() + 0.5, color="#eeeeee", zorder=0)
        colours = _colours(int(groups.max()))
        dots = [colours[(g - 1) % len(colours)] for g in groups]
    else:
        dots = ["#2f9e44" if m in bold else "#4a6fa5" for m in ranking.models[:focus]]
    ax.errorbar(value[:focus], y, xerr=np.where(np.isfinite(sd[:focus]), z * sd[:focus], 0),
                fmt="none", ecolor="#555555", elinewidth=1, capsize=2, zorder=2)
    ax.scatter(value[:focus], y, c=dots, s=28, zorder=3)
    ax.set_yticks(y, labels, fontsize=size)
    for tick, model in zip(ax.get_yticklabels(), ranking.models[:focus], strict=True):
        if model in bold:
            tick.set_fontweight("bold")
    ax.set_ylim(focus - 0.5, -0.5)
    ax.tick_params(axis="x", labelsize=_FONT)
    xlabel = ("eps_i: mean violation ratio against the others (lower is better)" if dominance
              else f"{ranking.criterion} score (higher is better)")
    ax.set_xlabel(_wrap(xlabel, axes_w, _FONT + 1), fontsize=_FONT + 1)
    title = ((f"Ranking with letters (shared letter: not separated) and +-{z:g} sd bootstrap "
              "intervals; bold: top set") if letters else
             f"Ranking with tie groups [g] and +-{z:g} sd bootstrap intervals; bold: best set")
    title += f" (first {focus} of {k} models)" if focus < k else ""
    ax.set_title(_wrap(title, axes_w, _FONT + 2), fontsize=_FONT + 2)  # centred on the axes
    ax.grid(axis="x", alpha=0.3)
    return fig


def rank_intervals_plot(ranking, *, top: int | None = None) -> Figure:
    """Each model's rank confidence interval ``[rank_low, rank_high]`` as a horizontal segment,
    its place as a dot, one row per model in rank order; the models whose interval starts at 1
    (the top set: the models that can be first) in green, the others grey-blue; each label
    carries the model's compact letters (models sharing a letter are not separated).

    Under a correction with a simultaneous guarantee (Bonferroni, Holm) the intervals hold all
    at once with probability at least 1 - alpha; under BH they are bounds without a guarantee,
    and the title says so.
    """
    low = getattr(ranking, "rank_low", None)
    high = getattr(ranking, "rank_high", None)
    if low is None or high is None:
        raise InputError("this ranking has no rank intervals; rank with riskbench.rank()")
    k = len(ranking.models)
    focus = k if top is None else max(1, min(int(top), k))
    letters = tuple(getattr(ranking, "letters", ()) or ("",) * k)
    labels = [f"{lab}  {plot_text(let)}".rstrip() if let else lab for lab, let in
              zip(model_labels(ranking.models[:focus]), letters[:focus], strict=True)]
    size, row = _row_font(focus)
    label_w = _inches(labels, size) * 1.08 + 0.1
    axes_w = 5.0
    width = min(MAX_WIDTH, label_w + axes_w + 0.4)
    fig = Figure(figsize=(width, row * focus + 1.5), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(focus)
    lo, hi = np.asarray(low[:focus], dtype=float), np.asarray(high[:focus], dtype=float)
    first = lo == 1
    place = np.asarray(getattr(ranking, "rank", np.arange(1, k + 1)), dtype=float)[:focus]
    colour = np.where(first, "#2f9e44", "#4a6fa5")
    ax.hlines(y, lo - 0.3, hi + 0.3, colors=colour, lw=max(2.0, min(6.0, 160 / focus)),
              alpha=0.55, zorder=2)
    ax.scatter(place, y, c="black", s=max(6.0, min(24.0, 900 / focus)), zorder=3)
    ax.set_yticks(y, labels, fontsize=size)
    for tick, is_first in zip(ax.get_yticklabels(), first, strict=True):
        if is_first:
            tick.set_fontweight("bold")
    ax.set_ylim(focus - 0.5, -0.5)
    ax.set_xlim(0.4, k + 0.6)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=min(k, 12), integer=True, min_n_ticks=1))
    ax.tick_params(axis="x", labelsize=_FONT)
    ax.set_xlabel("rank (1 = best)", fontsize=_FONT + 1)
    t = ranking.test
    level = getattr(ranking, "interval_level", None)
    title = (f"Rank confidence intervals, simultaneous at {level:.0%} ({t.correction}); green: "
             "the models that can be first" if level is not None else
             "Rank bounds from the BH discoveries: no simultaneous guarantee; green: not beaten")
    title += f" (first {focus} of {k} models)" if focus < k else ""
    ax.set_title(_wrap(title, axes_w, _FONT + 2), fontsize=_FONT + 2)
    ax.grid(axis="x", alpha=0.3)
    return fig


def ecdf_plot(table, *, ranking=None, metrics=None, models=None,
              top: int | None = 8) -> Figure:
    """Empirical CDF of each model's scores, one panel per metric, in the metric's own units;
    a metric with few distinct values gets the share of items at each level instead.

    Models are taken in the order of ``ranking`` when given (labels keyed by its rank), its
    first ``top`` coloured and named in the legend (all when at most 10), the rest grey and
    counted.
    """
    metrics = list(metrics or table.metrics)
    chosen = list(models or (ranking.models if ranking is not None else table.models))
    k = len(chosen)
    focus = _focus(k, top)
    colours = _colours(focus)
    labels = model_labels(chosen)
    # infinite scores (kept by on_infinite="keep") are outcomes: counted in every share,
    # drawn off the axis at the side they belong to
    discrete = {m: discrete_levels(table.samples(m, allow_infinite=True)) for m in metrics}
    bars = any(v is not None for v in discrete.values())
    size, row = _row_font(k)
    cols = min(2 if bars else 3, len(metrics))
    rows = -(-len(metrics) // cols)
    label_w = _inches(labels, size) if bars else 0.0
    panel_w = (3.6 if not bars else 3.0 + label_w)
    panel_h = max(3.0, row * k + 0.9) if bars else 3.0
    entries = labels[:focus] + ([_others_handle(k - focus)[1]] if focus < k else [])
    legend_w = _inches(entries, _FONT - 0.5) + 0.5
    width = min(MAX_WIDTH + 2.0, panel_w * cols + legend_w)
    fig = Figure(figsize=(width, panel_h * rows + 0.4), layout="constrained")
    handles = {}
    for u, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, u + 1)
        samples = table.samples(metric, allow_infinite=True)
        index = {m: a for a, m in enumerate(samples.models)}
        direction = "higher" if table.higher_is_better[metric] else "lower"
        infinite = int(sum(np.isinf(np.asarray(v, dtype=float)).sum() for v in samples.values))
        title = f"{plot_text(metric)} ({direction} is better)"
        if infinite and discrete[metric] is None:
            title += f"; {infinite} infinite values counted in the shares, off the axis"
        ax.set_title(_wrap(title, panel_w - 0.3, _FONT + 1), fontsize=_FONT + 1)
        present = [m for m in chosen if m in index]
        if discrete[metric] is not None:
            levels = discrete[metric]
            shares = np.array([(np.asarray(samples.values[index[m]])[:, None] == levels).mean(0)
                               for m in present])
            sign = 1.0 if samples.higher_is_better else -1.0
            _draw_bars(ax, [labels[chosen.index(m)] for m in present], shares,
                       [sign * v for v in levels], size)
            ax.set_xlabel("share of items at each level", fontsize=_FONT)
            ax.legend(title="level", fontsize=_FONT - 0.5, title_fontsize=_FONT,
                      loc="lower center", bbox_to_anchor=(0.5, 1.0 + 0.25 / panel_h),
                      ncols=min(5, levels.size), frameon=False, borderaxespad=0.0)
            continue
        for pos in range(k - 1, -1, -1):
            if chosen[pos] not in index:
                continue
            every = np.sort(samples.raw(index[chosen[pos]]))
            raw = every[np.isfinite(every)]
            below = int((every == -np.inf).sum())  # share <= x counts them at every x
            p = (below + np.arange(1, raw.size + 1)) / every.size
            if raw.size == 0:
                continue
            if pos < focus:
                (handles[pos],) = ax.step(raw, p, where="post", color=colours[pos], lw=1.3)
            else:
                ax.step(raw, p, where="post", color=_OTHERS, lw=0.5, rasterized=True)
        ax.set_ylabel("share of items <= x", fontsize=_FONT)
        ax.tick_params(labelsize=_FONT)
        pooled = np.concatenate(samples.values) * (1 if samples.higher_is_better else -1)
        pooled = pooled[np.isfinite(pooled)]
        if pooled.size == 0:
            continue
        median = float(np.median(pooled))
        # a long right tail on an unbounded scale (lengths, counts); shares stay linear
        if pooled.min() >= 0 and pooled.max() > 1 and median > 0 and pooled.max() > 20 * median:
            ax.set_xscale("symlog", linthresh=float(np.quantile(pooled[pooled > 0], 0.01)))
        ax.grid(alpha=0.3)
    if handles:  # one legend for all curve panels, outside them, every model accounted for
        shown = [handles[pos] for pos in sorted(handles)]
        names = [labels[pos] for pos in sorted(handles)]
        if focus < k:
            handle, text = _others_handle(k - focus)
            shown.append(handle)
            names.append(text)
        fig.legend(shown, names, loc="outside right upper", fontsize=_FONT - 0.5,
                   title="rank. model", title_fontsize=_FONT, frameon=False)
    return fig


def stability_plot(stability) -> Figure:
    """Kendall tau between the ranking on m random items and on all items, against m."""
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.add_subplot()
    sizes = np.array(stability.sizes)
    ax.fill_between(sizes, stability.taus.min(axis=1), stability.taus.max(axis=1),
                    color="#c6dbef", label="min-max over subsets")
    ax.errorbar(sizes, stability.mean, yerr=stability.sd, fmt="o-", capsize=3,
                label="mean +- sd")
    ax.set_xscale("log")
    _size_ticks(ax, sizes)
    ax.set_xlabel("items in the subset (m)", fontsize=_FONT + 1)
    ax.set_ylabel("Kendall tau-b vs all items", fontsize=_FONT + 1)
    ax.set_ylim(min(0.0, float(stability.taus.min()) - 0.05), 1.02)
    ax.tick_params(labelsize=_FONT)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=_FONT, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0)
    ax.set_title("Ranking stability", fontsize=_FONT + 2)
    return fig


def _size_ticks(ax, sizes, axes_inches: float = 4.4) -> None:
    """The subset sizes as the only tick labels of a log axis, thinned so that no two labels
    are closer than their width (log-axis minor labels such as 3x10^2 and 4x10^2 collide)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    sizes = sorted({int(m) for m in sizes})
    logs = np.log10(sizes)
    span = max(float(logs[-1] - logs[0]), 1e-9) * 1.1  # the axis adds a margin
    gap = span * 0.45 / axes_inches  # a label is about 0.45 in wide at this font
    kept = [sizes[-1]]  # the last size: all items
    for m, lg in zip(sizes[-2::-1], logs[-2::-1], strict=True):
        if np.log10(kept[-1]) - lg >= gap:
            kept.append(m)
    kept.sort()
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(kept, [str(m) for m in kept])


def save(fig: Figure, path: str | Path, *, dpi: int = 150) -> Path:
    """Write a figure as PNG, SVG or PDF (by the extension), atomically."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InputError(f"{path}: plots are written as {', '.join(FORMATS)}; got "
                         f"{path.suffix or 'no extension'}")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lower()[1:])
    return path
