"""Plots and the HTML report; the report is opened in a real headless Chromium."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import riskbench
from riskbench.cli import main
from riskbench.errors import InputError

pytest.importorskip("matplotlib")

from riskbench.report import plots, render_report, write_report  # noqa: E402


@pytest.fixture(scope="module")
def demo():
    table = riskbench.load_demo()
    ranking = riskbench.rank(table, metric="win", n_resamples=60, seed=0)
    return table, ranking


def test_every_plot_returns_a_figure_and_saves(demo, tmp_path):
    table, ranking = demo
    stability = riskbench.stability(
        table.select(models=table.models[:6], metrics=["win"]),
        lambda t, s: riskbench.rank(t, seed=s, n_resamples=20), sizes=[50, 799], repeats=2)
    figures = {
        "q": plots.quantile_curves(ranking), "t": plots.quantile_curves(ranking, kind="tvar"),
        "m": plots.matrix_heatmap(ranking), "r": plots.ranking_plot(ranking),
        "e": plots.ecdf_plot(table, ranking=ranking), "s": plots.stability_plot(stability),
    }
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}
    for name, fig in figures.items():
        for suffix, head in magic.items():
            path = plots.save(fig, tmp_path / f"{name}{suffix}")
            assert path.read_bytes().startswith(head)
    with pytest.raises(InputError, match=r"plots are written as .png, .svg, .pdf; got .jpg"):
        plots.save(figures["q"], tmp_path / "q.jpg")


def test_plots_stay_readable_with_48_models(demo):
    _, ranking = demo
    fig = plots.quantile_curves(ranking, top=5, highlight=ranking.models[0])
    legend = fig.axes[0].get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[0] == f"1. {ranking.models[0]} (chosen)" and len(labels) == 5
    plain = plots.quantile_curves(ranking, top=5).axes[0].get_legend().get_texts()
    assert plain[0].get_text() == f"1. {ranking.models[0]}"  # nothing chosen: not labelled
    assert legend.get_title().get_text() == "top 5 (+43 in grey)"
    heat = plots.matrix_heatmap(ranking, top=12)
    assert len(heat.axes[0].get_xticklabels()) == 12


def test_report_content_is_self_contained(demo):
    table, ranking = demo
    text = render_report(ranking, table=table, command="riskbench report -o r.html --seed 0",
                         warnings=("a warning the terminal printed",))
    for needle in ("First in the ranking", ranking.models[0], "Top set", "rank interval",
                   "letters", "Which test decided", "a warning the terminal printed",
                   "rejected at alpha = 0.05", table.checksum, "riskbench report -o r.html",
                   "Per-model detail", "worst items", "TVaR 1%"):
        assert needle in text, needle
    assert text.count("<svg") == 5  # ranking, quantile, TVaR, matrix, ECDF
    for fetch in ('src="http', "src='http", 'href="http', "<link", "@import", "url(http"):
        assert fetch not in text


def test_report_says_no_decision_and_names_no_model():
    rng = np.random.default_rng(0)
    data = {f"m{a}": rng.normal(0, 1, 40) for a in range(3)}
    ranking = riskbench.rank(data, n_resamples=40, seed=0)
    assert ranking.no_decision
    text = render_report(ranking)
    assert "No decision: the data do not separate these models" in text
    assert "Selected for risk-averse use" not in text and "First in the ranking" not in text
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


def test_write_report_is_atomic(demo, tmp_path):
    _, ranking = demo
    with pytest.raises(InputError, match="a report is an .html file"):
        write_report(tmp_path / "r.pdf", ranking)
    with pytest.raises(InputError, match="a report needs a Ranking"):
        write_report(tmp_path / "r.html", object())
    assert list(tmp_path.iterdir()) == []
    path = write_report(tmp_path / "r.html", ranking)
    assert path.stat().st_mode & 0o044  # readable by others, not a private temp file


def test_notebook_views(demo):
    _, ranking = demo
    assert "<table" in ranking._repr_html_() and ranking.models[0] in ranking._repr_html_()
    assert "better" in ranking.test._repr_html_()
    sel = riskbench.select(riskbench.load_demo().select(models=riskbench.load_demo().models[:6]),
                           guardrails=["offensive:tvar@0.05>=-0.5"], n_resamples=20, seed=0)
    assert "chosen:" in sel._repr_html_() or "no decision" in sel._repr_html_()


def test_cli_report(tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", "-o", str(out), "--n-resamples", "40",
                                       "--seed", "1", "--json", "--quiet",
                                       "--guardrail", "offensive:tvar@0.05>=-0.2"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["bytes"] == out.stat().st_size and payload["seed"] == 1
    assert "Guardrails" in out.read_text()
    bad = CliRunner().invoke(main, ["report", "-o", str(tmp_path / "r.txt"), "--n-resamples",
                                    "10"])
    assert bad.exit_code == 2 and "a report is an .html file" in bad.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.browser
@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver "
                    "are not installed (.ci/run installs them)")
def test_report_in_headless_chromium(demo, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    table, ranking = demo
    path = write_report(tmp_path / "report.html", ranking, table=table)
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                "--window-size=1300,1800"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(path.as_uri())
        assert driver.title.startswith("riskbench report")

        def column(index):
            rows = driver.find_elements(By.CSS_SELECTOR, "table.rb.sortable tbody tr")
            return [r.find_elements(By.TAG_NAME, "td")[index].text for r in rows]

        assert column(3) == list(ranking.models)
        headers = driver.find_elements(By.CSS_SELECTOR, "table.rb.sortable thead th")
        headers[3].click()  # model: alphabetical
        assert column(3) == sorted(ranking.models, key=str.lower)
        headers[3].click()  # again: descending
        assert column(3) == sorted(ranking.models, key=str.lower, reverse=True)
        headers[6].click()  # wins: numeric ascending
        wins = [int(w) for w in column(6)]
        assert wins == sorted(wins) and wins != sorted(wins, reverse=True)
        shot = tmp_path / "report.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 50_000
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        assert len(driver.find_elements(By.TAG_NAME, "svg")) >= 5
    finally:
        driver.quit()
    np.testing.assert_equal(shot.read_bytes()[:4], b"\x89PNG")
