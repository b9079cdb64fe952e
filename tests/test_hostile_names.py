"""Hostile inputs, part 2: names are data, never markup.

Promises checked:

* LITERAL  - a model, metric or item name reaches the terminal as its own text: rich markup
             (``[bold]``, ``[/]``, ``[link=...]``), emoji codes and mathtext are not
             interpreted, and control characters (ESC, BEL, CR, bidi overrides) appear as
             visible escapes (``\\x1b``), never raw;
* RUNS     - ``rank``, ``select`` and ``report`` exit 0 on such names (end to end, the CLI);
* HTML     - the report holds every name HTML-escaped;
* CSV      - score CSVs prefix formula-leading names with ``'``.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import riskbench
from riskbench._display import csv_cell, esc, mpl, visible
from riskbench.cli import main
from riskbench.table import write_scores

pytestmark = pytest.mark.hostile

NASTY = ["[bold red]pwn[/]", "x[/]y", "$x^2$", "$\\frac{$", "[link=http://evil.example]click"
         "[/link]", "\x1b[31mred\x1b[0m", "=HYPERLINK(\"http://e\")", ":smile:", "a\\",
         "_hidden", "\u202eevil", "b\nc\x07", "@sum", "+1-2", "\x1b]8;;http://x\x1b\\y"]
SGR = re.compile(r"\x1b\[[0-9;]*m")  # the styles riskbench itself prints
FAST = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _table(path, models, metrics=("m",), items=12):
    rows = [{"model": m, "sample_id": f"[i]{i}", "metric": met,
             "value": ((i * 7 + 3 * k) % 11) / 10 + 0.05 * k}
            for k, m in enumerate(models) for met in metrics for i in range(items)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _invoke(*args, terminal=True):
    env = {"COLUMNS": "250"}
    if terminal:
        env["FORCE_COLOR"] = "1"  # render as a terminal would: styles, links, controls
    return CliRunner().invoke(main, list(args), env=env)


def _check_terminal(output: str, names) -> None:
    """LITERAL: only riskbench's own SGR styles are escape sequences; names appear as text."""
    plain = SGR.sub("", output)
    assert "\x1b" not in plain, repr(plain[max(0, plain.find("\x1b") - 40):][:80])
    assert "\x07" not in plain and "\r" not in plain and "\u202e" not in plain
    for name in names:
        shown = visible(name.strip())
        if len(shown) <= 40:
            assert shown in plain, (shown, plain[:2000])


def test_the_nasty_names_through_rank_select_and_report(tmp_path):
    """LITERAL + RUNS + HTML on the issue's cases, as model and metric names."""
    path = _table(tmp_path / "nasty.jsonl", NASTY, metrics=("$m$", "[red]q[/]"))
    for command in (["rank", str(path)], ["select", str(path), "--guardrail",
                                          "$m$:mean>=0.5"]):  # some excluded, in a table
        result = _invoke(*command, "--n-resamples", "20", "--seed", "0", "--quiet")
        assert result.exit_code == 0, result.output
        _check_terminal(result.output, NASTY + ["$m$", "[red]q[/]"])
        assert "\x1b]8;" not in result.output  # no hyperlink escape reached the terminal
    report = tmp_path / "r.html"
    result = _invoke("report", str(path), "-o", str(report), "--n-resamples", "20",
                     "--seed", "0", "--quiet")
    assert result.exit_code == 0, result.output
    _check_terminal(result.output, [])
    page = report.read_bytes().decode("utf-8")
    for name in NASTY:
        assert html.escape(name.strip()) in page, name


def test_logs_shows_names_from_a_log_literally(tmp_path):
    """LITERAL: `riskbench logs` on a real Inspect log whose model and task names were
    replaced by hostile ones (table cells, notes and the checks table)."""
    source = Path(__file__).parent / "data" / "formats" / "inspect" / "inspect_ai_tests" / \
        "log_read_sample.json"
    log = json.loads(source.read_text())
    log["eval"]["model"] = "[bold red]pwn[/]\x1b[31m"
    log["eval"]["task"] = "[link=http://evil.example]t[/link]$x$"
    path = tmp_path / "log.json"
    path.write_text(json.dumps(log))
    result = _invoke("logs", str(path))
    assert result.exit_code == 0, result.output
    _check_terminal(result.output, ["[bold red]pwn[/]\x1b[31m",
                                    "[link=http://evil.example]t[/link]$x$"])
    assert "\x1b]8;" not in result.output


def test_lone_surrogates_in_json_names(tmp_path):
    """RUNS: a JSON ``\\ud800`` escape is legal JSON but not Unicode text (no file, terminal
    or report can hold it; it was UnicodeEncodeError, exit 1): replaced by U+FFFD, and said
    so (a DataWarning for tables, a note for logs). Escaped emoji pairs stay emoji."""
    rows = [{"model": name, "sample_id": i, "metric": "m", "value": (i % 3) / 3 + k / 10}
            for k, name in enumerate(["a\ud800b", "\ud83d\ude00", "c\udfff"])
            for i in range(10)]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # ensure_ascii: escapes
    with pytest.warns(riskbench.DataWarning, match="line 1, line 2, line 3, line 4, line 5 "
                                                   "and 15 more held lone UTF-16 surrogates"):
        table = riskbench.read_scores(path)
    assert set(table.models) == {"a\ufffdb", "\U0001f600", "c\ufffd"}
    result = _invoke("rank", str(path), "--n-resamples", "10", "--seed", "0", "--json")
    assert result.exit_code == 0, result.output
    source = Path(__file__).parent / "data" / "formats" / "inspect" / "inspect_ai_tests" / \
        "log_read_sample.json"
    log = json.loads(source.read_text())
    log["eval"]["model"] = "x\udc00y"
    (tmp_path / "log.json").write_text(json.dumps(log))
    result = _invoke("logs", str(tmp_path / "log.json"), "--quiet")
    assert result.exit_code == 0, result.output
    assert "log.json: 1 string(s) held lone UTF-16 surrogates" in SGR.sub("", result.output)
    assert "x\ufffdy" in SGR.sub("", result.output)


def test_error_messages_with_markup_and_controls(tmp_path):
    """LITERAL: an InputError whose message holds markup and ESC (a bad value, a path)."""
    path = tmp_path / "[bold]x[red].csv"
    path.write_text("model,sample_id,metric,value\na,1,acc,[/]\x1b[2J\n")
    result = _invoke("rank", str(path))
    assert result.exit_code == 2, result.output
    plain = SGR.sub("", result.output)
    assert "[bold]x[red].csv: field 'value' is not a number at line 2 ('[/]\\x1b[2J')" in plain
    assert "Traceback" not in plain


def test_escaping_helpers():
    assert esc("[bold]a[/] b\\") == "\\[bold]a\\[/] b\\\\"
    assert visible("a\x1b[31m\u202e\x00\n\t") == "a\\x1b[31m\\u202e\\x00\\x0a\\x09"
    assert visible("line\nbreak", newlines=True) == "line\nbreak"
    assert mpl("$x$ and $") == r"\$x\$ and \$"
    assert mpl("x" * 200).endswith("…") and len(mpl("x" * 200)) == 80
    assert [csv_cell(v) for v in ("=1+2", "+cmd", "-x", "@sum", "\tx", "-1.5", "+3", "1e5",
                                  "plain", 7)] == \
        ["'=1+2", "'+cmd", "'-x", "'@sum", "'\tx", "-1.5", "+3", "1e5", "plain", 7]


def test_csv_outputs_neutralise_formulas(tmp_path):
    """CSV: write_scores (and so `riskbench score -o x.csv`) prefixes formula cells."""
    frame = pd.DataFrame({"model": ["=cmd|'/C calc'!A0", "@SUM(1)", "-2", "ok"] * 2,
                          "item": ["+1", "+1", "+1", "+1", "2", "2", "2", "2"],
                          "metric": "m", "value": [1.0, 2, 3, 4, 5, 6, 7, 8]})
    table = riskbench.read_scores(frame)
    out = write_scores(table, tmp_path / "s.csv")
    text = out.read_text()
    assert "'=cmd|'/C calc'!A0" in text and "'@SUM(1)" in text
    assert not re.search(r"(^|,)[=@]", text, re.M)  # no cell starts a formula
    assert ",+1," in text and "\n-2," in text  # numbers stay numbers
    parquet = write_scores(table, tmp_path / "s.parquet")
    assert set(riskbench.read_scores(parquet).models) == set(table.models)  # exact there


# ------------------------------------------------------------------- properties (arbitrary)

names = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=16),
    st.text(st.sampled_from("[]/$\\=@+-:\x1b\x07\r\n \u202ebold linkred"), min_size=1,
            max_size=16),
).filter(lambda s: s.strip() != "")


def _distinct(draw_names):
    seen, out = set(), []
    for n in draw_names:
        if n.strip() not in seen:
            seen.add(n.strip())
            out.append(n)
    return out


def _property(tmp_path_factory, models, metric, report):
    models = _distinct(models)
    if len(models) < 2 or metric.strip() == "other":
        return
    d = tmp_path_factory.mktemp("names")
    path = _table(d / "t.jsonl", models, metrics=(metric, "other"))  # a portfolio for select
    for command in (["rank", str(path)],
                    ["select", str(path), "--guardrail", "portfolio:mean>=-10"]):
        result = _invoke(*command, "--n-resamples", "10", "--seed", "1", "--quiet")
        assert result.exit_code == 0, (command, result.output)
        _check_terminal(result.output, [*models, metric])
    if report:
        out = d / "r.html"
        result = _invoke("report", str(path), "-o", str(out), "--n-resamples", "10",
                         "--seed", "1", "--quiet")
        assert result.exit_code == 0, result.output
        page = out.read_bytes().decode("utf-8")  # no newline translation: "\r" stays
        for m in models:
            assert html.escape(m.strip()) in page, m


@FAST
@given(st.lists(names, min_size=2, max_size=4), names, st.booleans())
def test_arbitrary_unicode_names_end_to_end(tmp_path_factory, models, metric, report):
    """LITERAL + RUNS + HTML: rank and select (and half the time report) on arbitrary names."""
    _property(tmp_path_factory, models, metric, report)


@pytest.mark.slow
@SLOW
@given(st.lists(names, min_size=2, max_size=6), names, st.booleans())
def test_arbitrary_unicode_names_end_to_end_slow(tmp_path_factory, models, metric, report):
    _property(tmp_path_factory, models, metric, report)
