"""The ``riskbench`` command: thin commands over the public API (no statistics here).

Exit codes: 0 success; 2 bad input or bad options, or a fault of the environment (disk full,
read-only folder, out of memory; the message says what, where and how to fix); 130 SIGINT, 143
SIGTERM, 141 standard output closed by its reader; 1 an unexpected internal error (a bug: please
report it).
"""

from __future__ import annotations

import errno
import functools
import json
import math
import os
import secrets
import shlex
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

import riskbench
from riskbench._atomic import check_output, write_text
from riskbench._display import Table, esc, visible
from riskbench._limits import format_size, parse_size
from riskbench.agreement import default_sizes
from riskbench.backends import BACKENDS
from riskbench.errors import InputError, RiskbenchError, RiskbenchWarning, shorten
from riskbench.inference import CORRECTIONS, DESIGNS, ORDER_NAMES
from riskbench.multivariate import MULTIVARIATE
from riskbench.ranking import CRITERIA, NO_DECISION, TESTS, BordaRanking, Ranking
from riskbench.table import ALIGN, ON_INFINITE, ON_MISSING, ScoreTable, resolve_metric

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2
DEMO_METRIC = "win"

# Messages stay on one line; names are data (riskbench._display), so no emoji codes either.
err_console = Console(stderr=True, soft_wrap=True, emoji=False)
_CAUGHT: list[list] = []  # the warnings recorded by the running command (see _run)


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
        self.bar.update(self.task, completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that ``finally`` blocks and atomic writes clean
    up (a BaseException, like KeyboardInterrupt, so no ``except Exception`` swallows it)."""


EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM
EXIT_SIGPIPE = 128 + signal.SIGPIPE  # what a tool killed by SIGPIPE reports
# Faults of the machine or the file system, not of riskbench: exit 2 with the OS's words.
_ENVIRONMENT = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EMFILE,
                errno.ENFILE, errno.EFBIG, errno.ENAMETOOLONG, errno.ELOOP, errno.EIO,
                errno.ENXIO, errno.ENODEV, errno.ETXTBSY, errno.EXDEV}


def _on_sigterm(signum, frame):
    raise _Terminated()


def _error(message: str, code: int) -> None:
    err_console.print(f"[bold red]error:[/] {esc(shorten(message), newlines=True)}",
                      highlight=False)
    sys.exit(code)


def _stop(message: str | None, code: int) -> None:
    """Exit on a signal, after the unwinding has removed temporary files: skip the
    interpreter's teardown of numba, pandas and matplotlib (about 0.5 s of CPU), which a
    user who pressed ^C should not wait for. Worker pools were killed while unwinding."""
    if message is not None:
        err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken pipe: nothing more to say
            pass
    os._exit(code)


def _run(action: Callable[[], int], quiet: bool) -> None:
    """Run a command body: map errors to exit codes, show warnings on stderr.

    Exit 2 for bad input and for faults of the environment (disk full, read-only folder, no
    permission, out of memory), 130 on SIGINT and 143 on SIGTERM (partial outputs are never
    left: atomic writes remove their temporary file on the way out), 1 for a bug. Messages
    name options as CLI flags (``cli_message``).
    """
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RiskbenchWarning)
            _CAUGHT.append(caught)
            try:
                if not quiet:
                    _compile_notice()
                code = action()
            except KeyboardInterrupt:
                _stop("interrupted (SIGINT); nothing was written", EXIT_SIGINT)
            except _Terminated:
                _stop("terminated (SIGTERM); nothing was written", EXIT_SIGTERM)
            except BrokenPipeError:  # `riskbench rank --json | head`: the reader left
                _stop(None, EXIT_SIGPIPE)
            except InputError as exc:
                _error(exc.cli_message(), EXIT_INPUT)
            except RiskbenchError as exc:
                _error(str(exc), EXIT_INTERNAL)
            except OSError as exc:
                if exc.errno not in _ENVIRONMENT:
                    _bug()
                where = next((str(f) for f in (exc.filename, exc.filename2) if f), "a file")
                _error(f"{where}: {exc.strerror or exc}; riskbench could not read or write it: "
                       "check the space left, the permissions and the path", EXIT_INPUT)
            except MemoryError:
                _error("out of memory: the input, or what the options ask for (sizes, "
                       "resamples, models), needs more memory than is available; reduce it "
                       "(the README's reliability section lists the input limits)", EXIT_INPUT)
            except (RecursionError, OverflowError) as exc:
                _error(f"the input holds what riskbench cannot represent ({type(exc).__name__}: "
                       f"{exc}): nesting deeper than about 1,000 levels or a number beyond the "
                       "float range; if the input is ordinary, this is a bug: please report it",
                       EXIT_INPUT)
            except Exception:  # a bug: show it, with the exit code documented for it
                _bug()
            finally:
                _CAUGHT.pop()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if not quiet:
        seen = set()
        for w in caught:
            message = (w.message.cli_message() if isinstance(w.message, RiskbenchWarning)
                       else str(w.message))
            if issubclass(w.category, RiskbenchWarning) and message not in seen:
                seen.add(message)
                err_console.print(f"[yellow]warning:[/] {esc(shorten(message), newlines=True)}",
                                  highlight=False)
    sys.exit(code)


def _bug() -> None:
    err_console.print_exception()
    err_console.print("[bold red]internal error[/]: this is a bug in riskbench; please "
                      "report it with the traceback above", highlight=False)
    sys.exit(EXIT_INTERNAL)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _compile_notice() -> None:
    """Say so on stderr before the first run compiles the kernels (issue 15: no silent wait);
    for a person at a terminal only, so that piped or captured output stays as it was."""
    from riskbench.backends import available

    if sys.stderr.isatty() and available("numba"):
        from riskbench.backends import _numba

        if not _numba.cached():
            err_console.print(f"compiling riskbench's kernels once (about 15 s of CPU); they "
                              f"are cached in {_numba.cache_dir()} for every later run",
                              highlight=False, markup=False)


def _fmt(x: float, digits: int = 4) -> str:
    """Fixed decimals for ratios in [0, 1]."""
    return "-" if x != x else f"{x:.{digits}f}"


def _fmt_value(x: float) -> str:
    """Scores in their own units: 4 significant digits."""
    return "-" if x != x else f"{x:.4g}"


def _console() -> Console:
    """Standard output; wide enough for long model names when it is not a terminal."""
    console = Console(emoji=False)
    return console if console.is_terminal else Console(width=160, emoji=False)


def _what(ranking: Ranking) -> str:
    t = ranking.test
    if ranking.criterion != "dominance":
        return f"{ranking.criterion} score"
    what = ("R-" if t.test == "relative" else "eps-") + ("FSD" if t.order == 1 else "SSD")
    if _joint(ranking):
        what = f"multivariate {what}"
    if t.test == "absolute":
        what += f" (eps0 = {t.eps0:g})"
    return what


def _joint(ranking: Ranking) -> bool:
    return getattr(ranking.portfolio, "kind", None) == MULTIVARIATE


def _title(ranking: Ranking) -> str:
    if _joint(ranking):
        metrics = ", ".join(ranking.portfolio.metrics)
        on = (f"the joint distribution of {metrics} (entropic optimal transport, lambda = "
              f"{ranking.portfolio.reg:g})")
    elif ranking.portfolio is not None:
        metrics = ", ".join(ranking.portfolio.metrics)
        on = f"the {ranking.portfolio.kind.upper()} portfolio of {metrics}"
    else:
        direction = "higher is better" if ranking.higher_is_better else "lower is better"
        on = f"{ranking.metric!r} ({direction})"
    return f"{_what(ranking)} ranking of {len(ranking.models)} models on {on}"


def _rank_text(rank: float) -> str:
    return f"{rank:g}"


def _names(models) -> Text:
    return Text(visible(", ".join(models)))


def print_ranking(ranking: Ranking, table: ScoreTable | None, console: Console,
                  top: int | None = None) -> None:
    """The ranking as a rich table with rank intervals and letters, plus what it means."""
    t = ranking.test
    grid = Table(title=Text(visible(_title(ranking))), title_justify="left",
                 caption=Text(f"{ranking.bootstrap_words()}, B = {t.n_resamples}, seed {t.seed}; "
                              f"alpha = {t.alpha:g}, {t.correction} over {t.n_comparisons} "
                              "ordered pairs"),
                 caption_justify="left")
    interval = ("rank interval" if ranking.simultaneous
                else "rank bounds (no guarantee)")
    grid.add_column("rank", justify="right")
    grid.add_column(interval, justify="center")
    grid.add_column("letters", justify="left")
    grid.add_column("model", max_width=60, overflow="fold")
    if ranking.criterion == "dominance":
        grid.add_column("eps (sd)", justify="right")
    else:
        grid.add_column(f"{ranking.criterion}", justify="right")
    grid.add_column("wins", justify="right")
    grid.add_column("mean", justify="right")
    grid.add_column(f"TVaR {ranking.p * 100:g}%", justify="right")
    shown = len(ranking.models) if top is None else min(top, len(ranking.models))
    top_set = ranking.top_set or ()
    for a in range(shown):
        first = ranking.models[a] in top_set
        stat = (f"{_fmt(ranking.eps[a])} ({_fmt(ranking.eps_sd[a], 3)})"
                if ranking.criterion == "dominance" else _fmt_value(ranking.score[a]))
        grid.add_row(
            _rank_text(ranking.rank[a]),
            f"[{int(ranking.rank_low[a])}, {int(ranking.rank_high[a])}]",
            Text(ranking.letters[a]), Text(("★ " if first else "  ") + visible(ranking.models[a])),
            stat, str(int(ranking.wins[a])), _fmt_value(ranking.mean[a]),
            _fmt_value(ranking.tvar[a]), style="bold" if first else "",
        )
    console.print(grid)
    if shown < len(ranking.models):
        console.print(f"... {len(ranking.models) - shown} more models (drop --top to see all)")
    if ranking.no_decision:
        console.print(Text.assemble((NO_DECISION[0].upper() + NO_DECISION[1:], "bold red"),
                                    f" (no pair is separated at alpha = {t.alpha:g}); the "
                                    "order is by the point estimates only."))
    if ranking.top_set is not None:
        console.print(Text.assemble(
            ("Top set", "bold"), f" (the models that can be first, a {ranking.interval_level:g} "
            "confidence set; ★): ", _names(ranking.top_set)))
    else:
        console.print(Text.assemble(
            ("No top set", "bold"), ": Benjamini-Hochberg controls the false discovery rate "
            "only, which gives no confidence set for the best model. Not beaten by any "
            "discovery: ", _names(ranking.best_set)))
    console.print(Text.assemble(("Null hypothesis: ", "bold"), visible(ranking.h0)))
    dropped = {} if table is None else table.dropped_items
    if dropped:
        console.print(f"Items: {ranking.n_items[0]} per model; items dropped because not every "
                      f"model has them: "
                      f"{visible(', '.join(f'{m}: {c}' for m, c in dropped.items()))}.",
                      highlight=False, markup=False)
    for note in ranking.notes + (() if table is None else table.notes):
        if ranking.no_decision and note.startswith(NO_DECISION.capitalize()):
            continue  # said above, in bold
        console.print(Text(visible(note), style="dim"))


def print_borda(ranking: BordaRanking, console: Console, top: int | None = None) -> None:
    metrics = list(ranking.per_metric)
    first = next(iter(ranking.per_metric.values()))
    grid = Table(title=Text(f"Borda count of {len(metrics)} per-metric {_what(first)} rankings "
                            f"of {len(ranking.models)} models"), title_justify="left",
                 caption=f"seed {ranking.seed}; each metric ranked separately, k - rank points "
                         "per metric (tied models share the mean rank)", caption_justify="left")
    # long metric names would squeeze the rank and points to nothing: short headers, a key
    long = sum(len(m) for m in metrics) > 60
    heads = [f"#{u + 1}" if long else f"rank on {m}" for u, m in enumerate(metrics)]
    for col in ("rank", "model", "borda", *heads):
        grid.add_column(Text(visible(col)), justify="left" if col == "model" else "right",
                        no_wrap=col != "model", min_width=len(col))
    frame = ranking.to_frame()
    shown = len(frame) if top is None else min(top, len(frame))
    for a in range(shown):
        row = frame.iloc[a]
        grid.add_row(_rank_text(row["rank"]), Text(visible(row["model"])), f"{row['borda']:g}",
                     *(_rank_text(row[f"rank_{m}"]) for m in metrics))
    console.print(grid)
    if long:
        console.print(Text(visible("Rank on each metric: " + "; ".join(
            f"#{u + 1} {m}" for u, m in enumerate(metrics)))))
    for note in ranking.notes:
        console.print(f"[dim]{esc(note)}[/]", highlight=False)


def _finite_json(value):
    """Replace NaN and infinities by None, recursively: strict JSON has no such tokens."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_json(v) for v in value]
    return value


def _dumps(payload: dict, default=None) -> str:
    """Strict JSON (``allow_nan=False``): non-finite numbers become null."""
    def fallback(value):
        out = _json_default(value) if default is None else default(value)
        return _finite_json(out)

    return json.dumps(_finite_json(payload), indent=2, allow_nan=False, default=fallback)


def _json_payload(result: Ranking | BordaRanking, table: ScoreTable | None) -> dict:
    payload = result.to_dict()
    payload["riskbench_version"] = riskbench.__version__
    if table is not None:
        payload["input"] = {
            "source": table.source,
            "sha256": table.checksum,
            "dropped_items": table.dropped_items,
            "dropped_rows": table.dropped_rows,
            "notes": list(table.notes),
        }
        if table.read is not None:
            payload["read"] = table.read.to_dict()
    return payload


def print_read_summary(table: ScoreTable | None, console: Console) -> None:
    """The account of what was read and what was left out (every command that reads)."""
    if table is None or table.read is None:
        return
    for line in table.read.lines():
        console.print(f"[dim]{esc(line)}[/]", highlight=False, soft_wrap=True)


def _read_payload(table: ScoreTable | None) -> dict | None:
    return None if table is None or table.read is None else table.read.to_dict()


def _options(*opts):
    def apply(func):
        for opt in reversed(opts):
            func = opt(func)
        return func
    return apply


def _size_option(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_size(value, param.opts[0])
    except InputError as exc:
        raise click.BadParameter(str(exc).removeprefix(f"{param.opts[0]} ")) from None


def input_limit_options(func):
    """``--max-input-bytes``, ``--max-expansion``, ``--max-line-bytes``, ``--max-columns``: the
    command runs under
    :func:`riskbench.input_limits` with them (apply below ``@main.command()``)."""
    @functools.wraps(func)
    def command(*args, max_input_bytes, max_expansion, max_line_bytes, max_columns, **kwargs):
        with riskbench.input_limits(max_bytes=max_input_bytes, max_ratio=max_expansion,
                                    max_line=max_line_bytes, max_columns=max_columns):
            return func(*args, **kwargs)

    defaults = riskbench.Limits()
    return _options(
        click.option("--max-input-bytes", callback=_size_option, metavar="SIZE",
                     help=f"Largest uncompressed size of an input file or zip member, e.g. 8G "
                          f"(default {format_size(defaults.max_bytes)})."),
        click.option("--max-expansion", type=click.FloatRange(min=1), metavar="RATIO",
                     help=f"Largest compression ratio of a .gz file or zip member past "
                          f"{format_size(defaults.ratio_floor)} (default "
                          f"{defaults.max_ratio:g})."),
        click.option("--max-line-bytes", callback=_size_option, metavar="SIZE",
                     help=f"Longest line of a CSV/TSV/JSONL input (default "
                          f"{format_size(defaults.max_line)})."),
        click.option("--max-columns", type=click.IntRange(min=1), metavar="N",
                     help=f"Most columns of a table input (default {defaults.max_columns:,})."),
    )(command)


def output_option(what: str = "the JSON object that --json prints"):
    """``-o/--output FILE``: write ``what`` to FILE atomically (never over an input)."""
    return click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
                        help=f"Write {what} to FILE, atomically (complete or absent; an "
                             "existing file keeps its permissions; never one of the inputs).")


def _inputs(options: dict) -> list:
    """The paths a command reads (before _load pops them): outputs may not replace them."""
    found = []
    for key in ("path", "paths", "metric_spec", "generations"):
        value = options.get(key)
        found.extend(value if isinstance(value, list | tuple) else [value])
    return [p for p in found if p is not None]


def _emit(payload: dict, *, as_json: bool, output: Path | None, inputs: list,
          console: Console | None = None, default=None) -> None:
    """Print the JSON payload (--json) and/or write it atomically to ``output`` (-o)."""
    dumped = _dumps(payload, default=default)  # strict JSON: NaN and infinities are null
    if output is not None:
        write_text(output, dumped + "\n", inputs=inputs)
        if not as_json:
            (console or _console()).print(f"JSON written to {esc(output)}", highlight=False)
    if as_json:
        click.echo(dumped)


# Options shared by the commands (one spelling each, as in the Python API).
_common_stats = _options(
    click.option("--metric", help="Rank on this metric alone (default: the portfolio of all "
                                  "metrics, or the only metric): a name, a glob "
                                  "('*harm_bench_score*') or a unique substring."),
    click.option("--portfolio", type=click.Choice(["ic", "ec", MULTIVARIATE, "none"]),
                 default="ic", show_default=True, help="With several metrics: independent- or "
                 "empirical-copula portfolio, multivariate (first-order dominance of the joint "
                 "metric distributions by entropic optimal transport), or none (rank each "
                 "metric, aggregate by Borda count)."),
    click.option("--weight", "weights", multiple=True, metavar="METRIC=W",
                 help="Portfolio weight of a metric (repeatable; others weigh 1)."),
    click.option("--order", type=click.Choice(["1", "2"]), default=None,
                 help="1: first-order dominance (quantiles); 2: second-order (risk-averse). "
                      "Default 2 (1, the only order, for --portfolio multivariate)."),
    click.option("--alpha", type=float, default=0.05, show_default=True),
    click.option("--correction", type=click.Choice(CORRECTIONS), default="bonferroni",
                 show_default=True, help="Multiple-testing correction over the pairs."),
    click.option("--design", type=click.Choice(DESIGNS), default="paired", show_default=True,
                 help="Bootstrap design."),
    click.option("--n-resamples", type=int, default=1000, show_default=True,
                 help="Bootstrap replicates B."),
    click.option("--seed", type=int, default=None,
                 help="Random seed (default: a fresh one, printed for reproduction)."),
    click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True,
                 help="Engine of the bootstrap: auto (numba if installed), numpy, numba, torch, "
                      "dask (a running dask.distributed cluster)."),
    click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead."),
    click.option("--quiet", is_flag=True, help="No progress bar, no warnings."),
)

_rank_only = _options(
    click.option("--test", "test", type=click.Choice(TESTS), default="relative",
                 show_default=True, help="relative: R-FSD/R-SSD; absolute: eps-FSD/eps-SSD."),
    click.option("--eps0", type=float, default=0.25, show_default=True,
                 help="Threshold of the absolute test."),
    click.option("--criterion", type=click.Choice(CRITERIA), default="dominance",
                 show_default=True, help="Rank by dominance or by a mean-risk score."),
    click.option("--p", "p", type=float, default=0.05, show_default=True,
                 help="TVaR level shown (and used by --criterion tvar)."),
    click.option("--top", type=int, default=None, help="Show only the first N models."),
)

_reading = _options(
    click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
    click.option("--model-col", default="model", show_default=True, help="Model column."),
    click.option("--item-col", default="sample_id", show_default=True,
                 help="Item column (falls back to 'item')."),
    click.option("--metric-col", default="metric", show_default=True, help="Metric column."),
    click.option("--value-col", default="value", show_default=True, help="Value column."),
    click.option("--lower-is-better", multiple=True, metavar="METRIC",
                 help="A metric where lower is better (repeatable)."),
    click.option("--cluster-col", default=None,
                 help="Column of each item's cluster: resample clusters, not items."),
    click.option("--repeat-col", default=None,
                 help="Column telling repeated generations of an item apart."),
    click.option("--generations", "generations", type=click.Choice(["mean", "two-stage"]),
                 default="mean", show_default=True, help="Repeated generations (--repeat-col): "
                 "average per item, or resample items then generations."),
    click.option("--metric-spec", type=click.Path(path_type=Path),
                 help="TOML/JSON file with each metric's direction and weight."),
    click.option("--format", "log_format", default="auto", show_default=True,
                 type=click.Choice(["auto", "table", "lm_eval", "helm", "inspect", "alpaca_eval",
                                    "pairwise", "eee"]),
                 help="Input: a long table or an evaluation log / log folder (sniffed by "
                      "default)."),
    click.option("--align", type=click.Choice(ALIGN), default="error", show_default=True,
                 help="Models with different item sets: error, keep common items, or keep "
                      "all."),
    click.option("--on-missing", type=click.Choice(ON_MISSING), default="error",
                 show_default=True, help="Missing/NaN values: error or drop the rows."),
    click.option("--on-infinite", type=click.Choice(ON_INFINITE), default="keep",
                 show_default=True, help="+/-inf values (the worst or best outcome): keep them "
                 "(portfolios use them; raw-scale statistics of that metric refuse), rank the "
                 "metric on its pooled ECDF so every statistic can use it, or error."),
    click.option("--lenient", is_flag=True, help="Skip bad records and rows, and count them in "
                 "the read summary (strict=False)."),
    click.option("--model-name", "model_names", multiple=True, metavar="OLD=NEW",
                 help="Rename a model (repeatable)."),
    click.option("--logprobs", is_flag=True, help="Also read log-probability stats of logs "
                 "(HELM logprob, max_prob) as metrics."),
)


def _weights(pairs: tuple[str, ...], spec_weights: dict | None) -> dict | None:
    weights = dict(spec_weights or {})
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise InputError(f"--weight expects METRIC=NUMBER, e.g. --weight win=2; got {pair!r}")
    return weights or None


def _renames(pairs: tuple[str, ...]) -> dict[str, str] | None:
    names = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(f"--model-name expects OLD=NEW, e.g. --model-name "
                             f"openai/gpt-4o=gpt-4o; got {pair!r}")
        names[old.strip()] = new.strip()
    return names or None


def _load(options: dict, *, texts: bool = False) -> tuple[ScoreTable, dict | None]:
    """Read the table (or the demo) and the weights from the reading options; ``texts``
    keeps the logs' prompts and responses (the report's drill-down).

    ``options["metric"]``, when given, may be a glob or a unique substring: it is replaced by
    the one metric name it picks.
    """
    paths = list(options.pop("paths", ()) or ())
    spec = options.pop("metric_spec")
    spec_read = riskbench.read_metric_spec(spec) if spec is not None else None
    lower = options.pop("lower_is_better")
    read = {k: options.pop(k) for k in ("model_col", "item_col", "metric_col", "value_col",
                                        "align", "on_missing", "on_infinite", "log_format",
                                        "cluster_col", "repeat_col", "generations", "lenient",
                                        "model_names", "logprobs")}
    given = options.pop("weights")
    # a metric spec describes every metric: with --metric picking one, its weights do not
    # apply (a --weight given with --metric still is an error)
    from_spec = spec_read.weights if spec_read and not options.get("metric") else None
    weights = _weights(given, from_spec)
    if not paths:  # the embedded demo, with its read account (6 items are left out)
        return _demo_table(), weights
    directions = dict(spec_read.higher_is_better) if spec_read else {}
    directions.update(dict.fromkeys(lower, False))
    table = riskbench.read_scores(
        paths if len(paths) > 1 else paths[0], model=read["model_col"], item=read["item_col"],
        metric=read["metric_col"], value=read["value_col"],
        higher_is_better=directions or None, align=read["align"],
        on_missing=read["on_missing"], on_infinite=read["on_infinite"],
        strict=not read["lenient"], format=read["log_format"], cluster=read["cluster_col"],
        repeat=read["repeat_col"], repeats=read["generations"],
        model_names=_renames(read["model_names"]), logprobs=read["logprobs"], texts=texts,
        # a string picks one metric: a pattern matching several is an error listing them,
        # before the other matches are checked (a second match held by one model would
        # otherwise fail as "scores for only one model")
        metrics=options["metric"] or None)
    if options.get("metric"):
        # the one name it picked
        options["metric"] = resolve_metric(options["metric"], table.metrics, table.source)
    return table, weights


#: How the read account names the embedded demo file (not its install path).
DEMO_SOURCE = "the embedded demo data (riskbench/data/alpacaeval2_demo.csv.gz)"


def _demo_table() -> ScoreTable:
    """The demo table, its read account naming the embedded file rather than its path."""
    table = riskbench.load_demo()
    read = replace(table.read, sources=(DEMO_SOURCE,), files=(DEMO_SOURCE,),
                   skipped=tuple(replace(s, where=DEMO_SOURCE) for s in table.read.skipped))
    return replace(table, read=read)


def _stats(options: dict) -> dict:
    """Keyword arguments of the statistical functions from the shared CLI options."""
    out = {k: options.pop(k) for k in ("metric", "alpha", "correction", "design", "n_resamples",
                                       "seed", "backend")}
    order = options.pop("order")
    out["order"] = None if order is None else int(order)
    portfolio = options.pop("portfolio")
    out["portfolio"] = None if portfolio == "none" else portfolio
    return out


def _print_result(result, table, as_json: bool, top: int | None = None, *,
                  output: Path | None = None, inputs: list = ()) -> None:
    if as_json or output is not None:
        _emit(_json_payload(result, table), as_json=as_json, output=output, inputs=inputs)
        if as_json:
            return
    if isinstance(result, BordaRanking):
        print_borda(result, _console(), top=top)
    else:
        print_ranking(result, table, _console(), top=top)


def _rank_table(table: ScoreTable, weights: dict | None, options: dict):
    stats = _stats(options)
    progress = _LazyProgress("bootstrap", enabled=not options["quiet"])
    try:
        return riskbench.rank(table, weights=weights, test=options.pop("test"),
                              eps0=options.pop("eps0"), criterion=options.pop("criterion"),
                              p=options.pop("p"), progress=progress, **stats)
    finally:
        progress.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(riskbench.__version__, prog_name="riskbench")
def main() -> None:
    """Risk-aware benchmarking of LLMs: stochastic dominance rankings with rank intervals.

    Exit codes: 0 ok, 2 bad input or options or environment, 130 SIGINT, 143 SIGTERM, 1 bug.
    """


@main.command()
@input_limit_options
@_reading
@_common_stats
@_rank_only
@output_option()
def rank(**options):
    """Rank the models in PATHS: long tables (CSV, CSV.gz, Parquet, JSONL) and/or evaluation
    logs (files or folders), combined into one table.

    With several metrics the models are ranked on their portfolio (--portfolio). Without PATH,
    ranks the embedded AlpacaEval 2.0 demo data on its 'win' metric (with --portfolio
    multivariate: on its three metrics jointly; 48 models make that take minutes).
    """
    def action() -> int:
        demo = not options["paths"]
        inputs, output = _inputs(options), options.pop("output")
        if output is not None:
            check_output(output, inputs)
        table, weights = _load(options)
        if demo and options["metric"] is None and options["portfolio"] != MULTIVARIATE:
            options["metric"] = DEMO_METRIC
        top, as_json = options.pop("top"), options["as_json"]
        _print_result(_rank_table(table, weights, options), table, as_json, top,
                      output=output, inputs=inputs)
        if not as_json:
            print_read_summary(table, _console())
        return EXIT_OK

    _run(action, options["quiet"])


@main.command()
@input_limit_options
@_reading
@_common_stats
@click.option("--guardrail", "guardrails", multiple=True, metavar="RULE",
              help="A hard constraint, e.g. 'toxicity:tvar@0.05>=-0.2' or "
                   "'win:dominates(ref_model,order=2)' (repeatable; grammar in docs).")
@click.option("--top", type=int, default=None, help="Show only the first N eligible models.")
@output_option()
def select(**options):
    """Choose a model for risk-averse use: the top of the R-SSD ranking of the portfolio among
    the models that pass every guardrail (PATH as for rank; default: the demo data).

    \b
    Guardrail grammar:  TARGET:MEASURE[@LEVEL] OP NUMBER  |  TARGET:dominates(MODEL[,order=2]
                        [,eps0=0.25][,alpha=0.05])
    TARGET: a metric or 'portfolio'; MEASURE: mean, tvar, tail_gini, gini, abs_semidev,
    std_semidev, quantile; OP: >=, <=, >, <. Values are on the oriented scale (lower-is-better
    metrics negated), so 'toxicity:tvar@0.05>=-0.2' = worst-5% mean toxicity <= 0.2.
    """
    def action() -> int:
        inputs, output = _inputs(options), options.pop("output")
        if output is not None:
            check_output(output, inputs)
        table, weights = _load(options)
        stats = _stats(options)
        if stats["portfolio"] is None:
            raise InputError("select ranks a portfolio: use --portfolio ic, ec or multivariate")
        progress = _LazyProgress("bootstrap", enabled=not options["quiet"])
        try:
            selection = riskbench.select(table, guardrails=options["guardrails"],
                                         weights=weights, progress=progress, **stats)
        finally:
            progress.close()
        if options["as_json"] or output is not None:
            payload = selection.to_dict()
            payload["riskbench_version"] = riskbench.__version__
            if _read_payload(table) is not None:
                payload["read"] = _read_payload(table)
            _emit(payload, as_json=options["as_json"], output=output, inputs=inputs)
            if options["as_json"]:
                return EXIT_OK
        console = _console()
        for g in selection.guardrails:
            console.print(Text(visible(f"Guardrail {g.text!r}: "
                                       f"{g.describe(len(selection.models) - 1)}")))
        if selection.no_decision:
            console.print(Text.assemble(
                (NO_DECISION[0].upper() + NO_DECISION[1:], "bold red"),
                f": {len(selection.eligible)} of {len(selection.models)} models pass every "
                "guardrail, and no test separates any two of them, so none is chosen."))
        elif selection.chosen is None:
            console.print(Text("No model passes every guardrail.", style="bold red"))
        else:
            top = selection.top_set
            tied = [] if top is None else [m for m in top if m != selection.chosen]
            r = selection.ranking
            level = None if r is None else (f"a {r.interval_level:g} confidence set; tests at "
                                            f"alpha = {r.test.alpha:g}")
            console.print(Text.assemble(
                (f"Chosen model: {visible(selection.chosen)}", "bold green"),
                f" ({len(selection.eligible)} of {len(selection.models)} models pass every "
                "guardrail)",
                (f"; first in the ranking's order only: no test separates it from "
                 f"{visible(', '.join(tied))} (the top set of {len(top)} models that can be "
                 f"first, {level})" if tied else
                 "; the only model that can be first" + (f" ({level})" if level else ""))))
        dominance_checks = [c for c in selection.checks if c.decided_by]
        if dominance_checks:
            grid = Table(title="dominates(...) guardrails: which test decided",
                         title_justify="left")
            for col in ("model", "guardrail", "result", "eps", "upper bound", "decided by"):
                grid.add_column(col, no_wrap=col != "guardrail")
            for c in dominance_checks:
                grid.add_row(Text(visible(c.model)), Text(visible(c.guardrail)),
                             "pass" if c.passed else "FAIL",
                             _fmt(c.measured), "-" if c.upper_bound is None
                             else _fmt(c.upper_bound), _decided_words(c))
            console.print(grid)
        if selection.ranking is not None:
            print_ranking(selection.ranking, table, console, top=options["top"])
        excluded = selection.excluded
        if excluded:
            grid = Table(title=f"Excluded models ({len(excluded)})", title_justify="left")
            for col in ("model", "failed guardrail", "measured", "detail"):
                grid.add_column(col, no_wrap=col != "detail")
            for m, checks in excluded.items():
                for c in checks:
                    grid.add_row(Text(visible(m)), Text(visible(c.guardrail)),
                                 _fmt_value(c.measured), Text(visible(c.detail)))
                    m = ""
            console.print(grid)
        print_read_summary(table, console)
        return EXIT_OK

    _run(action, options["quiet"])


def _warnings_so_far() -> tuple[str, ...]:
    """The riskbench warnings the running command has raised so far (what :func:`_run` will
    print), once each, in order."""
    seen: list[str] = []
    for w in _CAUGHT[-1] if _CAUGHT else ():
        text = str(w.message)
        if issubclass(w.category, RiskbenchWarning) and text not in seen:
            seen.append(text)
    return tuple(seen)


def _decided_words(check) -> str:
    """Which test decided a dominates(...) guardrail, for the terminal."""
    if check.passed:
        return "both tests rejected"
    return {"dominance": "the dominance test", "equality": "the equality test (the two "
            "distributions cannot be told apart)", "both": "both tests"}.get(check.decided_by,
                                                                                check.decided_by)


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return _finite_json(value.item())
    raise TypeError(type(value).__name__)


@main.command()
@input_limit_options
@_reading
@_common_stats
@click.option("--sizes", default=None, metavar="M1,M2,...",
              help="Numbers of items (default: 50,100,200,400 and all items; below 100 items, "
                   "a quarter, a half and three quarters of them and all).")
@click.option("--repeats", type=int, default=10, show_default=True,
              help="Random item subsets per size.")
@output_option()
def stability(**options):
    """Stability of the ranking: Kendall tau between the ranking on m random items and on all
    items, for growing m (PATH as for rank; default: the demo data's portfolio).

    Each ranking uses --n-resamples replicates; the default 1000 makes this slow, so consider
    --n-resamples 200.
    """
    def action() -> int:
        inputs, output = _inputs(options), options.pop("output")
        if output is not None:
            check_output(output, inputs)
        table, weights = _load(options)
        stats = _stats(options)
        seed = stats.pop("seed")
        seed = secrets.randbits(63) if seed is None else seed
        n = len(table.items(stats["metric"]))
        try:
            sizes = (default_sizes(n) if options["sizes"] is None
                     else [int(s) for s in options["sizes"].split(",")])
        except ValueError:
            raise InputError(f"--sizes expects comma-separated integers, e.g. 50,100,200; got "
                             f"{options['sizes']!r}") from None
        progress = _LazyProgress("subsets", enabled=not options["quiet"])
        try:
            curve = riskbench.stability(
                table, lambda t, s: riskbench.rank(t, weights=weights, seed=s, **stats),
                sizes=sizes, repeats=options["repeats"], seed=seed, progress=progress)
        finally:
            progress.close()
        frame = curve.to_frame()
        if options["as_json"] or output is not None:
            payload = {"stability": frame.to_dict(orient="records"), "n_items": curve.n_items,
                       "seed": seed, "riskbench_version": riskbench.__version__}
            if _read_payload(table) is not None:
                payload["read"] = _read_payload(table)
            _emit(payload, as_json=options["as_json"], output=output, inputs=inputs)
            if options["as_json"]:
                return EXIT_OK
        console = _console()
        console.print(Text(f"Ranking stability: Kendall tau-b vs the ranking on all {n} items",
                           style="bold"))
        grid = Table()
        for col in ("items", "tau mean", "tau sd", "tau min", "tau max"):
            grid.add_column(col, justify="right")
        for row in frame.itertuples():
            grid.add_row(str(row.items) + (" (all)" if row.items == n else ""),
                         _fmt(row.tau_mean, 3), _fmt(row.tau_sd, 3), _fmt(row.tau_min, 3),
                         _fmt(row.tau_max, 3))
        console.print(grid)
        order = "R-SSD" if (stats["order"] or 2) == 2 else "R-FSD"
        portfolio = stats["portfolio"]
        if stats["metric"] or len(table.metrics) == 1:
            target = f"metric {stats['metric'] or table.metrics[0]!r}"
        elif portfolio is None:
            target = f"each of {len(table.metrics)} metrics (Borda)"
        else:
            name = portfolio if portfolio == MULTIVARIATE else portfolio.upper()
            target = f"the {name} portfolio of {len(table.metrics)} metrics"
        console.print(Text(visible(
            f"Each ranking: {order} on {target}, B = {stats['n_resamples']}, alpha = "
            f"{stats['alpha']:g}, the seed of the full ranking; {options['repeats']} random "
            f"subsets of items per size (seed {seed}). The row of all {n} items ranks the full "
            "table again: tau 1 by construction, the reference of the curve.")))
        print_read_summary(table, console)
        return EXIT_OK

    _run(action, options["quiet"])


def _report_stability(table: ScoreTable, ranking: Ranking, weights: dict | None, how: dict,
                      stats: dict, *, quiet: bool):
    """The stability curve of the report's ranking: the same options on random item subsets
    of the models it ranks (the eligible ones after guardrails), B = 200 per ranking."""
    options = {**stats, "n_resamples": min(200, stats["n_resamples"])}
    seed = options.pop("seed")
    if len(ranking.models) < len(table.models):
        table = table.select(models=ranking.models)
    n = len(table.items(options["metric"]))
    sizes = default_sizes(n)
    progress = _LazyProgress("stability subsets", enabled=not quiet)
    try:
        return riskbench.stability(
            table, lambda t, s: riskbench.rank(t, weights=weights, seed=s, **how, **options),
            sizes=sizes, repeats=10, seed=seed, progress=progress)
    finally:
        progress.close()


@main.command()
@input_limit_options
@_reading
@_common_stats
@_rank_only
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The report file (.html), written atomically.")
@click.option("--guardrail", "guardrails", multiple=True, metavar="RULE",
              help="Select under guardrails as `riskbench select` does (repeatable).")
@click.option("--stability", "with_stability", is_flag=True,
              help="Add the stability curve (slower: ranks 50 item subsets).")
def report(**options):
    """Write a self-contained HTML report (PATH as for rank; default: the demo data): which
    model (or no decision), why in one sentence, where it fails (worst items, with the logs'
    prompts and responses), then a sortable ranking, the plots, per-model detail, what was
    read, provenance and the command."""
    def action() -> int:
        from riskbench._extras import require
        from riskbench.report import write_report

        require("matplotlib", needed_by="the HTML report")  # before minutes of bootstrap
        command = shlex.join(["riskbench", *sys.argv[1:]]) if sys.argv else None
        demo = not options["paths"]
        inputs = _inputs(options)
        check_output(options["output"], inputs)
        table, weights = _load(options, texts=True)
        if demo and options["metric"] is None and not options["guardrails"]:
            options["portfolio"] = options["portfolio"] or "ic"
        stats = _stats(options)
        if stats["seed"] is None:
            stats["seed"] = secrets.randbits(63)
            command = f"{command} --seed {stats['seed']}"
        progress = _LazyProgress("bootstrap", enabled=not options["quiet"])
        selection = stability = None
        # the options of the ranking the report shows, reused by the stability curve
        how = ({} if options["guardrails"] else
               {"test": options["test"], "eps0": options["eps0"],
                "criterion": options["criterion"], "p": options["p"]})
        try:
            if options["guardrails"]:
                if stats["portfolio"] is None:
                    raise InputError("selection ranks a portfolio: use --portfolio ic, ec or "
                                     "multivariate")
                selection = riskbench.select(table, guardrails=options["guardrails"],
                                             weights=weights, progress=progress, **stats)
                ranking = selection.ranking
                if ranking is None:
                    raise InputError(f"{len(selection.eligible)} model(s) pass every guardrail; "
                                     "a report needs at least two to rank: loosen a guardrail")
            else:
                ranking = riskbench.rank(table, weights=weights, progress=progress, **how,
                                         **stats)
                if isinstance(ranking, BordaRanking):
                    raise InputError("a report covers one ranking: choose --portfolio ic, ec "
                                     "or multivariate, or one --metric")
        finally:
            progress.close()
        if options["with_stability"]:
            stability = _report_stability(table, ranking, weights, how, stats,
                                          quiet=options["quiet"])
        seen = _warnings_so_far()  # every warning the terminal prints goes into the report
        path = write_report(options["output"], ranking, table=table, selection=selection,
                            stability=stability, command=command, top=options["top"] or 8,
                            inputs=inputs, warnings=seen)
        size = path.stat().st_size
        if selection is not None:
            chosen, decision = selection.chosen, selection.decision
        else:
            chosen = None if ranking.no_decision else ranking.models[0]
            top = ranking.top_set or ()
            decision = (NO_DECISION if chosen is None else
                        f"first: {chosen}, in the ranking's order of a top set of {len(top)} "
                        "models that no test separates" if len(top) > 1 else
                        f"first: {chosen}")
        if options["as_json"]:
            from riskbench.report.evidence import why

            unique = chosen is not None and tuple(ranking.top_set or ()) == (chosen,)
            payload = {"report": str(path), "bytes": size, "chosen": chosen,
                       "chosen_is_unique": unique,
                       "decision": decision, "top_set": None if ranking.top_set is None
                       else list(ranking.top_set), "warnings": list(seen),
                       "seed": ranking.seed, "why": why(ranking, selection=selection).to_dict()}
            if _read_payload(table) is not None:
                payload["read"] = _read_payload(table)
            click.echo(_dumps(payload))
        else:
            console = _console()
            top = ("top set " + ", ".join(ranking.top_set) if ranking.top_set is not None
                   else "no top set (BH)")
            passed = ""
            if selection is not None:
                excluded = len(selection.excluded)
                passed = (f"{len(selection.eligible)} of {len(selection.models)} models pass "
                          "every guardrail" + (f" ({excluded} excluded, named in the report)"
                                               if excluded else "") + "; ")
            console.print(Text(visible(f"Report written to {path} ({size / 1e6:.1f} MB): "
                                       f"{passed}{decision}; {top}.")))
            print_read_summary(table, console)
        return EXIT_OK

    _run(action, options["quiet"])


@main.command()
@input_limit_options
@_reading
@click.option("--metric", help="Metric of the pilot (default: the only metric, or the "
                               "independent-copula portfolio of all metrics).")
@click.option("--weight", "weights", multiple=True, metavar="METRIC=W",
              help="Portfolio weight of a metric (repeatable; others weigh 1).")
@click.option("--effect", type=float, default=None,
              help="Plan from an effect size instead of pilot scores: a shift between two "
                   "normal models, in standard deviations.")
@click.option("--pair", default=None, metavar="BETTER,WORSE",
              help="The two models to separate (default: the pilot's best by eps_i and the "
                   "runner-up).")
@click.option("--order", type=click.Choice(["1", "2"]), default="2", show_default=True)
@click.option("--test", "test", type=click.Choice(TESTS), default="relative", show_default=True)
@click.option("--eps0", type=float, default=0.25, show_default=True,
              help="Threshold of the absolute test.")
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--target", type=float, default=0.8, show_default=True, help="Power to reach.")
@click.option("--sizes", default=None, metavar="N1,N2,...",
              help="Candidate numbers of items (default: 50,100,200,500,1000,2000,5000).")
@click.option("--design", type=click.Choice(DESIGNS), default="paired", show_default=True)
@click.option("--n-datasets", type=int, default=200, show_default=True,
              help="Simulated datasets per size.")
@click.option("--n-resamples", type=int, default=200, show_default=True,
              help="Bootstrap replicates B per simulated dataset.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.option("--quiet", is_flag=True, help="No progress bar, no warnings.")
@output_option()
def power(**options):
    """How many items are needed to detect a dominance difference at --alpha with power
    --target: simulation with the same bootstrap tests (PATH: pilot scores as for rank;
    default: the demo data, or --effect)."""
    def action() -> int:
        inputs, output = _inputs(options), options.pop("output")
        if output is not None:
            check_output(output, inputs)
        effect = options.pop("effect")
        pilot = table = None
        if effect is None:
            table, weights = _load(options)
            metric = options["metric"]
            metrics = table.metrics
            if metric is None and len(metrics) > 1:
                cube = table.cube()
                pilot = riskbench.build_portfolio(cube, weights=weights).samples()
            else:
                pilot = table.samples(metric or metrics[0])
        else:
            for key in ("paths", "metric_spec", "weights"):
                options.pop(key, None)
        try:
            sizes = None if options["sizes"] is None else \
                [int(x) for x in options["sizes"].split(",")]
        except ValueError:
            raise InputError(f"--sizes expects comma-separated integers, e.g. 100,500,1000; got "
                             f"{options['sizes']!r}") from None
        pair = None
        if options["pair"] is not None:
            pair = tuple(x.strip() for x in options["pair"].split(","))
            if len(pair) != 2 or not all(pair):
                raise InputError(f"--pair expects two model names separated by a comma, e.g. "
                                 f"gpt-4,claude-2; got {options['pair']!r}")
        bar = _LazyProgress("datasets", enabled=not options["quiet"] and not options["as_json"])
        try:
            result = riskbench.power(
                pilot, effect=effect, order=int(options["order"]), test=options["test"],
                alpha=options["alpha"], target=options["target"], sizes=sizes,
                n_datasets=options["n_datasets"], n_resamples=options["n_resamples"],
                seed=options["seed"], eps0=options["eps0"], design=options["design"],
                pair=pair, progress=bar)
        finally:
            bar.close()
        frame = result.to_frame()
        if options["as_json"] or output is not None:
            _emit({
                "pair": list(result.pair), "test": result.test, "order": result.order,
                "alpha": result.alpha, "target": result.target, "statistic": result.statistic,
                "h1": result.h1, "required_n": result.required_n, "source": result.source,
                "n_datasets": result.n_datasets, "n_resamples": result.n_resamples,
                "seed": result.seed, "power": frame.to_dict(orient="records"),
                "riskbench_version": riskbench.__version__, "read": _read_payload(table)},
                as_json=options["as_json"], output=output, inputs=inputs)
            if options["as_json"]:
                return EXIT_OK
        tried = frame["n"].tolist()
        need = (f"The smallest size tried that reaches power {result.target:g}: "
                f"{result.required_n} items" + (" (the smallest tried: fewer may do)"
                                                if result.required_n == min(tried) else "")
                if result.required_n is not None else
                f"No size tried reaches power {result.target:g}")
        k = len(result.models)
        truth = (f"the pilot's scores of all {k} models (each dataset draws n items per model "
                 f"from them with replacement, {result.design})" if result.source == "pilot"
                 else "two normal models, a ~ N(effect, 1) and b ~ N(0, 1)")
        what = "Delta" if result.test == "relative" else "E"
        console = _console()
        console.print(Text(visible(
            f"Power of the {result.test} test ({ORDER_NAMES[result.order]} order) to find "
            f"{result.pair[0]!r} better than {result.pair[1]!r}"), style="bold"))
        grid = Table()
        for col in ("items", "power", "se", f">= {result.target:g}"):
            grid.add_column(col, justify="right")
        for row in frame.itertuples():
            grid.add_row(str(row.n), _fmt(row.power, 3), _fmt(row.se, 3),
                         "yes" if row.reaches_target else "no")
        console.print(grid)
        console.print(Text(visible(
            f"{need}. Truth simulated from: {truth}; its {what} for the pair = "
            f"{result.statistic:.4g}. Each dataset is tested as a real run would be: "
            f"alpha = {result.alpha:g}, Bonferroni over the {k * (k - 1)} ordered pairs of the "
            f"{k} models; {result.n_datasets} datasets per size, B = {result.n_resamples}, "
            f"seed {result.seed}; se = the Monte Carlo standard error of the power.")))
        print_read_summary(table, console)
        return EXIT_OK

    _run(action, options["quiet"])


@main.command()
@input_limit_options
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "log_format", default="auto", show_default=True,
              type=click.Choice(["auto", "lm_eval", "helm", "inspect", "alpaca_eval",
                                 "pairwise", "eee"]), help="Log format (sniffed by default).")
@click.option("--lenient", is_flag=True, help="Skip bad records and list them (strict=False).")
@click.option("--logprobs", is_flag=True, help="Also read log-probability stats (HELM logprob, "
              "max_prob) as metrics.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.option("--quiet", is_flag=True, help="No warnings.")
@output_option()
def logs(paths, log_format, lenient, logprobs, as_json, quiet, output):
    """Inspect evaluation logs (files or folders, several at once): what riskbench reads from
    them, the harness's own aggregates recomputed from the per-item values, the choices made,
    and everything left out with its reason."""
    def action() -> int:
        from riskbench.io import read_log

        if output is not None:
            check_output(output, list(paths))
        log = read_log(list(paths), format=log_format, strict=not lenient, logprobs=logprobs)
        from riskbench.table import _name_assumed

        _name_assumed(log.summary.directions, when="when you rank them, ")  # as rank would
        frame = log.frame
        summary = (frame.groupby(["model", "metric"])["value"].agg(["size", "mean"])
                   .reset_index())
        if len(frame):
            infinite = (frame.assign(inf=np.isinf(frame["value"].to_numpy(dtype=float)))
                        .groupby(["model", "metric"])["inf"].sum().to_numpy())
            summary["infinite"] = infinite.astype(int)
        else:
            summary["infinite"] = []
        directions = log.summary.directions
        summary["higher_is_better"] = [directions[m][0] for m in summary["metric"]]
        summary["direction_stated_by"] = [directions[m][1] for m in summary["metric"]]
        if as_json or output is not None:
            _emit(_strict_json({
                "rows": len(frame), "models": sorted(frame["model"].unique()),
                "metrics": sorted(frame["metric"].unique()),
                "checks": [c.__dict__ for c in log.checks],
                "errors": [e.__dict__ for e in log.errors], "notes": list(log.notes),
                "summary": summary.to_dict(orient="records"),
                "read": log.summary.to_dict()}), as_json=as_json, output=output,
                inputs=list(paths), default=_json_safe)
            if as_json:
                return EXIT_OK
        console = _console()
        title = paths[0] if len(paths) == 1 else f"{len(paths)} paths"
        grid = Table(title=f"{title}: {len(frame)} per-item scores", title_justify="left")
        for col in ("model", "metric", "items", "mean", "inf", "better"):
            # long names are folded onto more lines, never cut with "..."
            grid.add_column(col, justify="right" if col in ("items", "mean", "inf") else "left",
                            **_name_column(col, summary["metric"], console, rest=55))
        for row in summary.itertuples():
            better = ("higher" if row.higher_is_better else "lower") + (
                " (assumed)" if row.direction_stated_by == "assumed" else "")
            grid.add_row(str(row.model), str(row.metric), str(row.size), _fmt_value(row.mean),
                         str(row.infinite) if row.infinite else "", better)
        console.print(grid)
        if log.checks:
            checks = Table(title="Aggregates the harness reported, recomputed from the items",
                           title_justify="left")
            for col in ("file", "metric", "reported", "recomputed", "matched"):
                checks.add_column(col, **_name_column(col, [c.metric for c in log.checks],
                                                      console, rest=45))
            for c in log.checks:
                checks.add_row(_file_label(c.file, paths), c.metric, _fmt_value(c.reported),
                               _fmt_value(c.recomputed),
                               "yes" if c.matched else Text("NO", style="red"))
            console.print(checks)
        for e in log.errors:
            skipped = f"{e.file}: {e.line}: {e.field}: {e.message}"
            console.print(f"[yellow]skipped:[/] {esc(skipped)}", highlight=False)
        for note in log.notes:
            console.print(f"[dim]{esc(note)}[/]", highlight=False)
        for line in log.summary.lines():
            console.print(f"[dim]{esc(line)}[/]", highlight=False, soft_wrap=True)
        return EXIT_OK

    _run(action, quiet)


def _name_column(col: str, metrics, console: Console, *, rest: int) -> dict:
    """Column options of the logs tables: names (model, metric, file) fold onto more lines
    instead of being cut with "...", and the model or file column folds first, so that whole
    metric names keep one line where the console allows (``rest``: the width the other
    columns, borders and padding take)."""
    if col not in ("model", "metric", "file"):
        return {}
    if col == "metric":
        return {"overflow": "fold"}
    longest = max((len(str(m)) for m in metrics), default=0)
    return {"overflow": "fold", "max_width": max(20, console.width - longest - rest)}


def _file_label(file: str, paths) -> str:
    """A file of the logs' aggregate checks as the user can tell it apart: relative to the
    folder given that holds it, and at least with its own folder (``run/stats.json``: every
    HELM run folder has a ``stats.json``); a file given itself (or a member of an archive
    given) by its name."""
    target = os.path.abspath(file)
    roots = sorted((os.path.abspath(p) for p in paths if os.path.isdir(p)), key=len,
                   reverse=True)
    for root in roots:
        if target.startswith(root.rstrip(os.sep) + os.sep):
            shown = os.path.relpath(target, root)
            if os.sep not in shown:
                shown = os.path.join(os.path.basename(root), shown)
            return shown
    return Path(file).name


def _strict_json(value):
    """Strict JSON: +/-inf and NaN (an lm-eval mae of Infinity) as the strings "inf", "-inf",
    "nan", which every JSON parser reads; numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    return value


def _json_safe(value):
    """JSON for what json.dumps cannot write: numpy scalars, +/-inf and NaN as strings."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


@main.command()
@input_limit_options
@click.argument("generations", type=click.Path(path_type=Path))
@click.option("--scorer", "scorers", multiple=True, required=True,
              type=click.Choice(["ifeval", "toxicity", "length"]),
              help="ifeval (instruction following, strict and loose), toxicity (offline), "
                   "length (chars, words, tokens if cached). Repeatable.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Score table to write: .parquet (keeps metric directions), .csv, .jsonl.")
@click.option("--toxicity-model", default="profanity", show_default=True,
              help="profanity (alt-profanity-check, ships its model), hf:PATH or "
                   "detoxify:PATH (local weights only).")
@click.option("--jobs", type=int, default=None, help="Processes (default: all cores).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary instead.")
@click.option("--quiet", is_flag=True, help="No progress bar, no warnings.")
def score(generations, scorers, output, toxicity_model, jobs, as_json, quiet):
    """Score raw generations (JSONL/CSV/Parquet with model, item, prompt, response) into a
    table of per-item metrics that `riskbench rank` reads."""
    def action() -> int:
        from riskbench.scorers import score as run_scorers
        from riskbench.table import write_scores

        check_output(output, [generations])
        progress = _LazyProgress("scoring", enabled=not quiet)
        try:
            table, notes = run_scorers(generations, scorers=scorers,
                                       toxicity_model=toxicity_model, jobs=jobs,
                                       progress=progress)
        finally:
            progress.close()
        write_scores(table, output, inputs=[generations])
        means = table.to_frame().groupby(["metric", "model"])["value"].mean()
        if as_json:
            click.echo(_dumps({
                "output": str(output), "metrics": table.higher_is_better,
                "models": list(table.models), "notes": list(notes),
                "means": {m: means[m].to_dict() for m in table.metrics},
                "riskbench_version": riskbench.__version__}))
            return EXIT_OK
        grid = Table(title=f"Mean per-item scores of {len(table.models)} models "
                           f"({len(table.to_frame()) // max(1, len(table.metrics))} "
                           "generations)", title_justify="left",
                     caption=f"written to {output}", caption_justify="left")
        grid.add_column("model", max_width=60, overflow="fold")
        for m in table.metrics:
            grid.add_column(f"{m} {'↑' if table.higher_is_better[m] else '↓'}", justify="right")
        for model in table.models:
            grid.add_row(model, *(_fmt_value(means[m].get(model, float("nan")))
                                  for m in table.metrics))
        console = _console()
        console.print(grid)
        for note in notes:
            console.print(f"[dim]{esc(note)}[/]", highlight=False)
        return EXIT_OK

    _run(action, quiet)


@main.command()
@click.option("--n-resamples", type=int, default=1000, show_default=True,
              help="Bootstrap replicates B.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--top", type=int, default=15, show_default=True,
              help="Show the first N models of each ranking.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
@click.option("--quiet", is_flag=True, help="No progress bar, no warnings.")
@output_option()
def demo(n_resamples, seed, top, as_json, quiet, output):
    """Real AlpacaEval 2.0 data, 48 models: R-SSD on the judge preference, then on a portfolio
    of preference, offensive language and length, against the plain mean win rate."""
    def action() -> int:
        console = _console()
        if not as_json:  # the first lines at once, each ranking as soon as it is computed
            console.print(
                "[bold]riskbench demo[/]: AlpacaEval 2.0, 48 models x 805 instructions; 'win' "
                "= probability that GPT-4-turbo prefers the model's answer to GPT-4-preview's."
                " A leaderboard sorts by the mean; riskbench ranks by stochastic dominance of "
                "the whole distribution of per-instruction scores (the bad answers count), "
                "with bootstrap tests, rank intervals and letters.\n", highlight=False)
        table = _demo_table()
        progress = _LazyProgress("bootstrap", enabled=not quiet)
        try:
            win = riskbench.rank(table, metric=DEMO_METRIC, n_resamples=n_resamples, seed=seed,
                                 progress=progress)
            if not as_json:
                progress.close()
                print_ranking(win, table, console, top=top)
                console.print(
                    "\n[bold]Guardrails together[/]: the same test on a portfolio that also "
                    "penalises offensive language and long answers (each metric normalised by "
                    "its pooled ECDF, combined by a geometric mean).\n", highlight=False)
                progress = _LazyProgress("bootstrap", enabled=not quiet)
            port = riskbench.rank(table, portfolio="ic", n_resamples=n_resamples, seed=seed,
                                  progress=progress)
        finally:
            progress.close()
        means = dict(zip(win.models, win.mean, strict=True))
        leaderboard = sorted(means, key=lambda m: (-means[m], m))
        tau_win = riskbench.kendall_tau(win, leaderboard)[0]
        tau_port = riskbench.kendall_tau(port, leaderboard)[0]
        place = {m: a + 1 for a, m in enumerate(leaderboard)}
        moves = sorted(((place[m] - (a + 1), m) for a, m in enumerate(port.models)),
                       key=lambda x: (-abs(x[0]), x[1]))[:6]
        if as_json or output is not None:
            _emit({
                "win": _json_payload(win, table), "portfolio": _json_payload(port, table),
                "mean_win_rate_order": leaderboard,
                "kendall_tau": {"win_vs_mean": tau_win, "portfolio_vs_mean": tau_port},
                "moved_most": [{"model": m, "leaderboard": place[m],
                                "portfolio": place[m] - d} for d, m in moves],
            }, as_json=as_json, output=output, inputs=[])
            if as_json:
                return EXIT_OK
        print_ranking(port, None, console, top=top)
        console.print(f"\nAgreement with the plain mean win rate (the leaderboard): Kendall tau "
                      f"= {tau_win:.3f} for R-SSD on 'win', {tau_port:.3f} for the portfolio.",
                      highlight=False)
        console.print("Moved most from the leaderboard to the portfolio ranking: " + esc("; ".join(
            f"{m} {place[m]} -> {place[m] - d}" for d, m in moves)), highlight=False)
        print_read_summary(table, console)
        return EXIT_OK

    _run(action, quiet)


if __name__ == "__main__":  # pragma: no cover
    main()
