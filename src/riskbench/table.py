"""ScoreTable: the validated long table (model, item, metric, value) every analysis starts from."""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
import io
import json
import re
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from riskbench import _limits
from riskbench._atomic import atomic_path
from riskbench._provenance import ReadSummary, Skip, merge_skips
from riskbench._samples import Samples
from riskbench.errors import DataWarning, DirectionWarning, InputError, option_hint
from riskbench.portfolio import MetricCube

__all__ = ["ScoreTable", "read_scores", "write_scores", "ALIGN", "ON_MISSING", "ON_INFINITE",
           "match_metrics", "resolve_metric"]

ALIGN = ("error", "intersect", "none")
ON_MISSING = ("error", "drop")
ON_INFINITE = ("keep", "rank", "error")
_KEEP_INF = option_hint("on_infinite='keep'", "--on-infinite keep")
_RANK_INF = option_hint("on_infinite='rank'", "--on-infinite rank")
BAD_ROW = "bad row, skipped (lenient read)"
#: A column of a long table that no role (model, item, metric, value, cluster, repeat) names.
UNUSED_COLUMN = "column not used (no role names it: model, item, metric, value, cluster, repeat)"


def unused_columns(columns: Sequence[str], used: Iterable[str], name: str) -> list[Skip]:
    """One skip per column of a table file that was not read: a cluster or repeat column
    the user forgot to name must show in the account, not vanish."""
    used = set(used)
    return [Skip(UNUSED_COLUMN, c, 1, "columns", name) for c in columns if c not in used]
SUPPORTED_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".pq", ".jsonl",
                      ".jsonl.gz", ".ndjson")
MISSING_MARKERS = {"", "na", "n/a", "nan", "null", "none", "-nan"}
_META_KEY = b"riskbench"
_INT_RE = re.compile(r"-?\d+")
_SHOWN = 5  # how many offending rows a message lists


def _natural_order(ids: list[str]) -> list[str]:
    """Item ids sorted numerically when all are integers, else as strings."""
    if ids and all(_INT_RE.fullmatch(i) for i in ids):
        return sorted(ids, key=int)
    return sorted(ids)


_SAMPLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # table -> {metric: Samples}


@dataclass(frozen=True, eq=False)
class ScoreTable:
    """Validated per-item scores of several models on one or more metrics.

    Build it with :func:`read_scores`. ``to_frame()`` gives the long table with columns
    ``model, item, metric, value``; :meth:`samples` gives the per-model scores of one metric,
    oriented so that higher is better, for the statistics.

    Attributes
    ----------
    higher_is_better : dict
        Direction of each metric.
    source : str
        Where the scores came from (file name, or "DataFrame").
    checksum : str or None
        sha256 of the input file's bytes (of the validated long table for a DataFrame).
    dropped_items : dict
        Items dropped per metric by ``align="intersect"``.
    dropped_rows : int
        Rows dropped by ``on_missing="drop"``.
    read : ReadSummary or None
        What was read and what was left out, with reasons (files, models, metrics, items,
        skipped by reason, who stated each direction); see
        :class:`riskbench._provenance.ReadSummary`.
    infinite : dict
        ``{metric: number of +/-inf values}`` kept in the table (``on_infinite``).
    ranked : tuple of str
        Metrics mapped to their pooled ECDF by ``on_infinite="rank"``.
    """

    _frame: pd.DataFrame = field(repr=False)
    higher_is_better: dict[str, bool]
    source: str
    checksum: str | None = None
    dropped_items: dict[str, int] = field(default_factory=dict)
    dropped_rows: int = 0
    align: str = "error"
    notes: tuple[str, ...] = ()  # what a log reader chose or found (averaging, checks)
    item_clusters: dict[str, str] | None = None  # cluster of each item (cluster bootstrap)
    read: ReadSummary | None = field(default=None, repr=False)
    infinite: dict[str, int] = field(default_factory=dict)
    ranked: tuple[str, ...] = ()
    # prompts and responses of logs (model, item, task, prompt, response, reference, file)
    _texts: pd.DataFrame | None = field(default=None, repr=False)
    _metric_tasks: dict[str, str] = field(default_factory=dict, repr=False)

    # -- shape ----------------------------------------------------------------------------
    # cached: tables never change, and a unique over the long column costs milliseconds
    # (W1 asked for the metrics 18 times: 70 ms)
    @functools.cached_property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted(self._frame["model"].unique()))

    @functools.cached_property
    def metrics(self) -> tuple[str, ...]:
        return tuple(sorted(self._frame["metric"].unique()))

    def items(self, metric: str | None = None) -> tuple[str, ...]:
        """Item ids (natural order) of one metric, or without ``metric`` the items that every
        metric has."""
        if metric is None and len(self.metrics) > 1:
            per = [set(self.items(m)) for m in self.metrics]
            return tuple(_natural_order(list(set.intersection(*per))))
        metric = self._metric(metric)
        ids = self._frame.loc[self._frame["metric"] == metric, "item"].unique().tolist()
        return tuple(_natural_order(ids))

    def __repr__(self) -> str:
        n = {m: len(self.items(m)) for m in self.metrics}
        items = next(iter(n.values())) if len(set(n.values())) == 1 else "varying"
        return (f"ScoreTable({len(self.models)} models x {items} items x "
                f"{len(self.metrics)} metric(s) {list(self.metrics)}, source={self.source!r})")

    def to_frame(self) -> pd.DataFrame:
        """The long table: columns ``model, item, metric, value`` (a copy)."""
        return _plain(self._frame)

    # -- access for the statistics ----------------------------------------------------------
    def _metric(self, metric: str | None) -> str:
        metrics = self.metrics
        if metric is None:
            if len(metrics) == 1:
                return metrics[0]
            raise InputError(
                f"{self.source}: the table has {len(metrics)} metrics ({', '.join(metrics)}); "
                "choose one with metric= (CLI: --metric)"
            )
        if metric not in metrics:
            return resolve_metric(metric, metrics, self.source)
        return metric

    def samples(self, metric: str | None = None, *, allow_infinite: bool = False) -> Samples:
        """Per-model scores of one metric, oriented so that higher is better.

        Lower-is-better metrics are negated. Models are in name order, items in natural order;
        the samples are ``aligned`` when every model has the same items. The arrays are
        read-only and cached: tables never change. ``metric`` may be a glob or a unique
        substring of a metric name.

        A metric holding infinite values (kept by ``on_infinite="keep"``) is refused: the
        statistics on the raw scale (dominance integrals, mean-risk scores) cannot integrate
        an infinite quantile; the message gives the fix. ``allow_infinite=True`` returns them
        as they are, for displays that place them explicitly (the report's ECDF panels).
        """
        metric = self._metric(metric)
        if self.infinite.get(metric) and metric not in self.ranked and not allow_infinite:
            frame = self._frame
            rows = frame[(frame["metric"] == metric).to_numpy()
                         & np.isinf(frame["value"].to_numpy())]
            first = rows.iloc[0]
            raise InputError(
                f"{self.source}: metric {metric!r} has {self.infinite[metric]} infinite "
                f"value(s) (first: model {first['model']!r}, item {first['item']!r}, "
                f"{first['value']:+}), kept as the worst or best outcome; a statistic on the "
                "raw scale (dominance integrals, mean-risk scores, guardrails, plots of this "
                "metric) cannot use them. Rank it on its pooled-ECDF scale, where they stay the "
                f"extreme outcomes: read with {_RANK_INF}; or rank a portfolio of several metrics "
                f"({option_hint('portfolio=' + repr('ic'), '--portfolio ic')} or ec, without "
                f"{option_hint('metric=', '--metric')}), which maps every metric that way"
            )
        return self._cached_samples(metric)

    def _cached_samples(self, metric: str) -> Samples:
        cache = _SAMPLES.setdefault(self, {})
        if metric not in cache:
            cache[metric] = self._build_samples(metric)
        return cache[metric]

    def texts(self, metric: str | None = None) -> pd.DataFrame:
        """Prompts and responses the logs carried, per (model, item), for a drill-down.

        Parameters
        ----------
        metric : str, optional
            Only the texts of this metric's task (and of its models and items). Without it,
            all texts, with their ``task``.

        Returns
        -------
        pandas.DataFrame
            Columns ``model, item, task, prompt, response, reference, source_file`` (``None``
            where the log has no such text); empty when the input had no texts (long tables).
            Each text is cut to :data:`riskbench.io._common.TEXT_CHARS` characters.
        """
        columns = ["model", "item", "task", "prompt", "response", "reference", "source_file"]
        texts = self._texts if self._texts is not None else pd.DataFrame(columns=columns)
        if metric is None:
            return texts.copy()
        metric = self._metric(metric)
        task = self._metric_tasks.get(metric)
        sub = self._frame[self._frame["metric"] == metric]
        pairs = set(zip(sub["model"], sub["item"], strict=True))
        hit = [(m, i) in pairs for m, i in zip(texts["model"], texts["item"], strict=True)]
        out = texts[np.array(hit, dtype=bool) & (texts["task"] == task).to_numpy()]
        return out.drop_duplicates(["model", "item"]).reset_index(drop=True)

    def text(self, model: str, item: str, metric: str | None = None) -> dict[str, str | None]:
        """Prompt, response and reference of one model on one item (``None`` values when the
        log has none): ``{"prompt": ..., "response": ..., "reference": ...}``."""
        texts = self.texts(metric) if metric is not None else self.texts()
        row = texts[(texts["model"] == model) & (texts["item"] == str(item))]
        if not len(row):
            return {"prompt": None, "response": None, "reference": None}
        first = row.iloc[0]
        return {k: (None if first[k] is None or first[k] != first[k] else str(first[k]))
                for k in ("prompt", "response", "reference")}

    def _build_samples(self, metric: str) -> Samples:
        sign = 1.0 if self.higher_is_better[metric] else -1.0
        if _is_compact(self._frame):
            models, item_ids, values = _compact_wide(self._frame, metric)
        else:
            sub = self._frame[self._frame["metric"] == metric]
            if "repeat" in sub.columns:
                return self._two_stage_samples(sub, metric, sign)
            wide = sub.pivot(index="model", columns="item", values="value")
            wide = wide.loc[sorted(wide.index), _natural_order(wide.columns.tolist())]
            models, item_ids = tuple(wide.index), tuple(wide.columns)
            values = wide.to_numpy(dtype=np.float64)
        if sign != 1.0:  # x * 1.0 is x for every float: no copy of a large table needed
            values = values * sign
        present = ~np.isnan(values)
        aligned = bool(present.all())
        clusters = None
        if aligned:
            rows = tuple(values)
            items = item_ids
            clusters = self._cluster_codes(items)
        else:
            rows = tuple(v[p] for v, p in zip(values, present, strict=True))
            items = None
            if self.item_clusters is not None:
                raise InputError(f"{self.source}: metric {metric!r}: the cluster bootstrap "
                                 "needs every model scored on the same items; read the scores "
                                 "with align='intersect'")
        for row in rows:
            row.flags.writeable = False
        return Samples(models, rows, aligned, metric, self.higher_is_better[metric],
                       items, clusters)

    def _two_stage_samples(self, sub: pd.DataFrame, metric: str, sign: float) -> Samples:
        """Values of every generation, item by item, with the item code of each value."""
        items = _natural_order(sub["item"].unique().tolist())
        code = {it: c for c, it in enumerate(items)}
        per = sub.groupby(["model", "item"]).size()
        if per.nunique() != 1 or len(per) != len(items) * sub["model"].nunique():
            (model, item), m = per.idxmin(), per.min()
            raise InputError(
                f"{self.source}: metric {metric!r}: two-stage resampling needs the same number "
                f"of generations of every item for every model, but {model!r} has {m} of item "
                f"{item!r} and others have {per.max()}; read with repeats='mean' to average "
                "them per item instead"
            )
        ordered = sub.assign(code=sub["item"].map(code)).sort_values(
            ["model", "code", "repeat"], kind="stable")
        models = tuple(sorted(sub["model"].unique()))
        rows, groups = [], None
        for model in models:
            part = ordered[ordered["model"] == model]
            row = part["value"].to_numpy(dtype=np.float64) * sign
            row.flags.writeable = False
            rows.append(row)
            groups = part["code"].to_numpy(dtype=np.int64)
        return Samples(models, tuple(rows), True, metric, self.higher_is_better[metric], None,
                       None, groups)

    def _cluster_codes(self, items: Sequence[str]) -> np.ndarray | None:
        """Cluster code (0..C-1) of each of ``items``, or None without clusters."""
        if self.item_clusters is None:
            return None
        return np.unique([self.item_clusters[i] for i in items], return_inverse=True)[1]

    def cube(self, metrics: Sequence[str] | None = None) -> MetricCube:
        """Oriented scores of all models on the items every metric has: (k, n, N).

        Every metric must have the same items; when they differ and the table was read with
        ``align="intersect"``, the items common to all metrics are kept (with a
        :class:`DataWarning`), otherwise it is an :class:`InputError`.
        """
        metrics = tuple(self.metrics if metrics is None else metrics)
        if not metrics:
            raise InputError(f"{self.source}: no metrics selected for the portfolio")
        if "repeat" in self._frame.columns:
            mean = option_hint("repeats='mean'", "--generations mean")
            raise InputError(f"{self.source}: a portfolio pairs the metrics of each item; with "
                             f"repeated generations read the scores with {mean}, or rank one "
                             f"metric ({option_hint('metric=', '--metric')})")
        metrics = tuple(self._metric(m) for m in metrics)
        # infinite values are fine here: every portfolio maps each metric through its
        # pooled ECDF (METHOD.md 9.1), where +inf is the top rank and -inf the bottom
        per_metric = [self._cached_samples(m) for m in metrics]
        for s in per_metric:
            if not s.aligned:
                raise InputError(
                    f"{self.source}: metric {s.metric!r} has different items for different "
                    "models; read the scores with align='intersect' (CLI: --align intersect)"
                )
        item_sets = [set(s.items) for s in per_metric]
        common = set.intersection(*item_sets)
        if any(len(its) != len(common) for its in item_sets):
            counts = ", ".join(f"{m!r}: {len(its)}" for m, its in zip(metrics, item_sets,
                                                                       strict=True))
            if self.align != "intersect" or not common:
                rank_one = (f"rank one metric ({option_hint('metric=', '--metric')}) or each "
                            f"on its own ({option_hint('portfolio=None', '--portfolio none')}, "
                            "a Borda count)")
                fix = (f"they share no item (different tasks?): {rank_one}" if not common else
                       f"read the scores with "
                       f"{option_hint('align=' + repr('intersect'), '--align intersect')} to "
                       f"keep the {len(common)} common items, or {rank_one}")
                raise InputError(
                    f"{self.source}: the metrics have different item sets ({counts} items); a "
                    f"portfolio needs the same items for all metrics: {fix}"
                )
            warnings.warn(f"{self.source}: portfolio of {len(metrics)} metrics: kept the "
                          f"{len(common)} items all metrics share ({counts} items)",
                          DataWarning, stacklevel=2)
        if not common:
            raise InputError(f"{self.source}: no item is scored on every metric")
        items = tuple(_natural_order(list(common)))
        columns = []
        for s in per_metric:
            where = {it: t for t, it in enumerate(s.items)}
            take = np.array([where[it] for it in items])
            columns.append(np.stack(s.values)[:, take])
        values = np.stack(columns, axis=-1)
        values.flags.writeable = False  # as the samples: its pooled ranks are cached
        # the portfolio's bootstrap resamples the same clusters as each metric's
        return MetricCube(per_metric[0].models, items, metrics, values,
                          {m: self.higher_is_better[m] for m in metrics},
                          self._cluster_codes(items))

    def select(self, *, models: Sequence[str] | None = None,
               items: Sequence[str] | None = None,
               metrics: Sequence[str] | None = None) -> ScoreTable:
        """A new table restricted to some models, items and/or metrics."""
        frame = self._frame
        for column, keep in (("model", models), ("item", items), ("metric", metrics)):
            if keep is not None:
                keep = [str(k) for k in keep]
                unknown = sorted(set(keep) - set(frame[column].unique()))
                if unknown:
                    raise InputError(f"{self.source}: no {column}(s) "
                                     f"{', '.join(map(repr, unknown[:5]))} in the table")
                frame = frame[frame[column].isin(keep)]
        kept = frame["metric"].unique()
        return replace(self, _frame=frame.reset_index(drop=True),
                       higher_is_better={m: d for m, d in self.higher_is_better.items()
                                         if m in kept},
                       infinite={m: n for m, n in self.infinite.items() if m in kept})

    def matrix(self, metric: str | None = None) -> pd.DataFrame:
        """Scores of one metric in its own units as a (models x items) DataFrame (NaN = absent)."""
        metric = self._metric(metric)
        sub = _plain(self._frame[self._frame["metric"] == metric])
        wide = sub.pivot(index="model", columns="item", values="value")
        return wide.loc[sorted(wide.index), _natural_order(wide.columns.tolist())]


def _is_compact(frame: pd.DataFrame) -> bool:
    """Whether a table's ids are categorical codes (read by :mod:`riskbench._compact`)."""
    return isinstance(frame["model"].dtype, pd.CategoricalDtype)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with categorical ids as strings, the columns the whole-frame path builds."""
    if not _is_compact(frame):
        return frame.copy()
    # compact rows are in natural item order: sort by name as the whole-frame path does (the
    # categories are in name order, so by their codes)
    order = np.lexsort([frame[c].cat.codes.to_numpy() for c in ("item", "model", "metric")])
    return frame.take(order).astype({c: str for c in ("model", "item", "metric")}) \
        .reset_index(drop=True)


def _compact_wide(frame: pd.DataFrame, metric: str) -> tuple[tuple, tuple, np.ndarray]:
    """Models (name order), items (natural order) and the (models, items) values of one
    metric of a compact table; NaN where a model has no value of an item."""
    met = frame["metric"].cat
    mc = frame["model"].cat.codes.to_numpy()
    ic = frame["item"].cat.codes.to_numpy()
    v = frame["value"].to_numpy(dtype=np.float64)
    if len(met.categories) > 1:  # one metric (the usual big table): no row copies
        rows = met.codes.to_numpy() == met.categories.get_loc(metric)
        mc, ic, v = mc[rows], ic[rows], v[rows]
    shape = []
    ids = []
    where = []  # code -> row / column of the wide array
    for codes, cats, order in ((mc, frame["model"].cat.categories, sorted),
                               (ic, frame["item"].cat.categories, _natural_order)):
        used = np.flatnonzero(np.bincount(codes, minlength=len(cats)))
        names = [str(x) for x in cats[used]]
        position = {name: j for j, name in enumerate(order(names))}
        lut = np.full(len(cats), -1, dtype=np.int64)
        lut[used] = [position[name] for name in names]
        shape.append(len(names))
        ids.append(tuple(order(names)))
        where.append(lut)
    values = np.full(shape, np.nan)
    step = 1 << 20  # rows per scatter: bounded index temporaries
    for s in range(0, v.size, step):
        values[where[0][mc[s:s + step]], where[1][ic[s:s + step]]] = v[s:s + step]
    return ids[0], ids[1], values


# ----------------------------------------------------------------------------- reading

@dataclass
class _Raw:
    frame: pd.DataFrame
    name: str
    where: Callable[[int], str]  # position -> "line 5" / "row 5"
    checksum: str | None
    stated: dict[str, tuple[bool, str]] | None = None  # {metric: (direction, who says so)}
    notes: tuple[str, ...] = ()
    log: bool = False  # read by riskbench.io: canonical columns
    skips: tuple[Skip, ...] = ()
    files: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    texts: pd.DataFrame | None = None
    metric_tasks: dict[str, str] = field(default_factory=dict)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_log(path: Path, format: str) -> bool:
    """Whether a path is an evaluation log (read by riskbench.io) rather than a long table."""
    if format != "auto":
        return format != "table"
    if path.is_dir():
        return True
    from riskbench.io import FORMATS, sniff

    suffix = _suffix(path)
    try:  # lm-eval, EEE and FastChat files are .jsonl too
        sniff(path)
    except InputError:
        if suffix in SUPPORTED_SUFFIXES:
            return False
        raise InputError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; riskbench reads long tables "
            f"({', '.join(SUPPORTED_SUFFIXES)}), pandas DataFrames, and evaluation logs "
            f"({', '.join(FORMATS)}; see riskbench.io)"
        ) from None
    return True


def _load_logs(paths: list[Path], format: str, *, strict: bool, logprobs: bool,
               texts: bool = True) -> _Raw:
    """Evaluation logs (files or folders) read together by :func:`riskbench.io.read_log`."""
    from riskbench.io import read_log

    log = read_log(paths, format=format, strict=strict, logprobs=logprobs, texts=texts)
    frame = log.frame[["model", "item", "metric", "value"]].reset_index(drop=True)
    notes = list(log.notes)
    for check in log.checks:
        if not check.matched:
            notes.append(f"aggregate check failed: {check.file}: {check.metric} reported "
                         f"{check.reported:g}, recomputed {check.recomputed:g}")
    checksum = None if len(paths) > 1 or paths[0].is_dir() else _sha256(paths[0])
    stated = {m: (d, log.direction_source.get(m, "the log"))
              for m, d in log.higher_is_better.items()}
    tasks = (log.frame.drop_duplicates("metric").set_index("metric")["task"].dropna().to_dict()
             if len(log.frame) else {})
    texts = log.texts[["model", "item", "task", "prompt", "response", "reference",
                       "source_file"]] if len(log.texts) else None
    name = str(paths[0]) if len(paths) == 1 else " + ".join(map(str, paths))
    # bad records skipped by strict=False are in log.skipped, so in the table's read summary
    return _Raw(frame, name, lambda i: f"record {i + 1}", checksum, stated, tuple(notes),
                log=True, skips=log.skipped, files=log.files,
                formats=tuple(log.format.split("+")), texts=texts,
                metric_tasks={str(k): str(v) for k, v in tasks.items()})


def _load(source: object, format: str = "auto") -> _Raw:
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True)
        labels = source.index

        def where(i: int) -> str:
            label = labels[i]
            return f"row {label.item() if isinstance(label, np.generic) else label!r}"

        return _Raw(frame, "DataFrame", where, None, formats=("DataFrame",))
    if not isinstance(source, str | Path):
        raise InputError(
            f"scores must be a file path or a pandas DataFrame; got {type(source).__name__}"
        )
    path = Path(source)
    name = str(source)
    if not path.exists():
        raise InputError(f"{name}: no such file")
    _limits.check_regular(path)  # a FIFO or device would block or never end
    if _is_log(path, format):
        return _load_logs([path], format, strict=True, logprobs=False)
    if path.is_dir():
        raise InputError(
            f"{name}: is a directory; pass a score file ({', '.join(SUPPORTED_SUFFIXES)})"
        )
    suffix = _suffix(path)
    checksum = _sha256(path)
    try:
        if suffix in (".csv", ".csv.gz", ".tsv", ".tsv.gz"):
            sep = "\t" if suffix.startswith(".tsv") else ","
            _limits.check_columns(path, sep=sep, label=name)
            with _limits.open_input(path, lines=True, label=name) as fh:
                frame = pd.read_csv(fh, sep=sep, dtype=str, keep_default_na=False,
                                    na_filter=False)
            return _Raw(frame, name, lambda i: f"line {i + 2}", checksum, files=(name,),
                        formats=("table",))
        if suffix in (".jsonl", ".jsonl.gz", ".ndjson"):
            frame, lines = _read_jsonl(path, name)
            return _Raw(frame, name, lambda i: f"line {lines[i]}", checksum, files=(name,),
                        formats=("table",))
        if suffix in (".parquet", ".pq"):
            _limits.check_parquet(path, label=name)
            frame = pd.read_parquet(path)
            recorded = _recorded_directions(path) or {}
            return _Raw(frame.reset_index(drop=True), name, lambda i: f"row {i + 1}", checksum,
                        {m: (d, "recorded in the Parquet file") for m, d in recorded.items()},
                        files=(name,), formats=("table",))
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError(f"{name}: the file is empty; it needs a header row and scores") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{name}: cannot be parsed as a table ({_first_line(exc)}); "
                         "check the delimiter and quoting") from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: is not UTF-8 text (line {_first_non_utf8_line(path)}); "
                         "re-save it as UTF-8") from None
    except (OSError, EOFError, ValueError) as exc:
        raise InputError(f"{name}: cannot be read as {suffix} ({_first_line(exc)}); check "
                         "that the file is complete and of that format") from None
    raise InputError(
        f"{name}: unsupported file type {suffix or '(none)'!r}; riskbench reads "
        f"{', '.join(SUPPORTED_SUFFIXES)} files and pandas DataFrames"
    )


def _recorded_directions(path: Path) -> dict[str, bool] | None:
    """Metric directions that :func:`write_scores` stored in a Parquet file's metadata."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(_META_KEY)
    if raw is None:
        return None
    try:
        directions = json.loads(raw)["higher_is_better"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(directions, dict):
        return None
    return {str(k): bool(v) for k, v in directions.items()}


def _first_non_utf8_line(path: Path) -> int:
    with _limits.open_input(path, lines=True) as fh:
        for lineno, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return lineno
    return 1


def _show(value: object, width: int = 60) -> str:
    """A value's repr for a message, cut to ``width`` characters (its length said)."""
    text = repr(value)
    return text if len(text) <= width else f"{text[:width]}... ({len(text):,} characters)"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def jsonl_records(path: Path, name: str) -> Iterator[tuple[int, dict]]:
    """``(line number, record)`` of a JSON Lines file (gzip if it ends in .gz); a line that is
    not a JSON object is an InputError naming ``name`` and the line."""
    max_fields = _limits.current_limits().max_columns
    replaced: list[int] = []  # lines whose strings held lone surrogates
    with _limits.open_input(path, lines=True, label=name) as raw, \
            io.TextIOWrapper(raw, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if _limits.may_hold_surrogates(line):
                    record, changed = _limits.replace_surrogates(record)
                    if changed:
                        replaced.append(lineno)
            except json.JSONDecodeError as exc:
                raise InputError(f"{name}: line {lineno} is not valid JSON ({exc.msg} at "
                                 f"character {exc.pos + 1}); fix or remove that line") from None
            except RecursionError:
                raise InputError(f"{name}: line {lineno} nests JSON arrays or objects too "
                                 "deeply to parse (over about 1,000 levels); a record of a "
                                 "score table is flat: fix or remove that line") from None
            except ValueError as exc:  # e.g. an integer of more than 4,300 digits
                raise InputError(f"{name}: line {lineno} cannot be parsed as JSON "
                                 f"({_first_line(exc)}); fix or remove that line") from None
            if not isinstance(record, dict):
                raise InputError(f"{name}: line {lineno} is a JSON {type(record).__name__}, not "
                                 "an object; each line must be one {\"field\": value} record")
            if len(record) > max_fields:
                raise _limits.too_many_columns(name, len(record), f"line {lineno} has")
            yield lineno, record
    if replaced:
        shown = ", ".join(f"line {n}" for n in replaced[:_SHOWN])
        more = f" and {len(replaced) - _SHOWN} more" if len(replaced) > _SHOWN else ""
        warnings.warn(f"{name}: strings at {shown}{more} held lone UTF-16 surrogates (\\udXXX "
                      "escapes that are not Unicode text); each was replaced by U+FFFD",
                      DataWarning, stacklevel=2)


def _read_jsonl(path: Path, name: str) -> tuple[pd.DataFrame, list[int]]:
    pairs = list(jsonl_records(path, name))
    if not pairs:
        raise InputError(f"{name}: the file has no records; it needs one JSON object per line")
    return pd.DataFrame.from_records([r for _, r in pairs]), [lineno for lineno, _ in pairs]


def _rows(raw: _Raw, positions: np.ndarray) -> str:
    shown = ", ".join(raw.where(int(i)) for i in positions[:_SHOWN])
    return shown + (f" and {positions.size - _SHOWN} more" if positions.size > _SHOWN else "")


def _melt_wide(raw: _Raw, model: str, item: str) -> _Raw:
    """A wide table (model, item, one column per metric) as a long one; errors still point to
    the original line and name the metric column as the field."""
    metrics = [c for c in raw.frame.columns if c not in (model, item)]
    rows = len(raw.frame)
    frame = pd.DataFrame({
        "model": np.tile(raw.frame[model].to_numpy(dtype=object), len(metrics)),
        "item": np.tile(raw.frame[item].to_numpy(dtype=object), len(metrics)),
        "metric": np.repeat(np.array(metrics, dtype=object), rows),
        "value": np.concatenate([raw.frame[m].to_numpy(dtype=object) for m in metrics]),
    })

    def where(i: int) -> str:
        return f"{raw.where(i % rows)}, column {metrics[i // rows]!r}"

    return dataclasses.replace(raw, frame=frame, where=where)


def _id_column(raw: _Raw, column: str, role: str, strict: bool = True,
               keep: np.ndarray | None = None, skips: list[Skip] | None = None) -> pd.Series:
    """Model, item or metric ids as strings; empty ids are an error (``strict``) or rows
    left out (``keep`` cleared, the skip counted)."""
    col = raw.frame[column]
    if pd.api.types.is_float_dtype(col) and col.dropna().apply(float.is_integer).all():
        # integer-valued float ids as integers; int() is exact where Int64 would overflow
        col = col.map(lambda v: v if v != v else str(int(v)))
    missing = col.isna().to_numpy().copy()
    text = col.astype(str).str.strip()
    missing |= (text == "").to_numpy()
    if missing.any():
        pos = np.flatnonzero(missing)
        if strict or keep is None:
            raise InputError(
                f"{raw.name}: empty {role} field {column!r} at {_rows(raw, pos)}; every row needs "
                f"a model, an item and a metric; or skip those rows with "
                f"{option_hint('strict=False', '--lenient')}"
            )
        keep[pos] = False
        skips.append(Skip(BAD_ROW, f"empty {role} field {column!r} at {_rows(raw, pos)}",
                          int(pos.size), "rows", raw.name))
    return text


def _values(raw: _Raw, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse the value column: returns (values as float, positions of non-numbers)."""
    return parse_values(raw.frame[column])


def parse_values(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values of one column as float64, and the positions of the entries that are not numbers
    (element by element, so a column parsed in chunks gives the same values)."""
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return np.array(col.astype("float64"), dtype=np.float64), np.array([], dtype=int)

    if pd.api.types.is_string_dtype(col) and col.map(type).eq(str).all():  # text files
        text = col.str.strip()
        low = text.str.lower()
        values = np.array(pd.to_numeric(text, errors="coerce"), dtype=np.float64)
        values[low.eq("true").to_numpy()] = 1.0
        values[low.eq("false").to_numpy()] = 0.0
        marked = low.isin(MISSING_MARKERS | {"true", "false"}).to_numpy()
        return values, np.flatnonzero(np.isnan(values) & ~marked)

    def parse(v: object) -> float | None:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return np.nan
        if isinstance(v, bool):
            return float(v)
        if isinstance(v, int | float):
            try:
                return float(v)
            except OverflowError:  # an integer beyond the float range (JSON allows it)
                return None
        if isinstance(v, str):
            s = v.strip()
            low = s.lower()
            if low in MISSING_MARKERS:
                return np.nan
            if low in ("true", "false"):
                return float(low == "true")
            try:
                return float(s)
            except ValueError:
                return None
        return None

    parsed = [parse(v) for v in col.tolist()]
    bad = np.array([i for i, v in enumerate(parsed) if v is None], dtype=int)
    values = np.array([np.nan if v is None else v for v in parsed], dtype=np.float64)
    return values, bad


def read_scores(
    source: object,
    *,
    model: str = "model",
    item: str = "sample_id",
    metric: str = "metric",
    value: str = "value",
    higher_is_better: bool | Mapping[str, bool] | None = None,
    align: str = "error",
    on_missing: str = "error",
    on_infinite: str = "keep",
    strict: bool = True,
    format: str = "auto",
    metrics: str | Sequence[str] | None = None,
    model_names: Mapping[str, str] | None = None,
    logprobs: bool = False,
    texts: bool = True,
    cluster: str | None = None,
    repeat: str | None = None,
    repeats: str = "mean",
) -> ScoreTable:
    """Read per-item scores from long tables or evaluation logs and validate them.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame, or a list of them
        A CSV (``.csv``, ``.csv.gz``, ``.tsv``), Parquet or JSON Lines file, or a DataFrame,
        with one row per (model, item, metric); or an evaluation log file or folder (see
        ``format``). Several sources, in any mix of formats, are combined into one table (all
        logs among them are read together by :func:`riskbench.io.read_log`).
    model, item, metric, value : str
        Column names. When the default item column ``sample_id`` is absent, ``item`` is used.
        When the default metric column is absent, the table has one metric named after the
        value column, or, if there is no ``value`` column either, it is a wide table: every
        column besides the model and item ones is a metric.
    higher_is_better : bool or mapping {metric: bool}, optional
        Direction of the metrics. What is not given here comes from the input (the directions a
        log states, e.g. HELM's ``schema.json`` or lm-eval's ``higher_is_better``, or those
        :func:`write_scores` recorded in a Parquet file); a metric whose direction nobody
        states is taken as higher is better, named once in the notes ("assumed higher is
        better: ..."), and one whose name suggests lower is better (toxicity, loss, error, mae,
        wer, perplexity, latency, length, ...) raises a :class:`DirectionWarning`.
    align : {"error", "intersect", "none"}
        What to do when models have different item sets for a metric: raise (default), keep
        only the items common to all models (a :class:`DataWarning` says how many were
        dropped), or keep everything (then only ``design="independent"`` can be used).
    on_missing : {"error", "drop"}
        What to do with missing or NaN values.
    on_infinite : {"keep", "rank", "error"}
        +/-inf values (an lm-eval ``mae`` of ``Infinity``) are the worst or best outcome, not
        missing data. ``"keep"`` (default) keeps them: rank-based analyses (the IC, EC and
        multivariate portfolios, which map every metric through its pooled ECDF) use them as
        they are, while raw-scale statistics of that metric (dominance integrals, mean-risk
        scores, guardrails, per-metric plots) refuse it with this fix. ``"rank"`` maps each
        metric holding infinite values to its pooled ECDF (ranks in (0, 1], ties at the
        maximum, METHOD.md 9.1), so the infinite values stay the extreme outcomes and every
        statistic can use the metric. ``"error"`` refuses them.
    strict : bool
        Raise on the first bad record (default). With ``False`` bad log records and table rows
        (a value that is not a number, an empty id) are skipped, and counted in the read
        summary (``table.read``) with where they were.
    format : str
        "auto" (default): a long table by its extension, or an evaluation log (file or folder)
        sniffed by :func:`riskbench.io.sniff`; "table" forces a long table; a name of
        ``riskbench.io.FORMATS`` (lm_eval, helm, inspect, alpaca_eval, pairwise, eee) reads
        that log format. Logs come with ``notes`` on the table (averaged repeats, failed
        aggregate checks) and their prompts and responses (:meth:`ScoreTable.texts`).
    metrics : str or sequence of str, optional
        Keep only these metrics (checked before anything else, so the others may be
        incomplete: useful with logs holding many tasks). Each entry is a metric name, a glob
        (``"*harm_bench_score*"``) or a substring of metric names, and keeps every metric it
        matches; a single string instead picks one metric (what ``--metric`` of the one-metric
        commands does), so a pattern that matches several is an :class:`InputError` listing
        them. The metrics left out are counted in the read summary.
    model_names : mapping {old: new}, optional
        Rename models (before anything is checked, so two names may be merged into one only
        when their items do not clash).
    logprobs : bool
        Read log-probability stats of logs (HELM's ``logprob``, ``max_prob``) as metrics; by
        default they are left out, and counted.
    texts : bool
        Keep the prompts and responses of logs (:meth:`ScoreTable.texts`); ``False`` reads
        only the numbers (HELM's ``scenario_state.json`` is then not parsed).
    cluster : str, optional
        Column of the cluster of each item (e.g. the passage several questions share): the
        bootstrap then resamples clusters, not items (METHOD.md section 14).
    repeat : str, optional
        Column telling apart repeated generations of one item (sample or epoch number); rows
        may then repeat a (model, item, metric) key.
    repeats : {"mean", "two-stage"}
        With ``repeat``: average the generations of each item first (default, said in the
        table's notes), or keep them and resample in two stages (items, then generations).

    Returns
    -------
    ScoreTable
        With ``read``, the :class:`~riskbench._provenance.ReadSummary` of what was read and
        what was left out.

    Raises
    ------
    InputError
        With the file, the row(s), the field and the fix: missing columns, empty ids,
        non-numeric or missing values, duplicated (model, item, metric) rows, a metric with a
        single model, a model without rows for a metric, item sets that differ across models.
    """
    if align not in ALIGN:
        raise InputError(f"align must be one of {', '.join(map(repr, ALIGN))}; got {align!r}")
    if on_missing not in ON_MISSING:
        raise InputError(
            f"on_missing must be one of {', '.join(map(repr, ON_MISSING))}; got {on_missing!r}"
        )
    if on_infinite not in ON_INFINITE:
        raise InputError(f"on_infinite must be one of {', '.join(map(repr, ON_INFINITE))}; "
                         f"got {on_infinite!r}")
    if format != "auto" and format != "table":
        from riskbench.io import FORMATS

        if format not in FORMATS:
            raise InputError(f"format must be 'auto', 'table' or one of {', '.join(FORMATS)}; "
                             f"got {format!r}")
    from riskbench._compact import read_compact

    # a clean long-table file is streamed into integer codes (bounded memory); anything to
    # report, warn about or drop goes the whole-frame way below, with today's messages
    compact = read_compact(source, format=format, model=model, item=item, metric=metric,
                           value=value, higher_is_better=higher_is_better, align=align,
                           on_infinite=on_infinite, metrics=metrics, model_names=model_names,
                           cluster=cluster, repeat=repeat)
    if compact is not None:
        return compact
    raws = _load_all(source, format, strict=strict, logprobs=logprobs, texts=texts)
    parts = []
    for raw in raws:  # a loop, not a comprehension: its warnings point at the caller's line
        parts.append(_canonical(raw, model=model, item=item, metric=metric, value=value,
                                cluster=cluster, repeat=repeat, on_missing=on_missing,
                                on_infinite=on_infinite, strict=strict))
    return _build_table(parts, raws, higher_is_better=higher_is_better, align=align,
                        on_infinite=on_infinite, metrics=metrics, model_names=model_names,
                        repeat=repeat, repeats=repeats, cluster=cluster)


@dataclass
class _Part:
    """One source in canonical columns: ``long`` (model, item, metric, value [, repeat]),
    the row of ``raw.frame`` each row came from, and what was left out of it."""

    raw: _Raw
    long: pd.DataFrame
    rows: np.ndarray
    clusters: np.ndarray | None
    dropped_rows: int
    skips: list[Skip]


def _sources(source: object) -> list[object]:
    if isinstance(source, list | tuple):
        if not source:
            raise InputError("no scores given: pass a file, a folder, a DataFrame or a list of "
                             "them")
        return list(source)
    return [source]


def _load_all(source: object, format: str, *, strict: bool, logprobs: bool,
              texts: bool = True) -> list[_Raw]:
    """Load every source; logs among them are read together (runs told apart across them)."""
    sources = _sources(source)
    logs: list[Path] = []
    raws: list[_Raw | None] = []
    for src in sources:
        if isinstance(src, str | Path):
            path = Path(src)
            if not path.exists():
                raise InputError(f"{src}: no such file or directory")
            _limits.check_regular(path)  # a FIFO or device would block or never end
            if _is_log(path, format):
                if not logs:
                    raws.append(None)  # the logs' place in the order
                logs.append(path)
                continue
        raws.append(_load(src, format))
    if logs:
        raws[raws.index(None)] = _load_logs(logs, format, strict=strict, logprobs=logprobs,
                                            texts=texts)
    return raws  # type: ignore[return-value]


def _canonical(raw: _Raw, *, model: str, item: str, metric: str, value: str,
               cluster: str | None, repeat: str | None, on_missing: str, on_infinite: str,
               strict: bool) -> _Part:
    """Validate one source's columns and values into canonical long rows."""
    frame = raw.frame
    name = raw.name
    if raw.log:
        model, item, metric, value = "model", "item", "metric", "value"
    if len(frame) == 0:
        raise InputError(f"{name}: the table has no rows; it needs one row per model, item and "
                         "metric")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if item == "sample_id" and "sample_id" not in columns and "item" in columns:
        item = "item"
    single_metric = metric == "metric" and "metric" not in columns
    if single_metric and value == "value" and "value" not in columns and \
            model in columns and item in columns and len(columns) > 2:
        raw = _melt_wide(raw, model, item)  # one column per metric
        frame, columns = raw.frame, ["model", "item", "metric", "value"]
        model, item, metric, value, single_metric = "model", "item", "metric", "value", False
    wanted = {"model": model, "item": item, "value": value}
    if not single_metric:
        wanted["metric"] = metric
    if cluster is not None:
        wanted["cluster"] = cluster
    if repeat is not None:
        wanted["repeat"] = repeat
    missing = [(role, col) for role, col in wanted.items() if col not in columns]
    if missing:
        fixes = " or ".join(option_hint(f"{role}='<column>'", f"--{role}-col <column>")
                            for role, _ in missing)
        raise InputError(
            f"{name}: missing column(s) {', '.join(repr(c) for _, c in missing)}; the file has "
            f"columns {', '.join(repr(c) for c in columns[:20])}"
            f"{f' and {len(columns) - 20:,} more' if len(columns) > 20 else ''}. Name the right "
            f"column(s) with {fixes}"
        )
    skips: list[Skip] = [] if raw.log else unused_columns(columns, wanted.values(), name)
    keep = np.ones(len(frame), dtype=bool)
    models = _id_column(raw, model, "model", strict, keep, skips)
    items = _id_column(raw, item, "item", strict, keep, skips)
    metric_ids = (pd.Series([value] * len(frame)) if single_metric
                  else _id_column(raw, metric, "metric", strict, keep, skips))
    values, bad = _values(raw, value)
    if bad.size:
        examples = ", ".join(f"{raw.where(int(i))} ({_show(frame[value].iloc[i])})"
                             for i in bad[:_SHOWN])
        more = f" and {bad.size - _SHOWN} more" if bad.size > _SHOWN else ""
        if strict:
            raise InputError(
                f"{name}: field {value!r} is not a number at {examples}{more}; fix those values "
                f"or remove the rows, or skip them with {option_hint('strict=False', '--lenient')}"
            )
        keep[bad] = False
        skips.append(Skip(BAD_ROW, f"field {value!r} is not a number at {examples}{more}",
                          int(bad.size), "rows", name))
    invalid = np.isnan(values) & keep
    dropped_rows = 0
    if invalid.any():
        pos = np.flatnonzero(invalid)
        if on_missing == "error":
            raise InputError(
                f"{name}: field {value!r} has {pos.size} missing or NaN value(s) at "
                f"{_rows(raw, pos)}; fix them, or drop those rows with "
                f"{option_hint('on_missing=' + repr('drop'), '--on-missing drop')}"
            )
        keep &= ~invalid
        dropped_rows = int(pos.size)
        warnings.warn(f"{name}: dropped {pos.size} row(s) with missing or NaN {value!r} "
                      f"({_rows(raw, pos)})", DataWarning, stacklevel=3)
        skips.append(Skip("missing or NaN value, dropped (on_missing drop)", _rows(raw, pos),
                          int(pos.size), "rows", name))
    infinite = np.isinf(values) & keep
    if infinite.any() and on_infinite == "error":
        pos = np.flatnonzero(infinite)
        raise InputError(
            f"{name}: field {value!r} has {pos.size} infinite value(s) at {_rows(raw, pos)}; "
            f"they are the worst or best outcome: keep them with "
            f"{_KEEP_INF} (portfolios use them as they are) or {_RANK_INF} (every statistic "
            "can use the metric on its pooled-rank scale)"
        )
    long = pd.DataFrame({"model": models.to_numpy(), "item": items.to_numpy(),
                         "metric": metric_ids.to_numpy(), "value": values})
    if repeat is not None:
        long["repeat"] = _id_column(raw, repeat, "repeat", strict, keep, skips).to_numpy()
    clusters = (None if cluster is None
                else _id_column(raw, cluster, "cluster", strict, keep, skips).to_numpy())
    rows = np.flatnonzero(keep)
    long = long.iloc[rows].reset_index(drop=True)
    return _Part(raw, long, rows, None if clusters is None else clusters[rows], dropped_rows,
                 skips)


def _combined(parts: list[_Part]) -> tuple[str, pd.DataFrame, Callable[[np.ndarray], str],
                                           np.ndarray | None, Callable[[int], str]]:
    """The parts as one table: name, long rows, a row lister, clusters, and one row's place."""
    if len(parts) == 1:
        p = parts[0]

        def one(i: int) -> str:
            return p.raw.where(int(p.rows[i]))
    else:
        offsets = np.cumsum([0] + [len(p.long) for p in parts])

        def one(i: int) -> str:
            k = int(np.searchsorted(offsets, i, side="right")) - 1
            p = parts[k]
            return f"{p.raw.name} {p.raw.where(int(p.rows[i - offsets[k]]))}"
    long = pd.concat([p.long for p in parts], ignore_index=True) if len(parts) > 1 \
        else parts[0].long
    clusters = None
    if parts[0].clusters is not None:
        clusters = np.concatenate([p.clusters for p in parts])
    names = [p.raw.name for p in parts]
    name = names[0] if len(names) == 1 else " + ".join(names)

    def rows(positions: np.ndarray) -> str:
        shown = ", ".join(one(int(i)) for i in positions[:_SHOWN])
        more = f" and {positions.size - _SHOWN} more" if positions.size > _SHOWN else ""
        return shown + more

    return name, long, rows, clusters, one


def _build_table(parts: list[_Part], raws: list[_Raw], *, higher_is_better: object,
                 align: str, on_infinite: str, metrics: str | Sequence[str] | None,
                 model_names: Mapping[str, str] | None, repeat: str | None, repeats: str,
                 cluster: str | None) -> ScoreTable:
    name, long, rows_of, clusters_col, row_of = _combined(parts)
    skips = [s for raw in raws for s in raw.skips] + [s for p in parts for s in p.skips]
    notes = [n for raw in raws for n in raw.notes]
    texts = _texts_of(raws)
    if model_names:
        long, texts = _rename(long, texts, model_names, name)
    keep = np.ones(len(long), dtype=bool)
    available = sorted(long["metric"].unique())
    if metrics is not None:
        chosen = match_metrics(metrics, available, name)
        keep &= long["metric"].isin(chosen).to_numpy()
        for met, n in long.loc[~keep, "metric"].value_counts().sort_index().items():
            skips.append(Skip("metric not selected", met, int(n), "values", name))
    positions = np.flatnonzero(keep)
    long = long.iloc[positions].reset_index(drop=True)
    if len(long) == 0:
        raise InputError(f"{name}: no rows left after dropping missing values")
    if clusters_col is not None:
        clusters_col = clusters_col[positions]
    key = ["model", "item", "metric"] + (["repeat"] if repeat is not None else [])
    dup = long.duplicated(subset=key, keep=False).to_numpy()
    if dup.any():
        first = long[dup].iloc[0]
        same = np.flatnonzero(dup & (long["model"] == first["model"]).to_numpy()
                              & (long["item"] == first["item"]).to_numpy()
                              & (long["metric"] == first["metric"]).to_numpy())
        n_keys = long[dup].drop_duplicates(subset=["model", "item", "metric"]).shape[0]
        raise InputError(
            f"{name}: {n_keys} (model, item, metric) key(s) appear more than once, e.g. "
            f"{rows_of(positions[same])} all give ({first['model']!r}, {first['item']!r}, "
            f"{first['metric']!r}); keep one row per model, item and metric, or name the column "
            "that tells repeated generations apart with "
            f"{option_hint('repeat=', '--repeat-col')}"
        )
    item_clusters = None
    if clusters_col is not None:
        item_clusters = _clusters_of_items(long["item"].to_numpy(), clusters_col,
                                           lambda i: row_of(int(positions[i])), name)
    if repeat is not None:
        if repeats not in ("mean", "two-stage"):
            raise InputError(f"repeats must be 'mean' or 'two-stage'; got {repeats!r}")
        if repeats == "mean":
            per = long.groupby(["model", "item", "metric"]).size()
            long = long.groupby(["model", "item", "metric"], as_index=False, sort=False)[
                "value"].mean()
            notes.append(f"repeated generations averaged per item first ({per.min()} to "
                         f"{per.max()} per item); repeats='two-stage' (CLI: --generations "
                         "two-stage) resamples them instead")
        else:
            notes.append("repeated generations kept: the bootstrap resamples items, then "
                         "generations within each drawn item")

    table_metrics = sorted(long["metric"].unique())
    stated = _directions(higher_is_better, raws, table_metrics, name, available)
    directions = {m: d for m, (d, _) in stated.items()}
    _name_assumed(stated)
    all_models = sorted(long["model"].unique())
    dropped_items: dict[str, int] = {}
    dropped_from: dict[str, list[str]] = {}  # item -> the metrics it was dropped from
    kept = []
    for met, sub in long.groupby("metric", sort=True):
        met_models = sorted(sub["model"].unique())
        if len(met_models) < 2:
            raise InputError(
                f"{name}: metric {met!r} has scores for only one model ({met_models[0]!r}); "
                "a comparison needs at least two: add another model's scores, or "
                + option_hint("keep other metrics with metrics=[...]",
                              "rank a metric that several models share with --metric NAME")
            )
        absent = [m for m in all_models if m not in set(met_models)]
        if absent:
            raise InputError(
                f"{name}: model(s) {', '.join(map(repr, absent[:_SHOWN]))} have no rows for "
                f"metric {met!r} while other models do; add their scores or remove them"
            )
        counts = sub.groupby("model")["item"].nunique()
        all_items = sub["item"].unique()
        if (counts == all_items.size).all():
            kept.append(sub)
            continue
        per_model = sub.groupby("model")["item"].agg(set)
        common = set.intersection(*per_model.tolist())
        if align == "none":
            kept.append(sub)
            continue
        if align == "error":
            lacking = []
            universe = set(all_items)
            for m, its in per_model.items():
                gone = _natural_order(list(universe - its))
                if gone:
                    lacking.append(f"{m!r} lacks {len(gone)} item(s) (e.g. "
                                   f"{', '.join(map(repr, gone[:3]))})")
            raise InputError(
                f"{name}: models have different item sets for metric {met!r}: "
                f"{'; '.join(lacking[:_SHOWN])}{'; ...' if len(lacking) > _SHOWN else ''}. "
                f"Pass {option_hint('align=' + repr('intersect'), '--align intersect')} to keep "
                f"the {len(common)} items common to all models, or "
                f"{option_hint('align=' + repr('none'), '--align none')} with "
                f"{option_hint('design=' + repr('independent'), '--design independent')}"
            )
        if not common:
            raise InputError(f"{name}: no item of metric {met!r} is scored for every model; "
                             "align='intersect' would leave nothing")
        dropped_items[met] = int(all_items.size - len(common))
        gone = _natural_order([str(i) for i in set(all_items) - common])
        warnings.warn(
            f"{name}: metric {met!r}: kept the {len(common)} items common to all models, "
            f"dropped {dropped_items[met]} item(s) not scored for every model (e.g. "
            f"{', '.join(map(repr, gone[:3]))})",
            DataWarning,
            stacklevel=3,
        )
        for item in gone:
            dropped_from.setdefault(item, []).append(met)
        kept.append(sub[sub["item"].isin(common)])
    # one skip per item, named, and the metrics it left when not all of them: the account
    # counts items, not (item, metric) pairs
    metrics_of = long.groupby("item")["metric"].nunique() if dropped_from else None
    for item in _natural_order(list(dropped_from)):
        mets = dropped_from[item]
        label = item if len(mets) == metrics_of[item] else f"{item} (from {', '.join(mets)})"
        skips.append(Skip("item not scored for every model (align intersect)", label, 1,
                          "items", name))
    result = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
    result = result.sort_values([c for c in ("metric", "model", "item", "repeat")
                                 if c in result.columns], kind="stable").reset_index(drop=True)
    infinite = {m: int(n) for m, n in result.loc[np.isinf(result["value"].to_numpy()),
                                                  "metric"].value_counts().items()}
    ranked: tuple[str, ...] = ()
    if infinite and on_infinite == "rank":
        result, ranked = _rank_transform(result, sorted(infinite)), tuple(sorted(infinite))
        for m in ranked:
            notes.append(f"metric {m!r}: {infinite[m]} infinite value(s) kept as the extreme "
                         "outcomes by mapping the metric to its pooled ECDF (on_infinite="
                         "'rank'); its values, means and TVaR are ranks in (0, 1]")
    elif infinite:
        notes.append(_kept_infinite_note(infinite))
    checksum = _checksum(raws, result)
    summary = ReadSummary(
        sources=tuple(_source_name(r) for r in raws),
        formats=tuple(dict.fromkeys(f for r in raws for f in r.formats)),
        files=tuple(dict.fromkeys(f for r in raws for f in r.files)),
        models=tuple(sorted(result["model"].unique())), metrics=tuple(sorted(directions)),
        items={m: int(n) for m, n in result.groupby("metric")["item"].nunique().items()},
        rows=len(result), skipped=merge_skips(skips), directions=stated)
    dropped_rows = sum(p.dropped_rows for p in parts)
    metric_tasks = {m: t for r in raws for m, t in r.metric_tasks.items() if m in directions}
    return ScoreTable(result, directions, name, checksum, dropped_items, dropped_rows, align,
                      tuple(dict.fromkeys(notes)), item_clusters, read=summary,
                      infinite=infinite, ranked=ranked, _texts=texts,
                      _metric_tasks=metric_tasks)


def _kept_infinite_note(infinite: dict[str, int]) -> str:
    return ("infinite values kept as the worst or best outcome (on_infinite='keep'): "
            + ", ".join(f"{m!r}: {n}" for m, n in sorted(infinite.items()))
            + "; portfolios use them as they are, raw-scale statistics of these "
            "metrics need on_infinite='rank'")


def _source_name(raw: _Raw) -> str:
    return raw.name


def _checksum(raws: list[_Raw], result: pd.DataFrame) -> str:
    """sha256 of the input: the file's bytes (one file), else of the sources' checksums, else
    of the validated long table (a DataFrame, a folder)."""
    if len(raws) == 1 and raws[0].checksum:
        return raws[0].checksum
    if raws and all(r.checksum for r in raws):
        return hashlib.sha256("\n".join(r.checksum for r in raws).encode()).hexdigest()
    return hashlib.sha256(result.to_csv(index=False).encode()).hexdigest()


def _texts_of(raws: list[_Raw]) -> pd.DataFrame | None:
    frames = [r.texts for r in raws if r.texts is not None and len(r.texts)]
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _rename(long: pd.DataFrame, texts: pd.DataFrame | None, names: Mapping[str, str],
            source: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    present = set(long["model"])
    unknown = [old for old in names if old not in present]
    if unknown:
        raise InputError(f"{source}: cannot rename model(s) {', '.join(map(repr, unknown))}: "
                         f"not in the table (models: {', '.join(sorted(present)[:20])}); give "
                         f"{option_hint('model_names={old: new}', '--model-name OLD=NEW')} "
                         "with a model the input has")
    for old, new in names.items():
        if not isinstance(new, str) or not new.strip():
            raise InputError(f"the new name of model {old!r} must be a non-empty string; got "
                             f"{new!r}")
    mapping = {str(k): str(v).strip() for k, v in names.items()}
    long = long.assign(model=long["model"].map(lambda m: mapping.get(m, m)))
    if texts is not None:
        texts = texts.assign(model=texts["model"].map(lambda m: mapping.get(m, m)))
    return long, texts


def match_metrics(patterns: str | Sequence[str], available: Sequence[str],
                  source: str = "the table") -> list[str]:
    """The metrics that names, globs or substrings pick, in the order of ``available``.

    Each pattern is an exact metric name, else a glob (``*``, ``?``, ``[...]``) matched against
    whole names, else a substring of names; one that matches nothing is an error listing the
    metrics there are. A single string (not a list) must pick one metric: see
    :func:`resolve_metric`.
    """
    if isinstance(patterns, str):
        return [resolve_metric(patterns, available, source)]
    chosen: set[str] = set()
    unknown = []
    for pattern in (str(p) for p in patterns):
        found = _matches(pattern, available)
        if not found:
            unknown.append(pattern)
        chosen.update(found)
    if unknown:
        listed = ", ".join(list(available)[:20]) + (", ..." if len(available) > 20 else "")
        raise InputError(f"{source}: no metric(s) {', '.join(map(repr, unknown))}; the file "
                         f"has: {listed}")
    return [m for m in available if m in chosen]


def _matches(pattern: str, available: Sequence[str]) -> list[str]:
    if pattern in available:
        return [pattern]
    if any(c in pattern for c in "*?["):
        return [m for m in available if fnmatch.fnmatchcase(m, pattern)]
    return [m for m in available if pattern in m]


def resolve_metric(pattern: str, available: Sequence[str], source: str) -> str:
    """One metric from a name, a glob or a unique substring; several matches are an error
    that lists them."""
    found = _matches(str(pattern), available)
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"{source}: no metric {pattern!r}; the table has: "
                         f"{', '.join(available)}")
    raise InputError(f"{source}: metric {pattern!r} matches {len(found)} metrics "
                     f"({', '.join(found[:_SHOWN * 2])}{', ...' if len(found) > 10 else ''}); "
                     f"give one of them, or a pattern that matches only one "
                     f"({option_hint('metric=', '--metric')} takes a name, a glob or a unique "
                     "substring)")


def _rank_transform(frame: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Each of ``metrics`` mapped to its ECDF pooled over models and items (ties: max rank)."""
    frame = frame.copy()
    for m in metrics:
        rows = (frame["metric"] == m).to_numpy()
        x = frame.loc[rows, "value"].to_numpy(dtype=np.float64)
        frame.loc[rows, "value"] = np.searchsorted(np.sort(x), x, side="right") / x.size
    return frame


_LOWER_WORDS = frozenset({"toxicity", "toxic", "loss", "mae", "mse", "rmse", "wer", "cer",
                          "ter", "perplexity", "ppl", "latency", "runtime", "length", "error",
                          "errors", "cost", "time", "bias", "harmful", "refusal", "chars",
                          "words", "tokens", "bytes", "offensive", "offensiveness", "unsafe",
                          "harmfulness", "hallucination", "hallucinations",
                          "violation", "violations", "losses", "nll", "bpb", "profanity"})


def looks_lower_is_better(metric: str) -> bool:
    """Whether a metric's name suggests lower is better (a word of :data:`_LOWER_WORDS`)."""
    words = re.split(r"[^a-z0-9]+", metric.lower())
    return any(w in _LOWER_WORDS for w in words)


def _name_assumed(stated: dict[str, tuple[bool, str]], *, when: str = "") -> None:
    """Warn about unstated directions that look wrong; the read summary names them all once
    (``table.read.assumed``, "assumed higher is better: ..." in every command's output)."""
    assumed = [m for m, (_, by) in stated.items() if by == "assumed"]
    suspicious = [m for m in assumed if looks_lower_is_better(m)]
    if suspicious:
        warnings.warn(
            f"metric(s) {', '.join(map(repr, suspicious))} look lower-is-better by name, but no "
            f"direction was stated, so higher is taken as better; {when}say which way they go with "
            f"{option_hint('higher_is_better={metric: False}', '--lower-is-better METRIC')} "
            f"(or {option_hint('higher_is_better={metric: True}', 'a --metric-spec file')} "
            "to keep them as they are)",
            DirectionWarning, stacklevel=4)


def _clusters_of_items(items: np.ndarray, clusters: np.ndarray, where: Callable[[int], str],
                       name: str) -> dict[str, str]:
    """Map each item to its cluster; an item in two clusters is an error naming both rows."""
    mapping: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for row, (item, cl) in enumerate(zip(items, clusters, strict=True)):
        known = mapping.setdefault(item, cl)
        first_row.setdefault(item, row)
        if known != cl:
            raise InputError(
                f"{name}: item {item!r} is in cluster {known!r} at "
                f"{where(first_row[item])} but in {cl!r} at {where(row)}; an item belongs to "
                "one cluster"
            )
    return mapping


def _directions(spec: object, raws: list[_Raw], metrics: list[str], name: str,
                available: list[str]) -> dict[str, tuple[bool, str]]:
    """Each metric's direction and who stated it: the user over the input over "assumed".

    ``available``: the metrics of the input before ``metrics=`` selected ``metrics`` from
    them; a direction given for one that was not selected is ignored (the read account names
    the metric as not selected), one for a metric the input lacks is an error.
    """
    stated: dict[str, tuple[bool, str]] = {}
    for raw in raws:
        for m, d in (raw.stated or {}).items():
            if m in metrics:
                stated.setdefault(m, d)
    if spec is None:
        pass
    elif isinstance(spec, bool | np.bool_):
        stated = dict.fromkeys(metrics, (bool(spec), "user"))
    elif isinstance(spec, Mapping):
        unknown = [m for m in spec if m not in available]
        if unknown:
            raise InputError(
                f"{name}: {option_hint('higher_is_better', '--lower-is-better/--metric-spec')} "
                f"names metric(s) {', '.join(map(repr, unknown))} not in the table (metrics: "
                f"{', '.join(available)})"
            )
        for m, v in spec.items():
            if not isinstance(v, bool | np.bool_):
                raise InputError(f"higher_is_better[{m!r}] must be True or False; got {v!r}")
            if m in metrics:  # else not selected by metrics=
                stated[m] = (bool(v), "user")
    else:
        raise InputError(
            f"higher_is_better must be None, True/False or a mapping {{metric: bool}}; got "
            f"{spec!r}"
        )
    return {m: stated.get(m, (True, "assumed")) for m in metrics}


def write_scores(table: ScoreTable, path: str | Path, *,
                 inputs: Sequence[str | Path] = ()) -> Path:
    """Write a ScoreTable as a long table (CSV, CSV.gz, JSONL or Parquet), atomically.

    The file appears complete or not at all (written next to its destination, fsync'ed, then
    renamed; an existing file keeps its permissions), and never replaces the table's own
    source file or any of ``inputs``. Parquet files also record each metric's direction, which
    :func:`read_scores` reads back; for CSV and JSONL pass the directions again when reading
    (``higher_is_better=`` or ``--lower-is-better``). In CSV files, a name that a spreadsheet
    would run as a formula (leading ``=``, ``+``, ``-``, ``@``, tab or CR, and not a number)
    is written with a leading ``'``; Parquet and JSONL keep every name exactly.
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix not in (".csv", ".csv.gz", ".parquet", ".pq", ".jsonl"):
        raise InputError(f"{path}: cannot write {suffix or 'a file without extension'}; use "
                         ".parquet (keeps metric directions), .csv, .csv.gz or .jsonl")
    frame = table.to_frame()
    inputs = (*inputs, *(() if table.source == "DataFrame" else (table.source,)))
    with atomic_path(path, inputs=inputs) as tmp:
        if suffix in (".parquet", ".pq"):
            import pyarrow as pa
            import pyarrow.parquet as pq

            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            meta = dict(arrow.schema.metadata or {})
            meta[_META_KEY] = json.dumps({"higher_is_better": table.higher_is_better}).encode()
            pq.write_table(arrow.replace_schema_metadata(meta), tmp)
        elif suffix == ".jsonl":
            frame.to_json(tmp, orient="records", lines=True)
        else:  # names a spreadsheet would run as formulas get a leading "'"
            from riskbench._display import csv_cell

            for column in frame.columns:
                if not pd.api.types.is_numeric_dtype(frame[column]):
                    frame[column] = frame[column].map(csv_cell)
            frame.to_csv(tmp, index=False, compression="gzip" if suffix.endswith(".gz")
                         else None)
    return path
