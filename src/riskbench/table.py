"""ScoreTable: the validated long table (model, item, metric, value) every analysis starts from."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from riskbench._atomic import atomic_path
from riskbench._samples import Samples
from riskbench.errors import DataWarning, InputError
from riskbench.portfolio import MetricCube

__all__ = ["ScoreTable", "read_scores", "write_scores", "ALIGN", "ON_MISSING"]

ALIGN = ("error", "intersect", "none")
ON_MISSING = ("error", "drop")
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

    # -- shape ----------------------------------------------------------------------------
    @property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted(self._frame["model"].unique()))

    @property
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
        return self._frame.copy()

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
            raise InputError(
                f"{self.source}: no metric {metric!r}; the table has: {', '.join(metrics)}"
            )
        return metric

    def samples(self, metric: str | None = None) -> Samples:
        """Per-model scores of one metric, oriented so that higher is better.

        Lower-is-better metrics are negated. Models are in name order, items in natural order;
        the samples are ``aligned`` when every model has the same items. The arrays are
        read-only and cached: tables never change.
        """
        metric = self._metric(metric)
        cache = _SAMPLES.setdefault(self, {})
        if metric not in cache:
            cache[metric] = self._build_samples(metric)
        return cache[metric]

    def _build_samples(self, metric: str) -> Samples:
        sub = self._frame[self._frame["metric"] == metric]
        sign = 1.0 if self.higher_is_better[metric] else -1.0
        if "repeat" in sub.columns:
            return self._two_stage_samples(sub, metric, sign)
        wide = sub.pivot(index="model", columns="item", values="value")
        wide = wide.loc[sorted(wide.index), _natural_order(wide.columns.tolist())]
        values = wide.to_numpy(dtype=np.float64) * sign
        present = ~np.isnan(values)
        aligned = bool(present.all())
        clusters = None
        if aligned:
            rows = tuple(values)
            items = tuple(wide.columns)
            if self.item_clusters is not None:
                clusters = np.unique([self.item_clusters[i] for i in items],
                                     return_inverse=True)[1]
        else:
            rows = tuple(v[p] for v, p in zip(values, present, strict=True))
            items = None
            if self.item_clusters is not None:
                raise InputError(f"{self.source}: metric {metric!r}: the cluster bootstrap "
                                 "needs every model scored on the same items; read the scores "
                                 "with align='intersect'")
        for row in rows:
            row.flags.writeable = False
        return Samples(tuple(wide.index), rows, aligned, metric, self.higher_is_better[metric],
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
            raise InputError(f"{self.source}: a portfolio pairs the metrics of each item; with "
                             "repeated generations read the scores with repeats='mean'")
        for m in metrics:
            self._metric(m)
        per_metric = [self.samples(m) for m in metrics]
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
            if self.align != "intersect":
                raise InputError(
                    f"{self.source}: the metrics have different item sets ({counts} items); a "
                    f"portfolio needs the same items for all metrics: read the scores with "
                    f"align='intersect' (CLI: --align intersect) to keep the {len(common)} "
                    "common items"
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
        return MetricCube(per_metric[0].models, items, metrics, np.stack(columns, axis=-1),
                          {m: self.higher_is_better[m] for m in metrics})

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
                                         if m in kept})

    def matrix(self, metric: str | None = None) -> pd.DataFrame:
        """Scores of one metric in its own units as a (models x items) DataFrame (NaN = absent)."""
        metric = self._metric(metric)
        sub = self._frame[self._frame["metric"] == metric]
        wide = sub.pivot(index="model", columns="item", values="value")
        return wide.loc[sorted(wide.index), _natural_order(wide.columns.tolist())]


# ----------------------------------------------------------------------------- reading

@dataclass
class _Raw:
    frame: pd.DataFrame
    name: str
    where: Callable[[int], str]  # position -> "line 5" / "row 5"
    checksum: str | None
    directions: dict[str, bool] | None = None  # recorded in the file by write_scores
    notes: tuple[str, ...] = ()


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


def _load_log(path: Path, name: str, format: str) -> _Raw:
    from riskbench.io import read_log

    log = read_log(path, format=format, strict=True)
    frame = log.frame[["model", "item", "metric", "value"]].reset_index(drop=True)
    notes = list(log.notes)
    for check in log.checks:
        if not check.matched:
            notes.append(f"aggregate check failed: {check.file}: {check.metric} reported "
                         f"{check.reported:g}, recomputed {check.recomputed:g}")
    checksum = None if path.is_dir() else _sha256(path)
    return _Raw(frame, name, lambda i: f"record {i + 1}", checksum, notes=tuple(notes))


def _load(source: object, format: str = "auto") -> _Raw:
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True)
        labels = source.index

        def where(i: int) -> str:
            label = labels[i]
            return f"row {label.item() if isinstance(label, np.generic) else label!r}"

        return _Raw(frame, "DataFrame", where, None)
    if not isinstance(source, str | Path):
        raise InputError(
            f"scores must be a file path or a pandas DataFrame; got {type(source).__name__}"
        )
    path = Path(source)
    name = str(source)
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if _is_log(path, format):
        return _load_log(path, name, format)
    if path.is_dir():
        raise InputError(
            f"{name}: is a directory; pass a score file ({', '.join(SUPPORTED_SUFFIXES)})"
        )
    suffix = _suffix(path)
    checksum = _sha256(path)
    try:
        if suffix in (".csv", ".csv.gz", ".tsv", ".tsv.gz"):
            sep = "\t" if suffix.startswith(".tsv") else ","
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                                na_filter=False, compression="infer")
            return _Raw(frame, name, lambda i: f"line {i + 2}", checksum)
        if suffix in (".jsonl", ".jsonl.gz", ".ndjson"):
            frame, lines = _read_jsonl(path, name)
            return _Raw(frame, name, lambda i: f"line {lines[i]}", checksum)
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            return _Raw(frame.reset_index(drop=True), name, lambda i: f"row {i + 1}", checksum,
                        _recorded_directions(path))
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
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return lineno
    return 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def jsonl_records(path: Path, name: str) -> Iterator[tuple[int, dict]]:
    """``(line number, record)`` of a JSON Lines file (gzip if it ends in .gz); a line that is
    not a JSON object is an InputError naming ``name`` and the line."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{name}: line {lineno} is not valid JSON ({exc.msg} at "
                                 f"character {exc.pos + 1}); fix or remove that line") from None
            if not isinstance(record, dict):
                raise InputError(f"{name}: line {lineno} is a JSON {type(record).__name__}, not "
                                 "an object; each line must be one {\"field\": value} record")
            yield lineno, record


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

    return _Raw(frame, raw.name, where, raw.checksum, raw.directions, raw.notes)


def _id_column(raw: _Raw, column: str, role: str) -> pd.Series:
    """Model, item or metric ids as strings; empty ids are an error."""
    col = raw.frame[column]
    if pd.api.types.is_float_dtype(col) and col.dropna().apply(float.is_integer).all():
        col = col.astype("Int64")
    missing = col.isna().to_numpy().copy()
    text = col.astype(str).str.strip()
    missing |= (text == "").to_numpy()
    if missing.any():
        pos = np.flatnonzero(missing)
        raise InputError(
            f"{raw.name}: empty {role} field {column!r} at {_rows(raw, pos)}; every row needs a "
            "model, an item and a metric"
        )
    return text


def _values(raw: _Raw, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse the value column: returns (values as float, positions of non-numbers)."""
    col = raw.frame[column]
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
            return float(v)
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
    format: str = "auto",
    metrics: Sequence[str] | None = None,
    cluster: str | None = None,
    repeat: str | None = None,
    repeats: str = "mean",
) -> ScoreTable:
    """Read per-item scores from a long table and validate them.

    Parameters
    ----------
    source : str, Path or pandas.DataFrame
        A CSV (``.csv``, ``.csv.gz``, ``.tsv``), Parquet or JSON Lines file, or a DataFrame,
        with one row per (model, item, metric).
    model, item, metric, value : str
        Column names. When the default item column ``sample_id`` is absent, ``item`` is used.
        When the default metric column is absent, the table has one metric named after the
        value column, or, if there is no ``value`` column either, it is a wide table: every
        column besides the model and item ones is a metric.
    higher_is_better : bool or mapping {metric: bool}, optional
        Direction of the metrics (default: higher is better for all).
    align : {"error", "intersect", "none"}
        What to do when models have different item sets for a metric: raise (default), keep
        only the items common to all models (a :class:`DataWarning` says how many were
        dropped), or keep everything (then only ``design="independent"`` can be used).
    on_missing : {"error", "drop"}
        What to do with missing, NaN or infinite values.
    cluster : str, optional
        Column of the cluster of each item (e.g. the passage several questions share): the
        bootstrap then resamples clusters, not items (METHOD.md section 14).
    repeat : str, optional
        Column telling apart repeated generations of one item (sample or epoch number); rows
        may then repeat a (model, item, metric) key.
    repeats : {"mean", "two-stage"}
        With ``repeat``: average the generations of each item first (default, said in the
        table's notes), or keep them and resample in two stages (items, then generations).
    metrics : sequence of str, optional
        Keep only these metrics (checked before anything else, so the others may be
        incomplete: useful with logs holding many tasks).
    format : str
        "auto" (default): a long table by its extension, or an evaluation log (file or folder)
        sniffed by :func:`riskbench.io.sniff`; "table" forces a long table; a name of
        ``riskbench.io.FORMATS`` (lm_eval, helm, inspect, alpaca_eval, pairwise, eee) reads
        that log format. Logs come with ``notes`` on the table (averaged repeats, failed
        aggregate checks).

    Returns
    -------
    ScoreTable

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
    if format != "auto" and format != "table":
        from riskbench.io import FORMATS

        if format not in FORMATS:
            raise InputError(f"format must be 'auto', 'table' or one of {', '.join(FORMATS)}; "
                             f"got {format!r}")
    raw = _load(source, format)
    frame = raw.frame
    name = raw.name
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
        fixes = " or ".join(f"{role}='<column>' (CLI: --{role}-col)" for role, _ in missing)
        raise InputError(
            f"{name}: missing column(s) {', '.join(repr(c) for _, c in missing)}; the file has "
            f"columns {', '.join(repr(c) for c in columns)}. Name the right column(s) with {fixes}"
        )

    models = _id_column(raw, model, "model")
    items = _id_column(raw, item, "item")
    metric_ids = (pd.Series([value] * len(frame)) if single_metric
                  else _id_column(raw, metric, "metric"))
    values, bad = _values(raw, value)
    if bad.size:
        examples = ", ".join(f"{raw.where(int(i))} ({frame[value].iloc[i]!r})"
                             for i in bad[:_SHOWN])
        more = f" and {bad.size - _SHOWN} more" if bad.size > _SHOWN else ""
        raise InputError(
            f"{name}: field {value!r} is not a number at {examples}{more}; fix those values or "
            "remove the rows"
        )
    keep = np.ones(len(frame), dtype=bool)
    invalid = ~np.isfinite(values)
    dropped_rows = 0
    if invalid.any():
        pos = np.flatnonzero(invalid)
        if on_missing == "error":
            raise InputError(
                f"{name}: field {value!r} has {pos.size} missing, NaN or infinite value(s) at "
                f"{_rows(raw, pos)}; fix them, or drop those rows with on_missing='drop' "
                "(CLI: --on-missing drop)"
            )
        keep &= ~invalid
        dropped_rows = int(pos.size)
        warnings.warn(f"{name}: dropped {pos.size} row(s) with missing, NaN or infinite "
                      f"{value!r} ({_rows(raw, pos)})", DataWarning, stacklevel=2)

    long = pd.DataFrame({"model": models.to_numpy(), "item": items.to_numpy(),
                         "metric": metric_ids.to_numpy(), "value": values})
    if repeat is not None:
        long["repeat"] = _id_column(raw, repeat, "repeat").to_numpy()
    clusters_col = None if cluster is None else _id_column(raw, cluster, "cluster").to_numpy()
    if metrics is not None:
        wanted_metrics = [str(m) for m in metrics]
        unknown = sorted(set(wanted_metrics) - set(long["metric"]))
        if unknown:
            raise InputError(
                f"{name}: no metric(s) {', '.join(map(repr, unknown))}; the file has: "
                f"{', '.join(sorted(long['metric'].unique())[:20])}"
            )
        keep &= long["metric"].isin(wanted_metrics).to_numpy()
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
            f"{_rows(raw, positions[same])} all give ({first['model']!r}, {first['item']!r}, "
            f"{first['metric']!r}); keep one row per model, item and metric, or name the column "
            "that tells repeated generations apart with repeat= (CLI: --repeat-col)"
        )
    item_clusters = None
    if clusters_col is not None:
        item_clusters = _clusters_of_items(long["item"].to_numpy(), clusters_col, raw,
                                           positions)
    notes = list(raw.notes)
    if repeat is not None:
        if repeats not in ("mean", "two-stage"):
            raise InputError(f"repeats must be 'mean' or 'two-stage'; got {repeats!r}")
        if repeats == "mean":
            per = long.groupby(["model", "item", "metric"]).size()
            long = long.groupby(["model", "item", "metric"], as_index=False, sort=False)[
                "value"].mean()
            notes.append(f"repeated generations averaged per item first ({per.min()} to "
                         f"{per.max()} per item); repeats='two-stage' resamples them instead")
        else:
            notes.append("repeated generations kept: the bootstrap resamples items, then "
                         "generations within each drawn item")

    if higher_is_better is None and raw.directions:
        higher_is_better = {m: d for m, d in raw.directions.items()
                            if m in set(long["metric"])}
    directions = _directions(higher_is_better, sorted(long["metric"].unique()), name)
    all_models = sorted(long["model"].unique())
    dropped_items: dict[str, int] = {}
    parts = []
    for met, sub in long.groupby("metric", sort=True):
        met_models = sorted(sub["model"].unique())
        if len(met_models) < 2:
            raise InputError(
                f"{name}: metric {met!r} has scores for only one model ({met_models[0]!r}); "
                "a comparison needs at least two: add another model's scores, or keep other "
                "metrics with metrics=[...] (CLI: --metric)"
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
            parts.append(sub)
            continue
        per_model = sub.groupby("model")["item"].agg(set)
        common = set.intersection(*per_model.tolist())
        if align == "none":
            parts.append(sub)
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
                f"Pass align='intersect' (CLI: --align intersect) to keep the {len(common)} "
                "items common to all models, or align='none' with design='independent'"
            )
        if not common:
            raise InputError(f"{name}: no item of metric {met!r} is scored for every model; "
                             "align='intersect' would leave nothing")
        dropped_items[met] = int(all_items.size - len(common))
        warnings.warn(
            f"{name}: metric {met!r}: kept the {len(common)} items common to all models, "
            f"dropped {dropped_items[met]} item(s) not scored for every model",
            DataWarning,
            stacklevel=2,
        )
        parts.append(sub[sub["item"].isin(common)])
    result = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    result = result.sort_values([c for c in ("metric", "model", "item", "repeat")
                                 if c in result.columns], kind="stable").reset_index(drop=True)
    checksum = raw.checksum or hashlib.sha256(  # a DataFrame: the content itself
        result.to_csv(index=False).encode()).hexdigest()
    return ScoreTable(result, directions, name, checksum, dropped_items, dropped_rows, align,
                      tuple(notes), item_clusters)


def _clusters_of_items(items: np.ndarray, clusters: np.ndarray, raw: _Raw,
                       positions: np.ndarray) -> dict[str, str]:
    """Map each item to its cluster; an item in two clusters is an error naming both rows."""
    mapping: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for row, (item, cl) in enumerate(zip(items, clusters, strict=True)):
        known = mapping.setdefault(item, cl)
        first_row.setdefault(item, row)
        if known != cl:
            raise InputError(
                f"{raw.name}: item {item!r} is in cluster {known!r} at "
                f"{raw.where(int(positions[first_row[item]]))} but in {cl!r} at "
                f"{raw.where(int(positions[row]))}; an item belongs to one cluster"
            )
    return mapping


def _directions(spec: object, metrics: list[str], name: str) -> dict[str, bool]:
    if spec is None:
        return dict.fromkeys(metrics, True)
    if isinstance(spec, bool):
        return dict.fromkeys(metrics, spec)
    if isinstance(spec, Mapping):
        unknown = [m for m in spec if m not in metrics]
        if unknown:
            raise InputError(
                f"{name}: higher_is_better names metric(s) {', '.join(map(repr, unknown))} not in "
                f"the table (metrics: {', '.join(metrics)})"
            )
        for m, v in spec.items():
            if not isinstance(v, bool | np.bool_):
                raise InputError(f"higher_is_better[{m!r}] must be True or False; got {v!r}")
        return {m: bool(spec.get(m, True)) for m in metrics}
    raise InputError(
        f"higher_is_better must be None, True/False or a mapping {{metric: bool}}; got {spec!r}"
    )


def write_scores(table: ScoreTable, path: str | Path) -> Path:
    """Write a ScoreTable as a long table (CSV, CSV.gz, JSONL or Parquet), atomically.

    The file appears complete or not at all (written next to its destination, then renamed).
    Parquet files also record each metric's direction, which :func:`read_scores` reads back;
    for CSV and JSONL pass the directions again when reading (``higher_is_better=`` or
    ``--lower-is-better``).
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix not in (".csv", ".csv.gz", ".parquet", ".pq", ".jsonl"):
        raise InputError(f"{path}: cannot write {suffix or 'a file without extension'}; use "
                         ".parquet (keeps metric directions), .csv, .csv.gz or .jsonl")
    frame = table.to_frame()
    with atomic_path(path) as tmp:
        if suffix in (".parquet", ".pq"):
            import pyarrow as pa
            import pyarrow.parquet as pq

            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            meta = dict(arrow.schema.metadata or {})
            meta[_META_KEY] = json.dumps({"higher_is_better": table.higher_is_better}).encode()
            pq.write_table(arrow.replace_schema_metadata(meta), tmp)
        elif suffix == ".jsonl":
            frame.to_json(tmp, orient="records", lines=True)
        else:
            frame.to_csv(tmp, index=False, compression="gzip" if suffix.endswith(".gz")
                         else None)
    return path
