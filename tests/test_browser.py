"""The report as a reader sees it: opened in a real headless Chromium, and looked at.

For three reports, (a) the demo as `riskbench report` writes it (48 models, IC portfolio of
three metrics), (b) 9 real demo models under 60-character names, (c) a binary metric from a
real lm-evaluation-harness log with long run names, the test measures the rendered SVG in the
DOM: no text element extends beyond its figure, and no two text elements of a figure (tick
labels, legend entries, titles, colour-bar labels) overlap. It also sorts the ranking table by
clicking. Screenshots of each page and figure are written to $RISKBENCH_SCREENSHOTS when set
(else to the test's temporary folder).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import riskbench
from riskbench.cli import main
from riskbench.errors import DegenerateDataWarning

pytest.importorskip("matplotlib")
webdriver = pytest.importorskip("selenium.webdriver")

import layout  # noqa: E402
from riskbench.report import write_report  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian's chromium and "
                                 "chromium-driver are not installed (.ci/run installs them)")]

# For every inline SVG: texts outside the SVG's box, and pairs of texts whose boxes intersect
# by more than a pixel each way. Boxes are the browser's own (rendered glyphs, any rotation).
MEASURE = """
const out = [];
document.querySelectorAll('figure svg').forEach(function (svg, f) {
  const frame = svg.getBoundingClientRect();
  const texts = Array.prototype.slice.call(svg.querySelectorAll('text'))
    .filter(function (t) { return t.textContent.trim().length > 0; })
    .map(function (t) { return [t.textContent, t.getBoundingClientRect()]; })
    .filter(function (e) { return e[1].width > 0 && e[1].height > 0; });
  texts.forEach(function (e) {
    const r = e[1];
    if (r.left < frame.left - 1 || r.top < frame.top - 1 || r.right > frame.right + 1 ||
        r.bottom > frame.bottom + 1) {
      out.push('figure ' + f + ': ' + JSON.stringify(e[0]) + ' overflows its figure');
    }
  });
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i][1], b = texts[j][1];
      const dx = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (dx > 1 && dy > 1) {
        out.push('figure ' + f + ': ' + JSON.stringify(texts[i][0]) + ' overlaps ' +
                 JSON.stringify(texts[j][0]));
      }
    }
  }
});
return [out, document.querySelectorAll('figure svg text').length];
"""


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("RISKBENCH_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    profile = tmp_path_factory.mktemp("profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                "--window-size=1300,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield browser
    browser.quit()


def _reports(folder: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """(report file, ranked models) of the three cases."""
    demo = folder / "demo.html"
    result = CliRunner().invoke(main, ["report", "-o", str(demo), "--n-resamples", "60",
                                       "--seed", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    out = {"a-demo": (demo, None)}
    table = layout.long_name_table()
    ranking = riskbench.rank(table, n_resamples=60, seed=0)
    out["b-long-names"] = (write_report(folder / "long.html", ranking, table=table),
                           ranking.models)
    table = layout.binary_log_table()
    with pytest.warns(DegenerateDataWarning):
        ranking = riskbench.rank(table, n_resamples=60, seed=0)
    out["c-binary"] = (write_report(folder / "binary.html", ranking, table=table),
                       ranking.models)
    return out


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return _reports(tmp_path_factory.mktemp("reports"))


@pytest.mark.parametrize("case", ["a-demo", "b-long-names", "c-binary"])
def test_report_renders_without_clipped_or_overlapping_text(driver, reports, shots, case):
    from selenium.webdriver.common.by import By

    path, models = reports[case]
    driver.get(path.as_uri())
    assert driver.title.startswith("riskbench report")
    problems, count = driver.execute_script(MEASURE)
    assert count > 50  # the figures' text is real SVG text, measured here
    assert problems == []
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    rows = driver.find_elements(By.CSS_SELECTOR, "table.rb.sortable tbody tr")
    if models is not None:
        at = _column(driver, "model")
        assert [r.find_elements(By.TAG_NAME, "td")[at].text for r in rows] == list(models)
    # which, why and where: all three on the first screen
    tops = driver.execute_script(
        "return ['.decision', '.why', '.where'].map(function (s) {"
        " var r = document.querySelector(s).getBoundingClientRect(); return [r.top, r.bottom];"
        "});")
    assert all(0 <= top and bottom <= 1000 for top, bottom in tops), tops
    # every figure fits the page column: nothing wider than the window to scroll to
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= driver.execute_script("return window.innerWidth")
    for index, figure in enumerate(driver.find_elements(By.TAG_NAME, "figure")):
        driver.execute_script("arguments[0].scrollIntoView()", figure)
        figure.screenshot(str(shots / f"{case}-figure-{index}.png"))
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1300, min(height + 100, 16000))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(shots / f"{case}-page.png"))
    driver.set_window_size(1300, 1000)
    assert (shots / f"{case}-page.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_on_item_opens_every_models_score(driver, reports):
    from selenium.webdriver.common.by import By

    path, models = reports["b-long-names"]
    driver.get(path.as_uri())
    where = driver.find_element(By.CSS_SELECTOR, ".where")
    summary = where.find_element(By.CSS_SELECTOR, "details.compare summary")
    table = where.find_element(By.CSS_SELECTOR, "details.compare table")
    assert not table.is_displayed()
    summary.click()
    assert table.is_displayed()
    rows = table.find_elements(By.CSS_SELECTOR, "tr")[1:]
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == list(models)
    assert "subject" in rows[0].get_attribute("class")


def test_ranking_table_sorts_on_click(driver, reports):
    from selenium.webdriver.common.by import By

    path, models = reports["b-long-names"]
    driver.get(path.as_uri())

    def column(index):
        rows = driver.find_elements(By.CSS_SELECTOR, "table.rb.sortable tbody tr")
        return [r.find_elements(By.TAG_NAME, "td")[index].text for r in rows]

    model, wins = _column(driver, "model"), _column(driver, "wins")
    assert column(model) == list(models)
    headers = driver.find_elements(By.CSS_SELECTOR, "table.rb.sortable thead th")
    headers[model].click()  # alphabetical
    assert column(model) == sorted(models, key=str.lower)
    headers[model].click()  # again: descending
    assert column(model) == sorted(models, key=str.lower, reverse=True)
    headers[wins].click()  # numeric ascending
    counts = [int(w) for w in column(wins)]
    assert counts == sorted(counts) and counts != sorted(counts, reverse=True)


def _column(driver, name: str) -> int:
    """Index of a column of the ranking table, by its header."""
    from selenium.webdriver.common.by import By

    headers = driver.find_elements(By.CSS_SELECTOR, "table.rb.sortable thead th")
    return [h.text.strip().lower() for h in headers].index(name)
