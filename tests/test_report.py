"""Plots and the HTML report (tests/test_browser.py opens reports in headless Chromium)."""

import json
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import riskbench
from riskbench.cli import main
from riskbench.errors import DegenerateDataWarning, InputError

pytest.importorskip("matplotlib")

import layout  # noqa: E402
from riskbench.report import plots, render_report, write_report  # noqa: E402


@pytest.fixture(scope="module")
def demo():
    table = riskbench.load_demo()
    ranking = riskbench.rank(table, metric="win", n_resamples=60, seed=0)
    return table, ranking


@pytest.fixture(scope="module")
def six():
    """Six demo models on 'win': small enough to draw every figure quickly."""
    table = riskbench.load_demo()
    table = table.select(models=table.models[:6], metrics=["win"])
    return table, riskbench.rank(table, n_resamples=30, seed=0)


def test_every_plot_returns_a_figure_and_saves(six, tmp_path):
    table, ranking = six
    stability = riskbench.stability(table, lambda t, s: riskbench.rank(t, seed=s, n_resamples=20),
                                    sizes=[50, 799], repeats=2)
    figures = {
        "q": plots.quantile_curves(ranking), "t": plots.quantile_curves(ranking, kind="tvar"),
        "m": plots.matrix_heatmap(ranking), "r": plots.ranking_plot(ranking),
        "e": plots.ecdf_plot(table, ranking=ranking), "s": plots.stability_plot(stability),
    }
    for name, fig in figures.items():
        assert plots.save(fig, tmp_path / f"{name}.svg").read_bytes().startswith(b"<?xml")
    assert layout.problems(figures["s"]) == []
    magic = {".png": b"\x89PNG", ".pdf": b"%PDF"}
    for suffix, head in magic.items():
        assert plots.save(figures["s"], tmp_path / f"s{suffix}").read_bytes().startswith(head)
    with pytest.raises(InputError, match=r"plots are written as .png, .svg, .pdf; got .jpg"):
        plots.save(figures["q"], tmp_path / "q.jpg")
    with pytest.raises(InputError, match="level_bars is for scores with at most 10 distinct"):
        plots.level_bars(ranking)


def test_labels_are_short_unique_and_keyed_by_rank():
    names = [f"upstage/SOLAR-10.7B-Instruct-v1.0@2024-12-23T1{h}-36-36.30002{h}"
             for h in range(3)] + ["gpt-4o", "a$b$c"]
    labels = plots.model_labels(names)
    assert len(set(labels)) == 5 and all(len(lab) <= len("5. ") + plots.LABEL_CHARS
                                         for lab in labels)
    assert labels[3] == "4. gpt-4o" and labels[4] == r"5. a\$b\$c"  # no mathtext
    assert labels[0].startswith("1. upstage/SOLAR-10.7B") and "…" in labels[0]
    assert [lab[-4:] for lab in labels[:3]] == ["0020", "0021", "0022"]  # the tail is kept
    assert plots.short_names(["research-lab/FuseChat-Gemma-2-9B-Instruct@2024-08-21T03-40-10.1",
                              "research-lab/FuseChat-Gemma-2-9B-Instruct@2024-08-21T03-40-10.2"]
                             ) == ["…FuseChat-Gemma-2-9B-Instruct…0-10.1",
                                   "…FuseChat-Gemma-2-9B-Instruct…0-10.2"]


def _rank(table, **options):
    return riskbench.rank(table, n_resamples=30, seed=0, **options)


@pytest.fixture(scope="module")
def cases(demo):
    table, ranking = demo
    two = table.select(models=table.models[:2], metrics=["win"])
    long = layout.long_name_table()
    binary = layout.binary_log_table()
    with pytest.warns(DegenerateDataWarning, match="1 pair"):  # two runs score alike
        ranked = _rank(binary)
    return {"2 models": (two, _rank(two)), "9 long names": (long, _rank(long)),
            "48 models": (table, ranking), "binary log": (binary, ranked)}


@pytest.mark.parametrize("case", ["2 models", "9 long names", "48 models", "binary log"])
def test_no_text_is_clipped_or_overlapping(cases, case):
    table, ranking = cases[case]
    figures = {"ranking": plots.ranking_plot(ranking),
               "matrix": plots.matrix_heatmap(ranking),
               "ecdf": plots.ecdf_plot(table, ranking=ranking)}
    if plots.discrete_levels(ranking.samples) is None:
        figures["quantile"] = plots.quantile_curves(ranking)
        figures["tvar"] = plots.quantile_curves(ranking, kind="tvar")
    else:
        figures["levels"] = plots.level_bars(ranking)
    for name, fig in figures.items():
        assert layout.problems(fig) == [], name
        width, _ = fig.get_size_inches()
        assert width <= plots.MAX_WIDTH + 2.0, name


def test_legends_name_every_model_or_count_the_rest(cases):
    _, ranking = cases["9 long names"]
    fig = plots.quantile_curves(ranking, highlight=ranking.models[1])
    legend = fig.axes[0].get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert len(labels) == 9  # 9 models: all in colour
    assert [lab.endswith("(chosen)") for lab in labels] == [False, True] + [False] * 7
    plain = plots.quantile_curves(ranking).axes[0].get_legend().get_texts()
    assert not any(t.get_text().endswith("(chosen)") for t in plain)  # nothing chosen
    _, ranking = cases["48 models"]
    for fig in (plots.quantile_curves(ranking, top=5), plots.ecdf_plot(
            riskbench.load_demo(), ranking=ranking, metrics=["win"], top=5)):
        legend = fig.legends[0] if fig.legends else fig.axes[0].get_legend()
        labels = [t.get_text() for t in legend.get_texts()]
        assert labels[0].startswith(f"1. {ranking.models[0]}")
        assert labels[-1] == "43 more models (grey; ranks in the table)" and len(labels) == 6
        # outside the axes: the legend's box does not cover the plotting area
        renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else None
        if renderer is None:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        box, area = legend.get_window_extent(renderer), fig.axes[0].get_window_extent(renderer)
        assert box.x0 >= area.x1 - 1


def test_discrete_scores_are_shown_as_shares_per_level(cases):
    table, ranking = cases["binary log"]
    assert list(plots.discrete_levels(ranking.samples)) == [0.0, 1.0]
    fig = plots.level_bars(ranking)
    bars = [p for p in fig.axes[0].patches]
    assert len(bars) == 2 * len(ranking.models)
    index = {m: a for a, m in enumerate(ranking.samples.models)}
    failing = [float((ranking.samples.values[index[m]] == 0).mean()) for m in ranking.models]
    np.testing.assert_allclose([b.get_width() for b in bars[:len(failing)]], failing)
    text = render_report(ranking, table=table)
    assert "takes 2 distinct values" in text or "take 2 distinct values" in text
    assert "Quantile curves" not in text
    assert text.count("<svg") == 4  # rank intervals, ranking, levels, matrix


def test_report_content_is_self_contained(six):
    table, ranking = six
    text = render_report(ranking, table=table, command="riskbench report -o r.html --seed 0",
                         warnings=("a warning the terminal printed",))
    for needle in ("Which: first in the ranking", ranking.models[0], "Top set", "<h2>Why</h2>",
                   "rank interval", "letters", "Which test decided",
                   "a warning the terminal printed",
                   f"<h2>Where {ranking.models[0]} fails</h2>", "every model on it",
                   "The test in technical terms",
                   "rejected at alpha = 0.05", table.checksum, "riskbench report -o r.html",
                   "Per-model detail", "worst items", "TVaR 1%"):
        assert needle in text, needle
    assert text.count("<svg") == 6  # rank intervals, ranking, quantile, TVaR, matrix, ECDF
    for fetch in ('src="http', "src='http", 'href="http', "<link", "@import", "url(http"):
        assert fetch not in text


def test_report_says_no_decision_and_names_no_model():
    rng = np.random.default_rng(0)
    data = {f"m{a}": rng.normal(0, 1, 40) for a in range(3)}
    ranking = riskbench.rank(data, n_resamples=40, seed=0)
    assert ranking.no_decision
    text = render_report(ranking)
    assert "No decision: the data do not separate these models" in text
    assert "selected for risk-averse use" not in text and "first in the ranking" not in text
    assert "(chosen)" not in text


def test_cli_report_carries_the_terminal_warnings(tmp_path):
    path = tmp_path / "s.csv"
    x = [0.1 * (t % 7) for t in range(30)]
    path.write_text("model,sample_id,metric,value\n" + "".join(
        f"{m},{t},acc,{v}\n" for m in ("a", "b") for t, v in enumerate(x)))  # identical
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", str(path), "-o", str(out), "--n-resamples",
                                       "30", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "identical score distributions" in result.output  # the terminal's warning ...
    text = out.read_text()
    assert "identical score distributions" in text  # ... is in the report too
    assert "No decision" in text and "Report written" in result.output


def test_write_report_is_atomic(six, tmp_path):
    _, ranking = six
    with pytest.raises(InputError, match="a report is an .html file"):
        write_report(tmp_path / "r.pdf", ranking)
    with pytest.raises(InputError, match="a report needs a Ranking"):
        write_report(tmp_path / "r.html", object())
    assert list(tmp_path.iterdir()) == []
    path = write_report(tmp_path / "r.html", ranking)
    assert path.stat().st_mode & 0o044  # readable by others, not a private temp file


def test_notebook_views(six):
    _, ranking = six
    assert "<table" in ranking._repr_html_() and ranking.models[0] in ranking._repr_html_()
    assert "better" in ranking.test._repr_html_()
    demo = riskbench.load_demo()
    sel = riskbench.select(demo.select(models=demo.models[:6]),
                           guardrails=["offensive:tvar@0.05>=-0.5"], n_resamples=20, seed=0)
    assert "chosen:" in sel._repr_html_() or "no decision" in sel._repr_html_()


def _portfolio_csv(path):
    path.write_text("model,sample_id,metric,value\n" + "".join(
        f"{m},{i},{metric},{v}\n" for m, q, tox in (("good", 0.8, 0.1), ("toxic", 0.9, 0.6),
                                                    ("weak", 0.2, 0.1), ("mid", 0.5, 0.2))
        for i in range(60) for metric, v in (("quality", round(q + 0.01 * (i % 9), 3)),
                                             ("toxicity", round(tox + 0.01 * (i % 5), 3)))))
    return path


def test_cli_report(tmp_path):
    # (the README test runs the demo's report with guardrails and stability)
    scores = _portfolio_csv(tmp_path / "s.csv")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(scores), "-o", str(out), "--n-resamples",
                                       "40", "--seed", "1", "--json", "--quiet",
                                       "--lower-is-better", "toxicity",
                                       "--guardrail", "toxicity:tvar@0.05>=-0.5"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout, parse_constant=lambda token: 1 / 0)  # strict JSON
    assert payload["bytes"] == out.stat().st_size and payload["seed"] == 1
    assert payload["why"]["subject"] == payload["chosen"]
    assert html_escape(payload["why"]["sentence"]) in out.read_text()
    assert "Guardrails" in out.read_text()
    bad = CliRunner().invoke(main, ["report", str(scores), "-o", str(tmp_path / "r.txt"),
                                    "--n-resamples", "10"])
    assert bad.exit_code == 2 and "a report is an .html file" in bad.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "s.csv"]


def test_cli_report_with_stability(tmp_path):
    # the README's own example used to fail: rank() got multiple values for 'seed'
    path = _portfolio_csv(tmp_path / "s.csv")
    out = tmp_path / "report.html"
    for extra in ([], ["--guardrail", "toxicity:tvar@0.05>=-0.5"]):
        result = CliRunner().invoke(main, ["report", str(path), "-o", str(out), "--stability",
                                           "--lower-is-better", "toxicity", "--n-resamples",
                                           "20", "--seed", "3", "--quiet", *extra])
        assert result.exit_code == 0, result.output
        text = out.read_text()
        assert "Ranking stability" in text and "Kendall tau between rankings" in text
    assert "Guardrails" in text  # the second report: 3 eligible models, their stability


def test_worst_items_count_every_item_at_the_minimum(tmp_path):
    # model "a" fails 17 of 40 items: the list shows 5 and says 17, with all 17 ids
    rows = [("a", i, 0.0 if i % 40 < 17 else 0.5 + i / 100) for i in range(40)] + \
        [("b", i, 0.2 + i / 80) for i in range(40)] + [("c", i, 0.1 + i / 90) for i in range(40)]
    path = tmp_path / "s.csv"
    path.write_text("model,sample_id,metric,value\n"
                    + "".join(f"{m},item-{i},acc,{v}\n" for m, i, v in rows))
    table = riskbench.read_scores(path)
    ranking = riskbench.rank(table, n_resamples=30, seed=0)
    from riskbench.report.html import worst_items

    a = ranking.samples.models.index("a")
    worst = worst_items(ranking.samples, a)
    failed = {f"item-{i}" for i in range(17)}
    assert worst["minimum"] == 0.0 and set(worst["at_minimum"]) == failed
    assert [i for i, _ in worst["worst"]] == worst["at_minimum"][:5]
    text = render_report(ranking, table=table)
    assert "<b>17</b> of 40 items score the minimum, 0; the 5 listed are the first of them" \
        in text
    assert "all 17 items at the minimum" in text
    assert ", ".join(worst["at_minimum"]) in text


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_no_text_is_clipped_or_overlapping_at_227_models(kind):
    rng = np.random.default_rng(227)
    models = [f"org-{a % 7}/model-{a:03d}" + "-instruct" * (a % 5) for a in range(227)]
    frame = {"model": [], "sample_id": [], "metric": [], "value": []}
    for a, m in enumerate(models):
        values = rng.normal(a / 100, 1, 60) if kind == "continuous" else \
            (rng.random(60) < 0.2 + a / 300).astype(float)
        frame["model"] += [m] * 60
        frame["sample_id"] += list(range(60))
        frame["metric"] += ["score"] * 60
        frame["value"] += list(values)
    import warnings

    import pandas as pd

    table = riskbench.read_scores(pd.DataFrame(frame))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)  # binary: many identical pairs
        ranking = riskbench.rank(table, n_resamples=20, seed=0)
    figures = {"ranking": plots.ranking_plot(ranking),
               "matrix": plots.matrix_heatmap(ranking, top=60),
               "ecdf": plots.ecdf_plot(table, ranking=ranking)}
    if kind == "continuous":
        figures["quantile"] = plots.quantile_curves(ranking)
    else:
        figures["levels"] = plots.level_bars(ranking)
    for name, fig in figures.items():
        assert layout.problems(fig) == [], name


# --- which / why / where --------------------------------------------------------------------

def test_why_names_the_only_model_whose_tail_is_not_all_failures():
    # the reviewer example: every model but "careful" fails its worst 10% outright
    rng = np.random.default_rng(5)
    data = {}
    for name, shift in (("careful", 0.55), ("bold", 0.6), ("fast", 0.5), ("weak", 0.2)):
        values = np.clip(rng.normal(shift, 0.15, 200), 0.01, 1.0)
        if name != "careful":
            values[:30] = 0.0  # 15% failures
        data[name] = values
    ranking = riskbench.rank(data, n_resamples=100, seed=0)
    from riskbench.report.evidence import why

    evidence = why(ranking)
    assert evidence.subject == ranking.models[0] == "careful"
    tvar = dict(zip(ranking.models, ranking.tvar, strict=True))
    assert evidence.sentence.startswith(
        "careful is the only model whose worst 5% of items are not all at the worst score "
        f"observed, 0 (TVaR 5% {tvar['careful']:.3g}; next best 0)")
    wins = int(ranking.wins[0])
    assert f"it significantly beats {wins} of the 3 other models" in evidence.sentence
    assert "no model beats it" in evidence.sentence
    assert evidence.beats == tuple(m for m in ranking.models
                                   if ranking.decisions[0, ranking.models.index(m)])


def test_why_counts_failures_for_discrete_scores_and_says_no_decision(cases):
    from riskbench.report.evidence import why

    _, ranking = cases["binary log"]
    sentence = why(ranking).sentence
    index = {m: a for a, m in enumerate(ranking.samples.models)}
    share = {m: float((ranking.samples.values[index[m]] == 0).mean()) for m in ranking.models}
    first, runner = ranking.models[0], sorted(ranking.models[1:], key=share.get)[0]
    assert sentence.startswith(
        f"{first} is at the worst score observed, 0, on {100 * share[first]:.3g}% of its items, "
        f"the fewest (next fewest {runner}, {100 * share[runner]:.3g}%)")
    rng = np.random.default_rng(0)
    flat = riskbench.rank({f"m{a}": rng.normal(0, 1, 40) for a in range(3)}, n_resamples=40,
                          seed=0)
    evidence = why(flat)
    assert not evidence.decided and evidence.subject is None
    assert evidence.sentence.startswith("No test separates any two of the 3 models at alpha = "
                                        "0.05 (bonferroni): the data do not back a choice.")
    text = render_report(flat)
    assert "No decision: the data do not separate these models" in text


def test_report_answers_which_why_where_for_a_selection(demo):
    table, _ = demo
    table = table.select(models=table.models[::3])  # 16 models, three metrics
    selection = riskbench.select(table, guardrails=["offensive:tvar@0.05>=-0.2"],
                                 n_resamples=60, seed=0)
    text = render_report(selection.ranking, table=table, selection=selection)
    from riskbench.report.evidence import why

    sentence = why(selection.ranking, selection=selection).sentence
    ranked = selection.ranking
    tvar = dict(zip(ranked.models, ranked.tvar, strict=True))
    best = max(tvar, key=tvar.get)
    if best == selection.chosen:
        assert sentence.startswith(f"{selection.chosen} has the best mean portfolio score over "
                                   "its worst 5% of items")
    else:  # the sentence says it is not the tail that decided, and who is best there
        place = 1 + sum(v > tvar[selection.chosen] for v in tvar.values())
        assert sentence.startswith(
            f"{selection.chosen} ranks first on the whole distribution, not on the tail alone: "
            f"its worst 5% of items average {tvar[selection.chosen]:.3g} ({place} of "
            f"{len(tvar)} on TVaR 5%; best {best}, {tvar[best]:.3g})")
    assert selection.excluded
    assert sentence.endswith(f"It passes every guardrail; {len(selection.excluded)} of the 16 "
                             "models fail at least one.")
    assert html_escape(sentence) in text
    assert "Which: selected for risk-averse use" in text
    # where: the chosen model's worst items, each compared across all eligible models, with
    # every portfolio metric in its own units
    where = text.split(f"<h2>Where {selection.chosen} fails</h2>")[1].split("</section>")[0]
    assert where.count("<details class='compare'>") == 5
    assert "<th>length</th><th>offensive</th><th>win</th>" in where
    assert where.count("<tr class=subject>") == 5


def test_report_carries_the_tables_notes(tmp_path):
    # what the terminal prints after a ranking (ranking notes + table notes) is in the report
    path = tmp_path / "gens.csv"
    path.write_text("model,sample_id,sample,metric,value\n" + "".join(
        f"{m},{i},{s},acc,{(i % 10) / 10 + shift + s / 100:.3f}\n"
        for m, shift in (("a", 0.0), ("b", 0.2), ("c", 0.5)) for i in range(30) for s in range(3)))
    table = riskbench.read_scores(path, repeat="sample")
    ranking = riskbench.rank(table, n_resamples=20, seed=0)
    text = render_report(ranking, table=table)
    for note in (*table.notes, *ranking.notes):
        assert html_escape(note) in text, note


def test_rank_interval_plot_draws_each_models_interval(cases):
    _, ranking = cases["9 long names"]
    fig = plots.rank_intervals_plot(ranking)
    assert layout.problems(fig) == []
    from matplotlib.collections import LineCollection

    (segments,) = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    spans = [(seg[0][0] + 0.3, seg[1][0] - 0.3) for seg in segments.get_segments()]
    np.testing.assert_allclose(spans, np.column_stack([ranking.rank_low, ranking.rank_high]))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert all(lab.endswith(f"  {let}") for lab, let in zip(labels, ranking.letters,
                                                           strict=True))
    bold = [t.get_fontweight() == "bold" for t in fig.axes[0].get_yticklabels()]
    assert bold == [m in ranking.top_set for m in ranking.models]
    text = render_report(ranking)
    assert "Rank confidence intervals: with probability at least 0.95" in text


def test_where_shows_the_logs_prompt_and_response(cases):
    from riskbench.report.evidence import worst_items

    table, ranking = cases["binary log"]  # a real lm-evaluation-harness log
    subject = ranking.models[0]
    worst = worst_items(ranking.samples, ranking.samples.models.index(subject))
    item = worst["worst"][0][0]
    found = table.text(subject, item, ranking.metric)
    assert found["prompt"] and found["response"]
    text = render_report(ranking, table=table)
    where = text.split(f"<h2>Where {subject} fails</h2>")[1].split("</section>")[0]
    for key in ("prompt", "response"):
        assert f"<summary>{key}</summary><pre>{html_escape(found[key][:300])}" in where
    # the compare view of that item holds every model's row
    block = where.split(f"<summary>item {item}: ")[1].split("</table>")[0]
    assert all(html_escape(m) in block for m in ranking.models)


def test_why_on_real_helm_safety_runs_says_what_the_reviewer_saw():
    # HELM Safety's harm_bench (real helm-run output, 5-level judge scores): the issue's
    # example sentence, built from the data
    from riskbench.report.evidence import why

    runs = Path(__file__).parent / "data" / "formats" / "helm" / "helm_safety" / "runs" / "v4"
    table = riskbench.read_scores(runs, metrics=["*harm_bench_score*"], texts=False)
    ranking = riskbench.rank(table, n_resamples=200, seed=0)
    assert why(ranking).sentence == (
        "anthropic/claude-3-5-sonnet-20240620 is the only model whose worst 5% of items are not "
        "all at the worst score observed, 0 (TVaR 5% 0.4; next best 0); it significantly beats "
        "the other model; no model beats it.")
    # what was read and left out: one line under the answers, the reasons in the provenance
    text = render_report(ranking, table=table)
    left: dict[str, int] = {}
    for e in table.read.by_reason().values():
        left[e["unit"]] = left.get(e["unit"], 0) + int(e["count"])
    assert left["files"] >= 2  # scenario.json of each run (and scenario_state.json: no texts)
    shown = ", ".join(f"{n} {unit}" for unit, n in left.items())
    assert f"{html_escape(table.read.lines()[0])}; left out: {shown} (<a href='#read'>" in text
    assert "<h3 id='read'>What was read</h3>" in text
    evidence = why(ranking)
    frame = evidence.to_frame()
    assert list(frame["model"]) == list(ranking.models)
    assert frame["beaten_by_subject"].tolist() == [False, True]
    assert json.loads(json.dumps(evidence.to_dict()))["subject"] == ranking.models[0]



def test_report_on_a_portfolio_with_infinite_scores(tmp_path):
    """Issue 12: infinite scores kept in the table are outcomes. The portfolio (rank-based)
    uses them; the report's ECDF panel counts them in its shares, says so, and the item views
    show them as -inf, not as a missing '-'."""
    rng = np.random.default_rng(3)
    rows = ["model,sample_id,metric,value"]
    for m, shift in (("a", 0.3), ("b", 0.0), ("c", 0.0)):
        for i in range(40):
            mae = "inf" if (m == "c" and i < 4) else f"{rng.random():.4f}"
            rows += [f"{m},{i},acc,{rng.random() + shift:.4f}", f"{m},{i},mae,{mae}"]
    path = tmp_path / "s.csv"
    path.write_text("\n".join(rows) + "\n")
    table = riskbench.read_scores(path, higher_is_better={"acc": True, "mae": False})
    with pytest.raises(InputError, match="infinite value"):
        table.samples("mae")  # the raw scale refuses them, naming the fix
    samples = table.samples("mae", allow_infinite=True)
    assert int(np.isinf(np.concatenate(samples.values)).sum()) == 4
    ranking = riskbench.rank(table, n_resamples=30, seed=0)  # IC portfolio: ranks
    fig = plots.ecdf_plot(table, ranking=ranking)
    titles = [" ".join(ax.get_title().split()) for ax in fig.axes]
    assert any("4 infinite values counted in the shares" in t for t in titles), titles
    # model c's ECDF of mae (lower is better: +inf is the worst) stops at 36/40 on the axis
    (panel,) = [ax for ax in fig.axes if ax.get_title().startswith("mae")]
    tops = sorted(round(float(line.get_ydata()[-1]), 6) for line in panel.get_lines())
    assert tops[0] == 0.9 and tops[-1] == 1.0
    text = render_report(ranking, table=table)
    assert "<td>inf</td>" in text  # c's worst items, in the metric's own units


def test_worst_items_never_list_passes():
    """A new user saw items scoring 1 (passes) listed as a binary model's worst items."""
    from riskbench._samples import Samples
    from riskbench.report.evidence import worst_items

    values = (np.array([1.0, 0, 1, 0, 1, 1, 1, 1, 1, 1]), np.ones(10))
    samples = Samples(("a", "b"), values, True)
    worst = worst_items(samples, 0)
    assert [v for _, v in worst["worst"]] == [0.0, 0.0] and len(worst["at_minimum"]) == 2
    flat = worst_items(samples, 1)  # every item at one score: all of them, up to the cut
    assert len(flat["worst"]) == 5 and len(flat["at_minimum"]) == 10


def test_report_title_counts_the_models_the_guardrails_excluded(demo):
    table, _ = demo
    table = table.select(models=table.models[::4])  # 12 models
    selection = riskbench.select(table, guardrails=["offensive:tvar@0.05>=-0.2"],
                                 n_resamples=30, seed=0)
    gone = len(selection.excluded)
    assert gone > 0
    text = render_report(selection.ranking, table=table, selection=selection)
    assert (f"ranking of {12 - gone} of 12 models ({gone} excluded by guardrails)</h1>"
            in text)
