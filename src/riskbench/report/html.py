"""A self-contained HTML report: the decision, a sortable ranking, the plots, per-model detail,
provenance and the command that reproduces it. One file, inline SVG, no network at view time.
"""

from __future__ import annotations

import datetime as _dt
import html
import io
from pathlib import Path

import numpy as np

from riskbench._atomic import atomic_path, check_output
from riskbench._extras import require
from riskbench.errors import InputError
from riskbench.report.evidence import WORST_ITEMS, compare_items, why, worst_items
from riskbench.risk import mean_risk_scores

__all__ = ["render_report", "write_report", "ranking_table_html", "pairs_table_html",
           "selection_html", "notebook_html", "TVAR_LEVELS", "WORST_ITEMS", "worst_items"]

TVAR_LEVELS = (0.01, 0.05, 0.10, 0.25)
MATRIX_MODELS = 60  # the pairwise matrix shows at most this many models

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;
background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:1.6rem;margin:.2em 0}h2{font-size:1.2rem;margin-top:2em;border-bottom:1px solid #ddd;
padding-bottom:.2em}h3{font-size:1rem}
.decision{background:#fff;border:1px solid #d0d7de;border-left:6px solid #2f81f7;padding:12px 18px;
border-radius:6px}
.decision .chosen{font-size:1.3rem;font-weight:600}
.muted{color:#57606a}.small{font-size:.85rem}
table.rb{border-collapse:collapse;background:#fff;font-size:.86rem;width:100%}
table.rb th,table.rb td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:right}
table.rb th{background:#f6f8fa;position:sticky;top:0;cursor:pointer;user-select:none}
table.rb th.sorted-asc::after{content:" \\25B2"}table.rb th.sorted-desc::after{content:" \\25BC"}
table.rb td.text,table.rb th.text{text-align:left}
table.rb tr.g-odd td{background:#ffffff}table.rb tr.g-even td{background:#f3f6fa}
table.rb tr.best td.model{font-weight:600}
section.answer{display:grid;grid-template-columns:minmax(0,1.1fr) minmax(0,1fr);gap:16px;
align-items:start}@media (max-width:900px){section.answer{grid-template-columns:1fr}}
.why,.where{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:4px 18px 10px;
margin-top:12px}.where{margin-top:0}.why h2,.where h2{margin-top:.6em;font-size:1.05rem}
.why .sentence{font-size:1rem;line-height:1.45}
tr.subject td{background:#fff3c4 !important;font-weight:600}
details.text{border:none;padding:0;margin:0}details.compare{margin:4px 0}
details.text pre{max-height:16em;overflow:auto;white-space:pre-wrap}
.decision .chosen,.decision p,.why p,.where h2,td.model,summary{overflow-wrap:anywhere}
.where{min-width:0}table.rb th{white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
.warnings{background:#fff8e1;border:1px solid #f0c36d;border-radius:6px;padding:8px 16px;
margin:12px 0}
figure{margin:16px 0;background:#fff;border:1px solid #eaeef2;border-radius:6px;padding:8px}
figure svg{max-width:100%;height:auto}figcaption{font-size:.85rem;color:#57606a}
details{background:#fff;border:1px solid #eaeef2;border-radius:6px;margin:6px 0;padding:6px 12px}
summary{cursor:pointer;font-weight:600}
code,pre{background:#f6f8fa;border-radius:4px;padding:2px 4px;font-size:.85rem}
pre{padding:10px;overflow-x:auto;white-space:pre-wrap}
"""

# Sort a table by a column on header click; numbers numerically, "-" last. No dependencies.
_JS = """
document.querySelectorAll('table.rb.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = !th.classList.contains('sorted-asc');
      table.querySelectorAll('th').forEach(function (h) {
        h.classList.remove('sorted-asc', 'sorted-desc');
      });
      th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(x: float, digits: int = 4) -> str:
    if x is None or np.isnan(x):
        return "-"
    if np.isinf(x):  # a kept infinite score is an outcome, not a missing value
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def _cell(value: object, shown: str | None = None, cls: str = "") -> str:
    sort = "" if value is None or (isinstance(value, float) and not np.isfinite(value)) \
        else value
    klass = f' class="{cls}"' if cls else ""
    return f'<td{klass} data-v="{_e(sort)}">{_e(value if shown is None else shown)}</td>'


def ranking_table_html(ranking, *, top: int | None = None) -> str:
    """The ranking as a sortable HTML table (also the notebook view of a Ranking): rank
    (mid-ranks for identical distributions), rank interval, letters (models sharing a letter
    are not separated), the statistic, wins and the risk summaries. Top-set models are bold."""
    dominance = ranking.criterion == "dominance"
    interval = "rank interval" if ranking.simultaneous else "rank bounds (no guarantee)"
    head = ["rank", interval, "letters", "model", "eps" if dominance else ranking.criterion,
            "eps sd", "wins", "top set", "mean", f"TVaR {ranking.p * 100:g}%"]
    rows = []
    shown = len(ranking.models) if top is None else min(top, len(ranking.models))
    top_set = ranking.top_set
    for a in range(shown):
        m = ranking.models[a]
        first = top_set is not None and m in top_set
        stat = ranking.eps[a] if dominance else ranking.score[a]
        low, high = int(ranking.rank_low[a]), int(ranking.rank_high[a])
        rows.append(
            f'<tr class="g-odd{" best" if first else ""}">'
            + _cell(float(ranking.rank[a]), f"{float(ranking.rank[a]):g}")
            + _cell(low + high / 1000.0, f"[{low}, {high}]")
            + _cell(ranking.letters[a], cls="text") + _cell(m, cls="text model")
            + _cell(float(stat), _num(float(stat))) + _cell(float(ranking.eps_sd[a]),
                                                            _num(float(ranking.eps_sd[a]), 3))
            + _cell(int(ranking.wins[a]))
            + _cell("" if top_set is None else int(first),
                    "n/a (BH)" if top_set is None else ("yes" if first else ""), "text")
            + _cell(float(ranking.mean[a]), _num(float(ranking.mean[a])))
            + _cell(float(ranking.tvar[a]), _num(float(ranking.tvar[a]))) + "</tr>")
    header = "".join(
        f'<th class="{"text" if h in ("model", "top set", "letters") else ""}">{_e(h)}</th>'
        for h in head)
    return (f'<table class="rb sortable"><thead><tr>{header}</tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def pairs_table_html(test, *, limit: int = 200) -> str:
    """Rejected pairs of a PairwiseTest as a sortable table (the notebook view of a test)."""
    k = len(test.models)
    rows = []
    for i in range(k):
        for j in range(k):
            if i != j and test.reject[i, j]:
                rows.append((test.models[i], test.models[j], test.statistic[i, j], test.sd[i, j],
                             test.pvalue_adjusted[i, j]))
    rows = rows[:limit]
    body = "".join("<tr>" + _cell(a, cls="text") + _cell(b, cls="text")
                   + _cell(float(s), _num(float(s))) + _cell(float(sd), _num(float(sd), 3))
                   + _cell(float(p), f"{p:.2e}") + "</tr>" for a, b, s, sd, p in rows)
    return ('<p class="small">' + _e(test.h0) + "</p>"
            '<table class="rb sortable"><thead><tr><th class="text">better</th>'
            '<th class="text">than</th><th>statistic</th><th>sd</th><th>p adjusted</th>'
            f"</tr></thead><tbody>{body}</tbody></table>")


def _svg(fig, salt: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: inline SVG


def _figure(fig, salt: str, caption: str) -> str:
    return f"<figure>{_svg(fig, salt)}<figcaption>{_e(caption)}</figcaption></figure>"


LISTED_AT_MINIMUM = 500  # ids listed under "all items at the minimum" (the count is exact)


TEXT_SHOWN = 4000  # characters of a prompt or response shown (the rest is counted)


def _texts(table, ranking):
    """A function (model, item) -> {"prompt", "response", "reference"} when the table kept the
    logs' texts, else None."""
    if table is None or not callable(getattr(table, "text", None)):
        return None
    metric = ranking.metric if ranking.portfolio is None else None
    frame = table.texts(metric) if callable(getattr(table, "texts", None)) else None
    if frame is not None and len(frame) == 0:
        return None
    return lambda model, item: table.text(model, item, metric)


def _clip(text: str) -> str:
    more = len(text) - TEXT_SHOWN
    return text[:TEXT_SHOWN] + (f"\n[... {more} more characters]" if more > 0 else "")


def _text_html(texts, model: str, item: str) -> str:
    if texts is None:
        return ""
    found = texts(model, item)
    parts = [(k, found.get(k)) for k in ("prompt", "response", "reference") if found.get(k)]
    if not parts:
        return "<span class='muted small'>(no text in the log)</span>"
    return "".join(f"<details class='text'><summary>{k}</summary><pre>{_e(_clip(v))}</pre>"
                   "</details>" for k, v in parts)


class _Metrics:
    """Each portfolio metric's value of a (model, item) in the metric's own units, for the
    reader of a portfolio ranking (whose per-item score is a normalised summary)."""

    def __init__(self, table, ranking) -> None:
        names = tuple(getattr(ranking.portfolio, "metrics", ()) or ())
        self.names = names if table is not None else ()
        self.values = {}
        for m in self.names:
            long = table.matrix(m).stack()  # (model, item) -> value, absent cells dropped
            self.values[m] = dict(zip(((str(a), str(b)) for a, b in long.index),
                                      long.to_numpy(dtype=float).tolist(), strict=True))

    def head(self) -> str:
        return "".join(f"<th>{_e(m)}</th>" for m in self.names)

    def cells(self, model: str, item: str) -> str:
        return "".join(f"<td>{_num(self.values[m].get((model, item), float('nan')))}</td>"
                       for m in self.names)


def _score_head(metrics) -> str:
    return f"<th>{'portfolio score' if metrics.names else 'score'}</th>{metrics.head()}"


def _compare_html(row: dict, subject: str, sign: float, texts, metrics) -> str:
    """One of the subject's worst items, opened: the subject's own prompt and response (when
    the log kept them), then every model's score on the item in rank order, the subject
    highlighted, each with its response."""
    item = row["item"]
    score = dict(row["scores"]).get(subject)
    body = "".join(
        f"<tr{' class=subject' if m == subject else ''}><td>{pos + 1}</td>"
        f"<td class='text model'>{_e(m)}</td><td>{'-' if v is None else _num(sign * v)}</td>"
        + metrics.cells(m, item)
        + (f"<td class='text'>{_text_html(texts, m, item)}</td>" if texts is not None else "")
        + "</tr>" for pos, (m, v) in enumerate(row["scores"]))
    head = "<th class='text'>prompt and response</th>" if texts is not None else ""
    own = (f"<div class='own'>{_text_html(texts, subject, item)}</div>"
           if texts is not None else "")
    return (f"<details class='compare'><summary>item {_e(item)}: "
            f"{'-' if score is None else _num(sign * score)}; every model on it</summary>{own}"
            f"<div class='scroll'><table class='rb' style='width:auto'><tr><th>rank</th>"
            f"<th class='text'>model</th>{_score_head(metrics)}{head}</tr>{body}</table></div>"
            "</details>")


def _worst_html(ranking, model: str, sign: float, texts=None, compare: bool = False,
                metrics: _Metrics | None = None) -> str:
    """A model's worst items: scores (and each portfolio metric's value), how many share the
    minimum (all listed), the logs' texts when kept, and (``compare``) each item opened on
    every model's score and response."""
    metrics = metrics or _Metrics(None, ranking)
    samples = ranking.samples
    a = samples.models.index(model)
    w = worst_items(samples, a)
    rows = "".join(
        f"<tr><td class='text'>{_e(i)}</td><td>{_num(sign * v)}</td>" + metrics.cells(model, i)
        + (f"<td class='text'>{_text_html(texts, model, i)}</td>"
           if texts is not None and not compare else "") + "</tr>"
        for i, v in w["worst"])
    count = len(w["at_minimum"])
    lead = (f"<p class='small at-min'><b>{count}</b> of {w['n']} items score the minimum, "
            f"{_e(_num(sign * w['minimum']))}"
            + (f"; the {len(w['worst'])} listed are the first of them" if count > len(w["worst"])
               else "") + ".</p>")
    listing = ""
    if count > len(w["worst"]):
        ids = w["at_minimum"][:LISTED_AT_MINIMUM]
        more = count - len(ids)
        listing = (f"<details class='small'><summary>all {count} items at the minimum</summary>"
                   f"<p>{_e(', '.join(ids))}" + (f" ... and {more} more" if more else "")
                   + "</p></details>")
    opened = ""
    if compare:
        rows_by_item = compare_items(ranking, [i for i, _ in w["worst"]])
        opened = "".join(_compare_html(r, model, sign, texts, metrics) for r in rows_by_item)
    text_head = ("<th class='text'>prompt and response</th>" if texts is not None
                 and not compare else "")
    return (f"<div class='worst'><div class='scroll'><table class='rb worst' style='width:auto'>"
            f"<tr><th class='text'>worst items</th>{_score_head(metrics)}{text_head}</tr>{rows}"
            f"</table></div>{lead}{listing}{opened}</div>")


def _model_details(ranking, texts=None, subject: str | None = None,
                   metrics: _Metrics | None = None) -> str:
    samples = ranking.samples
    if samples is None:
        return ""
    index = {m: a for a, m in enumerate(samples.models)}
    sign = 1.0 if samples.higher_is_better else -1.0
    parts = []
    for pos, model in enumerate(ranking.models):
        a = index[model]
        values = samples.values[a]
        levels = "".join(
            f"<tr><td class='text'>TVaR {p * 100:g}%</td><td>"
            f"{_num(sign * float(mean_risk_scores(np.sort(values), p=p)['tvar']))}</td></tr>"
            for p in TVAR_LEVELS)
        parts.append(
            f"<details><summary>{pos + 1}. {_e(model)} <span class='muted small'>rank interval "
            f"[{int(ranking.rank_low[pos])}, {int(ranking.rank_high[pos])}], letters "
            f"{_e(ranking.letters[pos])}, mean {_num(float(ranking.mean[pos]))}</span></summary>"
            "<div style='display:flex;gap:32px;flex-wrap:wrap'>"
            f"<table class='rb' style='width:auto'><tr><th class='text'>measure</th><th>value"
            f"</th></tr><tr><td class='text'>mean</td><td>{_num(float(ranking.mean[pos]))}"
            f"</td></tr>{levels}</table>"
            f"{_worst_html(ranking, model, sign, texts, model == subject, metrics)}</div>"
            "</details>")
    unit = "" if samples.higher_is_better else " (lower-is-better metric: TVaR is the mean of " \
        "the worst, i.e. highest, values)"
    lead = "Scores in the metric's own units" + unit + "."
    if _joint(ranking):
        lead = ("Scores: the per-item mean of the normalised metrics, a display summary only (the "
                "multivariate test compares each item's whole vector of metrics).")
    return "<p class='small muted'>" + _e(lead) + "</p>" + "".join(parts)


def _joint(ranking) -> bool:
    """A multivariate (entropic OT) ranking: no single score per item is what was tested."""
    from riskbench.multivariate import MULTIVARIATE

    return getattr(getattr(ranking, "portfolio", None), "kind", None) == MULTIVARIATE


def notebook_html(title: str, content: str, footnote: str = "") -> str:
    """A result's notebook view: the report's tables with their style, no script."""
    note = f"<p class='small muted'>{_e(footnote)}</p>" if footnote else ""
    return (f"<div class='riskbench'><style>{_CSS.replace('body{', '.riskbench{')}</style>"
            f"<b>{_e(title)}</b>{content}{note}</div>")


def selection_html(selection) -> str:
    if selection is None:
        return ""
    rows = "".join(
        "<tr>" + _cell(m, cls="text") + _cell(c.guardrail, cls="text")
        + _cell(c.measured, _num(c.measured)) + _cell(c.detail, cls="text") + "</tr>"
        for m, checks in selection.excluded.items() for c in checks)
    guards = "".join(f"<li><code>{_e(g.text)}</code>: "
                     f"{_e(g.describe(len(selection.models) - 1))}</li>"
                     for g in selection.guardrails)
    return ("<h2>Guardrails</h2><ul>" + guards + "</ul>"
            f"<p>{len(selection.eligible)} of {len(selection.models)} models pass every "
            "guardrail. Excluded models, with the guardrail they failed and the measured value "
            "(oriented scale: higher is better):</p>"
            '<table class="rb sortable"><thead><tr><th class="text">model</th>'
            '<th class="text">guardrail</th><th>measured</th><th class="text">detail</th></tr>'
            f"</thead><tbody>{rows}</tbody></table>")


def _provenance(ranking, table, command: str | None) -> str:
    import riskbench

    t = ranking.test
    facts = [("riskbench", riskbench.__version__),
             ("created", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
             ("test", f"{t.test}, order {t.order}, {ranking.bootstrap_words()}, "
                      f"B = {t.n_resamples}, {t.backend} engine"),
             ("seed", t.seed), ("models", len(ranking.models)),
             ("items per model", ", ".join(sorted({str(n) for n in ranking.n_items})))]
    if table is not None:
        facts += [("input", table.source), ("sha256", table.checksum or "-"),
                  ("metrics", ", ".join(f"{m} ({'higher' if d else 'lower'} is better)"
                                        for m, d in table.higher_is_better.items())),
                  ("items dropped (not scored for every model)",
                   ", ".join(f"{m}: {c}" for m, c in table.dropped_items.items()) or "none"),
                  ("rows dropped (missing values)", table.dropped_rows)]
    rows = "".join(f"<tr><td class='text'>{_e(k)}</td><td class='text'>{_e(v)}</td></tr>"
                   for k, v in facts)
    cmd = "" if not command else f"<p>Reproduce with:</p><pre>{_e(command)}</pre>"
    read = _read_summary_html(getattr(table, "read", None))
    return (f"<h2>Provenance</h2><table class='rb' style='width:auto'>{rows}</table>{read}"
            f"{cmd}")


def _read_summary_html(summary) -> str:
    """What the read took in and left out, by reason (riskbench._provenance.ReadSummary)."""
    if summary is None:
        return ""
    lines = "".join(f"<li>{_e(line)}</li>" for line in summary.lines())
    skipped = summary.by_reason()
    detail = "".join(
        f"<tr><td class='text'>{_e(reason)}</td><td>{e['count']}</td>"
        f"<td class='text'>{_e(e['unit'])}</td>"
        f"<td class='text'>{_e(', '.join(e['names']))}</td></tr>"
        for reason, e in skipped.items())
    table = ("" if not detail else
             "<table class='rb' style='width:auto'><thead><tr><th class='text'>"
             "left out because</th><th>count</th><th class='text'>of</th>"
             f"<th class='text'>what</th></tr></thead><tbody>{detail}</tbody></table>")
    files = "".join(f"<li><code>{_e(f)}</code></li>" for f in summary.files)
    return (f"<h3 id='read'>What was read</h3><ul class='small'>{lines}</ul>{table}"
            f"<details><summary>{len(summary.files)} file(s) read</summary>"
            f"<ul class='small'>{files}</ul></details>")



def _read_line(table) -> str:
    """One line under the answers: what was read, and how much was left out (the reasons are
    under "What was read" in the provenance)."""
    summary = getattr(table, "read", None)
    if summary is None:
        return ""
    lines = summary.lines()
    left: dict[str, int] = {}
    for entry in summary.by_reason().values():
        left[str(entry["unit"])] = left.get(str(entry["unit"]), 0) + int(entry["count"])
    out = ", ".join(f"{n} {unit}" for unit, n in left.items())
    return (f"<p class='small read'>{_e(lines[0] if lines else '')}"
            + (f"; left out: {_e(out)} (<a href='#read'>what and why</a>)" if out else
               "; nothing left out") + ".</p>")


def _figures(ranking, *, table, stability, top: int, chosen: str | None) -> list[str]:
    """The report's figures, chosen by what the data are: curves for continuous scores, shares
    per level for scores with few distinct values (their curves would pile up)."""
    from riskbench.report import plots

    names_note = (f"Model names longer than {plots.LABEL_CHARS} characters are shortened in "
                  "the middle; the number before each name is its rank in the ranking table, "
                  "which has the full names.")
    joint = _joint(ranking)
    levels = plots.discrete_levels(ranking.samples)
    k = len(ranking.models)
    figures = []
    if getattr(ranking, "rank_low", None) is not None:
        level = getattr(ranking, "interval_level", None)
        figures.append(_figure(
            plots.rank_intervals_plot(ranking), "ri",
            (f"Rank confidence intervals: with probability at least {level:g} every model's "
             "rank lies in its interval, all at once; the models whose interval starts at 1 "
             "can be first. " if level is not None else
             "Rank bounds from the discoveries of Benjamini-Hochberg, which controls the false "
             "discovery rate only: no confidence guarantee. ")
            + "Models that share a letter are not separated by any test. " + names_note))
    figures += [_figure(plots.ranking_plot(ranking), "rk",
                       "eps_i per model with bootstrap intervals; shaded bands are tie groups. "
                       + names_note)]
    if levels is not None:
        figures.append(_figure(
            plots.level_bars(ranking, levels=levels), "lv",
            f"The scores take {levels.size} distinct values, so each model's distribution is "
            "shown as its share of items at each level (worst on the left) instead of quantile "
            "and TVaR curves, which would lie on top of each other. First-order dominance reads "
            "off the bars: a model dominates another when, from the worst level up, its "
            "cumulative share is never larger."
            + (" (Display summary of the normalised metrics; the multivariate test compares "
               "their joint distributions.)" if joint else "")))
    elif joint:  # no scalar per item was tested: curves of the display summary, no TVaR curves
        figures.append(_figure(
            plots.quantile_curves(ranking, top=top, highlight=chosen), "qc",
            "Quantile curves of the per-item mean of the normalised metrics: a display summary "
            "only. The multivariate test compares the joint distributions of all metrics, which "
            "no single curve shows; see the per-metric ECDFs below. (TVaR curves are left out: "
            "they show second-order dominance of a scalar, which this ranking does not test.)"))
    else:
        figures += [
            _figure(plots.quantile_curves(ranking, top=top, highlight=chosen), "qc",
                    "Quantile curves: a curve above another everywhere is first-order "
                    "dominance."),
            _figure(plots.quantile_curves(ranking, kind="tvar", top=top, highlight=chosen),
                    "tv", "TVaR curves (mean of the worst p-fraction): above everywhere is "
                    "second-order dominance, what a risk-averse user wants."),
        ]
    shown = min(k, MATRIX_MODELS)
    figures.append(_figure(
        plots.matrix_heatmap(ranking, top=shown), "mx",
        "Pairwise statistics in rank order; dots mark significant cells."
        + (f" The first {shown} of {k} models are shown; every pair is in the ranking's "
           "JSON (riskbench rank --json)." if shown < k else "")))
    if table is not None and ranking.portfolio is None and ranking.metric in table.metrics:
        if levels is None:  # discrete: the level bars above already are its distribution
            figures.append(_figure(plots.ecdf_plot(table, ranking=ranking,
                                                   metrics=[ranking.metric], top=top),
                                   "ec", "Empirical CDF per model, in the metric's units."))
    elif table is not None and ranking.portfolio is not None:
        figures.append(_figure(plots.ecdf_plot(table, ranking=ranking,
                                               metrics=list(ranking.portfolio.metrics), top=top),
                               "ec", "Empirical CDF of each portfolio metric per model. In "
                               "each metric's own units; a metric with few distinct values "
                               "shows the share of items at each level."))
    if stability is not None:
        figures.append(_figure(plots.stability_plot(stability), "st",
                               "Kendall tau between rankings on item subsets and on all items."))
    return figures


def _where_html(ranking, subject: str | None, texts, metrics) -> str:
    """Where the subject fails: its worst items, how many share the minimum, their texts,
    and every model's score on each (no subject: the first model of the ranking)."""
    model = subject or ranking.models[0]
    sign = 1.0 if ranking.samples.higher_is_better else -1.0
    lead = "" if subject else ("<p class='small muted'>No model is chosen; shown for the first "
                               "model of the ranking.</p>")
    return (f"<div class='where'><h2>Where {_e(model)} fails</h2>{lead}"
            f"{_worst_html(ranking, model, sign, texts, True, metrics)}"
            "<p class='small'><a href='#detail'>Every model's worst items</a></p></div>")


def render_report(ranking, *, table=None, selection=None, stability=None,
                  command: str | None = None, title: str | None = None,
                  top: int = 8, warnings=()) -> str:
    """The HTML text of a report on a :class:`~riskbench.Ranking` (and optional extras).

    Parameters
    ----------
    ranking : Ranking
        What the report is about (for a selection, the ranking of the eligible models).
    table : ScoreTable, optional
        For the per-metric ECDFs and the provenance (file, checksum, dropped items).
    selection : Selection, optional
        Adds the chosen model and the excluded models with the guardrails they failed.
    stability : Stability, optional
        Adds the stability curve.
    command : str, optional
        The command line that reproduces the report.
    top : int
        Models drawn in colour in the curves.
    warnings : sequence of str
        The warnings raised while the data were read and ranked (the CLI passes the ones it
        prints), shown in the report as well.
    """
    require("matplotlib", needed_by="the HTML report")
    if getattr(ranking, "samples", None) is None:
        raise InputError("a report needs a Ranking from riskbench.rank() or riskbench.select()")
    t = ranking.test
    if selection is not None:
        chosen = selection.chosen
    else:
        chosen = None if ranking.no_decision else ranking.models[0]
    what = ("R-" if t.test == "relative" else "eps-") + ("FSD" if t.order == 1 else "SSD")
    if ranking.criterion != "dominance":
        what = f"{ranking.criterion} score"
    joint = _joint(ranking)
    if joint:
        what = f"multivariate {what}"
    target = (ranking.portfolio.describe() if ranking.portfolio is not None
              else f"metric {ranking.metric!r}")
    counted = f"{len(ranking.models)} models"
    if selection is not None and len(selection.models) > len(ranking.models):
        counted = (f"{len(ranking.models)} of {len(selection.models)} models "
                   f"({len(selection.models) - len(ranking.models)} excluded by guardrails)")
    title = title or f"riskbench report: {what} ranking of {counted}"
    evidence = why(ranking, selection=selection)
    figures = _figures(ranking, table=table, stability=stability, top=top,
                       chosen=chosen if evidence.decided else None)
    texts = _texts(table, ranking)
    metrics = _Metrics(table, ranking)
    decision = _decision_html(ranking, selection, chosen, target)
    reason = (f"<div class='why'><h2>Why</h2><p class='sentence'>{_e(evidence.sentence)}</p>"
              "<details><summary>The test in technical terms</summary>"
              f"<p class='small'>{_e(ranking.h0)}</p></details></div>")
    answer = (f"<section class='answer'><div>{decision}{reason}</div>"
              f"{_where_html(ranking, evidence.subject, texts, metrics)}</section>")
    # every note the terminal prints after the ranking: the ranking's and the table's
    notes = "".join(f"<li>{_e(n)}</li>" for n in dict.fromkeys(
        tuple(ranking.notes) + tuple(getattr(table, "notes", ()) or ())))
    warned = ""
    if warnings:  # every warning the terminal printed
        warned = ("<div class='warnings'><b>Warnings</b><ul>"
                  + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul></div>")
    body = (f"<main><h1>{_e(title)}</h1>{answer}{warned}{_read_line(table)}"
            f"<ul class='small muted'>{notes}</ul>"
            "<h2>Ranking</h2><p class='small muted'>Click a column to sort. Models that share a "
            "letter are not separated by any test; bold models are in the top set.</p>"
            f"{ranking_table_html(ranking)}{selection_html(selection)}"
            f"<h2>Plots</h2>{''.join(figures)}"
            f"<h2 id='detail'>Per-model detail</h2>"
            f"{_model_details(ranking, texts, evidence.subject, metrics)}"
            f"{_provenance(ranking, table, command)}</main>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{body}"
            f"<script>{_JS}</script></body></html>")


def _decision_html(ranking, selection, chosen, target: str) -> str:
    """The decision box: what was chosen (or that nothing could be), the top set, and how."""
    from riskbench.ranking import NO_DECISION

    t = ranking.test
    if ranking.no_decision:
        label, head = "Which", NO_DECISION[0].upper() + NO_DECISION[1:]
        line = (f"No test separates any two of the {len(ranking.models)} models at alpha = "
               f"{t.alpha:g}: no model is selected.")
    elif chosen is None:
        label, head, line = "Which", "No model passes every guardrail", ""
    else:
        label = ("Which: selected for risk-averse use" if selection is not None
                 else "Which: first in the ranking")
        head, line = chosen, ""
        others = [m for m in (ranking.top_set or ()) if m != chosen]
        if others:  # picked by the ranking's order (point estimates), not by a test
            label += " (by the ranking's order: the tests do not single it out)"
            line = (f"Not separated from {', '.join(others)}: the top set has "
                    f"{len(ranking.top_set)} models.")
    if ranking.top_set is not None:
        top = (f"<p>Top set (the models that can be first, a {ranking.interval_level:g} "
               f"confidence set): <b>{_e(', '.join(ranking.top_set))}</b></p>")
    else:
        top = ("<p>No top set: Benjamini-Hochberg controls the false discovery rate only, "
               "which gives no confidence set for the best model. Not beaten by any "
               f"discovery: {_e(', '.join(ranking.best_set))}</p>")
    decided = ""
    if t.decided_by is not None and t.equality_pvalue is not None:
        fam = t._family()
        kept = fam & ~t.reject
        by_gate = int((kept & (t.decided_by == "equality")).sum())
        decided = (f"<p class='small'>Which test decided: {int(t.reject.sum())} claims where "
                   f"both the dominance and the equality test rejected; of the "
                   f"{int(kept.sum())} hypotheses kept, {by_gate} because the equality test "
                   "could not tell the two distributions apart although the dominance test "
                   "alone would have decided.</p>")
    return (f"<div class='decision'><div class='muted small'>{_e(label)}</div>"
            f"<div class='chosen'>{_e(head)}</div>"
            + (f"<p>{_e(line)}</p>" if line else "") + top + decided
            + f"<p class='small muted'>Ranked on {_e(target)}; alpha = {t.alpha:g} with "
            f"{_e(t.correction)} correction over {t.n_comparisons} ordered pairs; "
            f"{_e(ranking.bootstrap_words())}, B = {t.n_resamples}, seed {t.seed}.</p></div>")


def write_report(path: str | Path, ranking, *, inputs=(), **options) -> Path:
    """Render the report and write it atomically (the file is complete or absent, fsync'ed,
    an existing file keeps its permissions); ``inputs`` are paths it must not replace (the
    table's source file always is one)."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{path}: a report is an .html file")
    table = options.get("table")
    if table is not None and table.source != "DataFrame":
        inputs = (*inputs, table.source)
    check_output(path, inputs)
    text = render_report(ranking, **options)
    with atomic_path(path, inputs=inputs) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
