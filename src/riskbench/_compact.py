"""Compact reading of large long tables (issue 15: 10^7 rows in bounded memory).

A CSV/TSV (also gzipped) or Parquet long table is streamed in blocks through pyarrow: model,
item and metric ids become integer codes as each block arrives (a dictionary per block mapped
onto one growing code book), values are parsed block by block with the same parser as the
whole-frame path (:func:`riskbench.table.parse_values`, element by element), and the validated
table is held as categorical columns plus one float64 column: about 14 bytes per row instead
of a frame of strings and its validation copies (about 400 bytes per row).

Only clean tables take this path. Anything the whole-frame path would report, warn about or
drop (a value that is not a number, NaN, an empty id, duplicated keys, a model without an
item, fewer than two models, infinite values to rank or refuse, a parse error of any kind,
options this path does not cover: clusters, repeats, renames, JSON Lines, logs) makes
:func:`read_compact` return ``None``, and :func:`riskbench.table.read_scores` reads the file
again the whole-frame way, so every message, warning and skip count is exactly today's.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from riskbench import _limits
from riskbench._provenance import ReadSummary, Skip, merge_skips

#: values at or beyond 2^53 in magnitude: an integer text there may parse differently by
#: itself than in a column with decimals, so such tables go the whole-frame way
_EXACT_INT = 2.0 ** 53
_BLOCK = 8 << 20  # bytes of CSV per parsed block
_BATCH = 1 << 18  # Parquet rows per batch


class _Fallback(Exception):
    """The table needs the whole-frame path (it reports, warns or drops something)."""


def read_compact(source: object, *, format: str, model: str, item: str, metric: str,
                 value: str, higher_is_better: object, align: str, on_infinite: str,
                 metrics: str | Sequence[str] | None, model_names: Mapping[str, str] | None,
                 cluster: str | None, repeat: str | None):
    """The validated :class:`~riskbench.table.ScoreTable` of a clean long-table file, or
    ``None`` when the whole-frame path must read it (see the module notes)."""
    from riskbench import table as t

    path = _eligible(source, format, model_names, cluster, repeat)
    if path is None:
        return None
    name = str(source[0] if isinstance(source, list | tuple) else source)
    try:
        blocks, stated, (header, used) = _stream(path, name, model=model, item=item,
                                                 metric=metric, value=value)
        (model_c, item_c, metric_c), books, values = _encode(blocks)
        _check_values(values, on_infinite)
    except _Fallback:
        return None
    except Exception:  # noqa: BLE001 - the whole-frame path gives the message
        return None
    model_book, item_book, metric_book = books
    del blocks
    # metric selection (the whole-frame path does it after validating every row, as here)
    skips: list[Skip] = t.unused_columns(header, used, name)
    available = sorted(metric_book)
    if metrics is not None:
        chosen = set(t.match_metrics(metrics, available, name))
        counts = np.bincount(metric_c, minlength=len(metric_book))
        for met in available:
            n = int(counts[metric_book[met]])
            if met not in chosen and n:
                skips.append(Skip("metric not selected", met, n, "values", name))
        by_code = sorted(metric_book, key=metric_book.get)  # names in code order
        keep = np.array([m in chosen for m in by_code])[metric_c]
        if not keep.all():
            model_c, item_c, metric_c, values = (model_c[keep], item_c[keep], metric_c[keep],
                                                 values[keep])
        del keep
        table_metrics = [m for m in available if m in chosen]
    else:
        table_metrics = available
    models = sorted(model_book)
    items = sorted(item_book)
    try:
        blocks_out = _grid(model_c, item_c, metric_c, values, model_book, item_book,
                           metric_book, models, items, table_metrics)
    except _Fallback:
        return None
    del model_c, item_c, metric_c, values
    raw = t._Raw(pd.DataFrame(), name, lambda i: f"row {i + 1}", None, stated,
                 files=(name,), formats=("table",))
    stated_all = t._directions(higher_is_better, [raw], table_metrics, name, available)
    directions = {m: d for m, (d, _) in stated_all.items()}
    t._name_assumed(stated_all)
    frame, n_items = _frame(blocks_out, models, items, table_metrics)
    notes: list[str] = []
    vals = frame["value"].to_numpy()
    inf_rows = np.isinf(vals)
    infinite: dict[str, int] = {}
    if inf_rows.any():  # same order as the whole-frame path: value_counts of the sorted rows
        names = np.asarray(table_metrics, dtype=object)[
            frame["metric"].cat.codes.to_numpy()[inf_rows]]
        infinite = {m: int(n) for m, n in pd.Series(names, dtype=object).value_counts().items()}
        notes.append(t._kept_infinite_note(infinite))
    _release_memory()
    summary = ReadSummary(sources=(name,), formats=("table",), files=(name,),
                          models=tuple(models), metrics=tuple(sorted(directions)),
                          items=n_items, rows=len(frame), skipped=merge_skips(skips),
                          directions=stated_all)
    table = t.ScoreTable(frame, directions, name, t._sha256(path), {}, 0, align,
                         tuple(dict.fromkeys(notes)), None, read=summary, infinite=infinite,
                         ranked=(), _texts=None, _metric_tasks={})
    # the samples of each metric, as ScoreTable._build_samples makes them, but for
    # higher-is-better metrics without a copy: their rows are views of the frame's values
    from riskbench._samples import Samples

    cache = t._SAMPLES.setdefault(table, {})
    for met, (names, grid) in zip(table_metrics, blocks_out, strict=True):
        values = grid if directions[met] else grid * -1.0
        rows = tuple(values)
        for row in rows:
            row.flags.writeable = False
        cache[met] = Samples(tuple(models), rows, True, met, directions[met], names, None)
    return table


def _eligible(source: object, format: str, model_names: object, cluster: object,
              repeat: object) -> Path | None:
    from riskbench import table as t

    if isinstance(source, list | tuple):
        if len(source) != 1:
            return None
        source = source[0]
    if not isinstance(source, str | Path) or format not in ("auto", "table"):
        return None
    if model_names or cluster is not None or repeat is not None:
        return None
    path = Path(source)
    try:
        if not path.is_file():
            return None
        _limits.check_regular(path)
        if t._suffix(path) not in (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".pq"):
            return None
        if t._is_log(path, format):
            return None
    except Exception:  # noqa: BLE001 - the whole-frame path gives the message
        return None
    return path


def _roles(columns: list[str], *, model: str, item: str, metric: str,
           value: str) -> tuple[str, str, str | None, str]:
    """The columns of each role, as the whole-frame path resolves them (``None``: one metric
    named after the value column)."""
    if item == "sample_id" and "sample_id" not in columns and "item" in columns:
        item = "item"
    single = metric == "metric" and "metric" not in columns
    if single and value == "value" and "value" not in columns:
        raise _Fallback  # a wide table (one column per metric), or missing columns
    wanted = [model, item, value] + ([] if single else [metric])
    if any(c not in columns for c in wanted) or len(set(wanted)) != len(wanted):
        raise _Fallback
    return model, item, None if single else metric, value


def _stream(path: Path, name: str, **cols: str) -> tuple[Iterator, dict, tuple[list, list]]:
    """Blocks of ``(model, item, metric, value)`` columns: pyarrow arrays, ids dictionary
    encoded; the directions the file records; and the file's columns with those it reads."""
    from riskbench import table as t

    suffix = t._suffix(path)
    if suffix in (".parquet", ".pq"):
        return _parquet_blocks(path, name, **cols)
    blocks, header = _csv_blocks(path, name, "\t" if suffix.startswith(".tsv") else ",", **cols)
    return blocks, {}, header


def _csv_blocks(path: Path, name: str, sep: str, **cols: str) -> tuple[Iterator, tuple]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    _limits.check_columns(path, sep=sep, label=name)
    limits = _limits.current_limits()
    with _limits.open_input(path, lines=True, label=name) as fh:
        line = fh.readline(limits.max_line + 1)
    header = [str(c) for c in pd.read_csv(io.BytesIO(line), sep=sep, dtype=str,
                                          keep_default_na=False, na_filter=False,
                                          nrows=0).columns]
    if len(set(header)) != len(header):
        raise _Fallback
    model, item, metric, value = _roles(header, **cols)
    ids = [model, item] + ([metric] if metric else [])
    types = {c: pa.string() for c in header}
    types.update({c: pa.dictionary(pa.int32(), pa.string()) for c in ids})
    convert = pacsv.ConvertOptions(column_types=types, include_columns=[*ids, value],
                                   strings_can_be_null=False,
                                   quoted_strings_can_be_null=False)
    parse = pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True,
                               escape_char=False, newlines_in_values=True,
                               ignore_empty_lines=True)

    def blocks() -> Iterator:
        with _limits.open_input(path, lines=True, label=name) as fh:
            reader = pacsv.open_csv(fh, read_options=pacsv.ReadOptions(block_size=_BLOCK),
                                    parse_options=parse, convert_options=convert)
            if reader.schema.names != [*ids, value]:
                raise _Fallback
            for batch in reader:
                yield (batch.column(0), batch.column(1),
                       batch.column(2) if metric else value, batch.column(len(ids)))

    return blocks(), (header, [*ids, value])


def _parquet_blocks(path: Path, name: str, **cols: str) -> tuple[Iterator, dict, tuple]:
    import pyarrow.parquet as pq
    import pyarrow.types as pt

    from riskbench import table as t

    _limits.check_parquet(path, label=name)
    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    meta = schema.pandas_metadata or {}
    if any(not isinstance(c, dict) for c in meta.get("index_columns", [])):
        raise _Fallback  # a stored index: pandas would not read it as a column
    header = [str(c) for c in schema.names]
    if len(set(header)) != len(header):
        raise _Fallback
    model, item, metric, value = _roles(header, **cols)
    ids = [model, item] + ([metric] if metric else [])
    for c in ids:
        typ = schema.field(c).type
        if pt.is_dictionary(typ):
            typ = typ.value_type
        if not (pt.is_string(typ) or pt.is_large_string(typ) or pt.is_integer(typ)):
            raise _Fallback  # float ids: integer-valued ones are renamed per whole column
    vtype = schema.field(value).type
    if not (pt.is_floating(vtype) or pt.is_integer(vtype) or pt.is_boolean(vtype)):
        raise _Fallback
    recorded = t._recorded_directions(path) or {}
    stated = {m: (d, "recorded in the Parquet file") for m, d in recorded.items()}

    def blocks() -> Iterator:
        for batch in pf.iter_batches(batch_size=_BATCH, columns=[*ids, value]):
            arrays = [batch.column(i) for i in range(len(ids) + 1)]
            if any(a.null_count for a in arrays):
                raise _Fallback
            enc = [a if pt.is_dictionary(a.type) else a.dictionary_encode() for a in arrays[:-1]]
            yield (enc[0], enc[1], enc[2] if metric else value, arrays[-1])

    return blocks(), stated, (header, [*ids, value])


def _encode(blocks: Iterator) -> tuple[tuple, tuple, np.ndarray]:
    """Integer codes of model, item and metric per row (first-seen order), their code books
    ``{id: code}``, and the values."""
    books: tuple[dict, dict, dict] = ({}, {}, {})
    parts: tuple[list, list, list] = ([], [], [])
    values = []
    from riskbench.table import parse_values

    for *ids, vals in blocks:
        n = len(vals)
        for role, arr in enumerate(ids):
            book = books[role]
            if isinstance(arr, str):  # one metric, named after the value column
                parts[role].append(np.full(n, book.setdefault(arr, len(book)), np.int32))
                continue
            local = np.empty(len(arr.dictionary), dtype=np.int32)
            for j, raw in enumerate(arr.dictionary.to_pylist()):
                text = str(raw).strip()
                if not text:
                    raise _Fallback  # an empty id: reported by the whole-frame path
                local[j] = book.setdefault(text, len(book))
            parts[role].append(local[arr.indices.to_numpy(zero_copy_only=False)])
        if hasattr(vals, "type") and not _is_text(vals):
            v = np.asarray(vals.to_numpy(zero_copy_only=False), dtype=np.float64)
        else:
            v, bad = parse_values(vals.to_pandas())
            if bad.size:
                raise _Fallback
        values.append(v)
    if not values or not sum(len(v) for v in values):
        raise _Fallback
    codes = []
    for p in parts:  # one role at a time, its blocks freed as soon as they are joined
        codes.append(np.concatenate(p))
        p.clear()
    joined = np.concatenate(values)
    values.clear()
    return tuple(codes), books, joined


def _is_text(arr) -> bool:
    import pyarrow.types as pt

    return pt.is_string(arr.type) or pt.is_large_string(arr.type)


def _check_values(values: np.ndarray, on_infinite: str) -> None:
    if np.isnan(values).any():
        raise _Fallback  # missing values: an error or dropped rows, said by the whole path
    finite = np.isfinite(values)
    if (np.abs(values[finite]) >= _EXACT_INT).any():
        raise _Fallback
    if on_infinite != "keep" and not finite.all():
        raise _Fallback


def _grid(model_c, item_c, metric_c, values, model_book, item_book, metric_book, models,
          items, table_metrics) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per metric, its item codes (in name order) and the (models, items) values; raises
    :class:`_Fallback` unless every model has exactly one value of every item of the metric.
    """
    k = len(models)
    if k < 2:
        raise _Fallback
    model_rank = _ranks(model_book, models)  # first-seen code -> position in name order
    item_rank = _ranks(item_book, items)
    out = []
    for met in table_metrics:
        if len(metric_book) == 1:  # one metric: no row copies
            mc, ic, v = model_rank[model_c], item_rank[item_c], values
        else:
            rows = metric_c == metric_book[met]
            mc, ic, v = model_rank[model_c[rows]], item_rank[item_c[rows]], values[rows]
            del rows
        used = np.flatnonzero(np.bincount(ic, minlength=len(items)))  # in name order
        n = used.size
        if mc.size != k * n:
            raise _Fallback  # a missing or duplicated (model, item)
        key = mc.astype(np.int64)
        key *= n
        if n == len(items):  # every item: its position is its code
            key += ic
        else:
            key += np.searchsorted(used, ic)
        del mc, ic
        if (np.bincount(key, minlength=k * n) != 1).any():
            raise _Fallback
        grid = np.empty(k * n)
        grid[key] = v
        out.append((used, grid.reshape(k, n)))
    return out


def _ranks(book: dict, names: list[str]) -> np.ndarray:
    rank = np.empty(len(book), dtype=np.int32)
    for position, nm in enumerate(names):
        rank[book[nm]] = position
    return rank


def _frame(blocks, models, items, table_metrics) -> tuple[pd.DataFrame, dict[str, int]]:
    """The long table by metric, model and item in natural order (the order of the samples,
    so that a metric's values are its samples' rows; ``to_frame`` sorts items by name as the
    whole-frame path does), with categorical ids. ``blocks`` become ``(item ids in natural
    order, (models, items) values)`` per metric, the values a view of the frame's column
    when there is one metric."""
    from riskbench.table import _natural_order

    k = len(models)
    model_codes, item_codes, metric_codes, values = [], [], [], []
    for j, (used, grid) in enumerate(blocks):
        n = used.size
        names = [items[c] for c in used]
        where = {name: t for t, name in enumerate(names)}
        natural = _natural_order(names)
        order = np.array([where[name] for name in natural], dtype=np.int64)
        if not np.array_equal(order, np.arange(n)):
            grid = grid[:, order]
        used = used[order]
        model_codes.append(np.repeat(np.arange(k, dtype=_int(k)), n))
        item_codes.append(np.tile(used.astype(_int(len(items))), k))
        metric_codes.append(np.full(k * n, j, dtype=_int(len(table_metrics))))
        values.append(grid.reshape(-1))
        blocks[j] = (tuple(natural), grid)
    def join(arrays: list[np.ndarray]) -> np.ndarray:
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)

    frame = pd.DataFrame({
        "model": pd.Categorical.from_codes(join(model_codes), categories=models),
        "item": pd.Categorical.from_codes(join(item_codes), categories=items),
        "metric": pd.Categorical.from_codes(join(metric_codes), categories=table_metrics),
        "value": join(values)}, copy=False)
    del values
    # the samples' rows are to be views of the frame's own column (pandas may have copied)
    column = frame["value"].to_numpy()
    start = 0
    for j, (names, grid) in enumerate(blocks):
        blocks[j] = (names, column[start:start + grid.size].reshape(grid.shape))
        start += grid.size
    return frame, {m: len(b[0]) for m, b in zip(table_metrics, blocks, strict=True)}


def _int(n: int) -> type:
    return np.int8 if n < 127 else np.int16 if n < 32_767 else np.int32


def _release_memory() -> None:
    """Hand the memory the read freed back to the system: pyarrow's pool keeps freed blocks,
    and glibc keeps freed heap chunks below its mmap threshold (the blocks' strings and
    dictionaries: about 140 MB after 10^7 rows) where later arrays cannot always reuse them."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - only memory is at stake
        pass
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
