"""The ``riskbench`` command: thin commands over the public API (no statistics here).

Exit codes: 0 success; 2 bad input or bad options (the message says what, where and how to fix);
1 an unexpected internal error (a bug: please report it).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

import riskbench
from riskbench.errors import InputError, RiskbenchError, RiskbenchWarning
from riskbench.inference import CORRECTIONS, DESIGNS
from riskbench.ranking import CRITERIA, TESTS, Ranking
from riskbench.table import ALIGN, ON_MISSING, ScoreTable

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2
DEMO_METRIC = "win"

err_console = Console(stderr=True, soft_wrap=True)  # messages stay on one line


class _LazyProgress:
    """A progress bar on stderr that appears only once a run has lasted a second."""

    def __init__(self, description: str, enabled: bool) -> None:
        self.description = description
        self.enabled = enabled
        self.start = time.monotonic()
        self.bar: Progress | None = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.start < 1.0:
                return
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TaskProgressColumn(), TimeRemainingColumn(),
                                console=err_console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _run(action: Callable[[], int], quiet: bool) -> None:
    """Run a command body: map riskbench errors to exit codes, show warnings on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RiskbenchWarning)
        try:
            code = action()
        except InputError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            sys.exit(EXIT_INPUT)
        except RiskbenchError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            sys.exit(EXIT_INTERNAL)
        except Exception:  # a bug: show it, with the exit code documented for it
            err_console.print_exception()
            err_console.print("[bold red]internal error[/]: this is a bug in riskbench; please "
                              "report it with the traceback above", highlight=False)
            sys.exit(EXIT_INTERNAL)
    if not quiet:
        seen = set()
        for w in caught:
            text = str(w.message)
            if issubclass(w.category, RiskbenchWarning) and text not in seen:
                seen.add(text)
                err_console.print(f"[yellow]warning:[/] {text}", highlight=False)
    sys.exit(code)


def _fmt(x: float, digits: int = 4) -> str:
    """Fixed decimals for ratios in [0, 1]."""
    return "-" if x != x else f"{x:.{digits}f}"


def _fmt_value(x: float) -> str:
    """Scores in their own units: 4 significant digits."""
    return "-" if x != x else f"{x:.4g}"


def _console() -> Console:
    """Standard output; wide enough for long model names when it is not a terminal."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _title(ranking: Ranking) -> str:
    t = ranking.test
    if ranking.criterion != "dominance":
        what = f"{ranking.criterion} score"
    else:
        what = ("R-" if t.test == "relative" else "eps-") + ("FSD" if t.order == 1 else "SSD")
        if t.test == "absolute":
            what += f" (eps0 = {t.eps0:g})"
    direction = "higher is better" if ranking.higher_is_better else "lower is better"
    return (f"{what} ranking of {len(ranking.models)} models on {ranking.metric!r} "
            f"({direction})")


def print_ranking(ranking: Ranking, table: ScoreTable | None, console: Console,
                  top: int | None = None) -> None:
    """The ranking as a rich table, tie groups separated and shaded, plus what it means."""
    t = ranking.test
    grid = Table(title=_title(ranking), title_justify="left", show_lines=False,
                 caption=f"{t.design} bootstrap, B = {t.n_resamples}, seed {t.seed}; "
                         f"alpha = {t.alpha:g}, {t.correction} over {t.n_comparisons} pairs",
                 caption_justify="left")
    grid.add_column("rank", justify="right")
    grid.add_column("group", justify="right")
    grid.add_column("model", no_wrap=True)
    if ranking.criterion == "dominance":
        grid.add_column("eps (sd)", justify="right")
    else:
        grid.add_column(f"{ranking.criterion}", justify="right")
    grid.add_column("wins", justify="right")
    grid.add_column("mean", justify="right")
    grid.add_column(f"TVaR {ranking.p * 100:g}%", justify="right")
    shown = len(ranking.models) if top is None else min(top, len(ranking.models))
    for a in range(shown):
        g = int(ranking.group[a])
        last_of_group = a + 1 < shown and int(ranking.group[a + 1]) != g
        best = ranking.models[a] in ranking.best_set
        stat = (f"{_fmt(ranking.eps[a])} ({_fmt(ranking.eps_sd[a], 3)})"
                if ranking.criterion == "dominance" else _fmt_value(ranking.score[a]))
        grid.add_row(
            str(a + 1), str(g), ("★ " if best else "  ") + ranking.models[a], stat,
            str(int(ranking.wins[a])), _fmt_value(ranking.mean[a]), _fmt_value(ranking.tvar[a]),
            style="bold" if best else ("" if g % 2 else "dim"), end_section=last_of_group,
        )
    console.print(grid)
    if shown < len(ranking.models):
        console.print(f"... {len(ranking.models) - shown} more models (drop --top to see all)")
    console.print(f"[bold]Best set[/] (not significantly beaten by any model): "
                  f"{', '.join(ranking.best_set)}", highlight=False)
    console.print(f"[bold]Null hypothesis:[/] {ranking.h0}", highlight=False)
    if table is not None and table.dropped_items.get(ranking.metric or ""):
        console.print(f"Items: {ranking.n_items[0]} per model; "
                      f"{table.dropped_items[ranking.metric]} dropped because not every model "
                      "has them.", highlight=False)
    for note in ranking.notes:
        console.print(f"[dim]{note}[/]", highlight=False)


def _json_payload(ranking: Ranking, table: ScoreTable | None) -> dict:
    payload = ranking.to_dict()
    payload["riskbench_version"] = riskbench.__version__
    if table is not None:
        payload["input"] = {
            "source": table.source,
            "sha256": table.checksum,
            "dropped_items": table.dropped_items,
            "dropped_rows": table.dropped_rows,
        }
    return payload


def _rank_options(func):
    """Options shared by ``rank`` and ``demo`` (one spelling each, as in the Python API)."""
    opts = [
        click.option("--metric", help="Metric to rank on (needed when the table has several)."),
        click.option("--order", type=click.Choice(["1", "2"]), default="2", show_default=True,
                     help="1: first-order dominance (quantiles); 2: second-order (risk-averse)."),
        click.option("--test", "test", type=click.Choice(TESTS), default="relative",
                     show_default=True, help="relative: R-FSD/R-SSD; absolute: eps-FSD/eps-SSD."),
        click.option("--eps0", type=float, default=0.25, show_default=True,
                     help="Threshold of the absolute test."),
        click.option("--alpha", type=float, default=0.05, show_default=True),
        click.option("--correction", type=click.Choice(CORRECTIONS), default="bonferroni",
                     show_default=True, help="Multiple-testing correction over the pairs."),
        click.option("--design", type=click.Choice(DESIGNS), default="paired",
                     show_default=True, help="Bootstrap design."),
        click.option("--n-resamples", type=int, default=1000, show_default=True,
                     help="Bootstrap replicates B."),
        click.option("--seed", type=int, default=None,
                     help="Random seed (default: a fresh one, printed for reproduction)."),
        click.option("--criterion", type=click.Choice(CRITERIA), default="dominance",
                     show_default=True, help="Rank by dominance or by a mean-risk score."),
        click.option("--p", "p", type=float, default=0.05, show_default=True,
                     help="TVaR level shown (and used by --criterion tvar)."),
        click.option("--top", type=int, default=None, help="Show only the first N models."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead."),
        click.option("--quiet", is_flag=True, help="No progress bar, no warnings."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def _do_rank(table: ScoreTable, metric: str | None, order: str, test: str, eps0: float,
             alpha: float, correction: str, design: str, n_resamples: int, seed: int | None,
             criterion: str, p: float, top: int | None, as_json: bool, quiet: bool) -> int:
    progress = _LazyProgress("bootstrap", enabled=not quiet)
    try:
        ranking = riskbench.rank(
            table, metric=metric, order=int(order), test=test, eps0=eps0, alpha=alpha,
            correction=correction, design=design, n_resamples=n_resamples, seed=seed,
            criterion=criterion, p=p, progress=progress,
        )
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(_json_payload(ranking, table), indent=2))
    else:
        print_ranking(ranking, table, _console(), top=top)
    return EXIT_OK


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(riskbench.__version__, prog_name="riskbench")
def main() -> None:
    """Risk-aware benchmarking of LLMs: stochastic dominance rankings with tie groups.

    Exit codes: 0 ok, 2 bad input or options, 1 internal error.
    """


@main.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@_rank_options
@click.option("--model-col", default="model", show_default=True, help="Model column.")
@click.option("--item-col", default="sample_id", show_default=True,
              help="Item column (falls back to 'item').")
@click.option("--metric-col", default="metric", show_default=True, help="Metric column.")
@click.option("--value-col", default="value", show_default=True, help="Value column.")
@click.option("--lower-is-better", multiple=True, metavar="METRIC",
              help="A metric where lower is better (repeatable).")
@click.option("--align", type=click.Choice(ALIGN), default="error", show_default=True,
              help="Models with different item sets: error, keep common items, or keep all.")
@click.option("--on-missing", type=click.Choice(ON_MISSING), default="error",
              show_default=True, help="Missing/NaN/inf values: error or drop the rows.")
def rank(path, model_col, item_col, metric_col, value_col, lower_is_better, align, on_missing,
         **options):
    """Rank the models in PATH (CSV, CSV.gz, Parquet or JSONL long table).

    Without PATH, ranks the embedded AlpacaEval 2.0 demo data on its 'win' metric.
    """
    def action() -> int:
        if path is None:
            table = riskbench.load_demo()
            options["metric"] = options["metric"] or DEMO_METRIC
        else:
            directions = dict.fromkeys(lower_is_better, False) or None
            table = riskbench.read_scores(path, model=model_col, item=item_col,
                                          metric=metric_col, value=value_col,
                                          higher_is_better=directions, align=align,
                                          on_missing=on_missing)
        return _do_rank(table, **options)

    _run(action, options["quiet"])


@main.command()
@_rank_options
def demo(**options):
    """Rank 48 models on real AlpacaEval 2.0 per-instruction judge preferences (R-SSD)."""
    def action() -> int:
        table = riskbench.load_demo()
        options["metric"] = options["metric"] or DEMO_METRIC
        if not options["as_json"]:
            _console().print(
                "[bold]riskbench demo[/]: AlpacaEval 2.0, 48 models x 805 instructions; 'win' = "
                "probability that GPT-4-turbo prefers the model's answer to GPT-4-preview's.\n"
                "A leaderboard sorts by the mean; here models are ranked by second-order "
                "stochastic dominance of their whole distribution of per-instruction scores "
                "(the lower tail counts), with bootstrap tests and tie groups.\n",
                highlight=False,
            )
        return _do_rank(table, **options)

    _run(action, options["quiet"])


if __name__ == "__main__":  # pragma: no cover
    main()
