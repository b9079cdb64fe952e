"""Shared machinery of the log readers: result types, the record sink, field specs, JSON loading.

Every reader turns a tool's native records into rows ``(model, item, metric, value)`` plus context
columns, through one :class:`Sink`. The sink owns the policy that all formats share:

1. a bad record raises :class:`~riskbench.errors.InputError` (``strict=True``) or is skipped and
   listed as a :class:`RecordError` (``strict=False``);
2. values are floats: finite, or +/-infinity where a harness wrote one (the worst or best
   outcome, kept: see ``read_scores(on_infinite=)``), never NaN;
3. when one model has the same metric in several runs (two lm-eval runs of one task, two Inspect
   logs), each run becomes its own model, labelled ``"<model>@<run>"``, because averaging runs
   with different prompts or configs would invent a system nobody ran;
4. several records of one (model, item, metric) inside a run (epochs, trials, repeated lines) are
   averaged per item, ``repeats`` counts them, and a note says so;
5. everything left out (a bookkeeping stat, a corpus-level metric, a bad record with
   ``strict=False``, a file no reader claims) is a :class:`~riskbench._provenance.Skip` with its
   reason, so that :attr:`LogRead.summary` accounts for it;
6. prompt and response texts, where a log has them, are kept apart from the numbers
   (:attr:`LogRead.texts`), each cut to :data:`TEXT_CHARS` characters and all of them to
   :data:`TEXT_BUDGET` characters per read.
"""

from __future__ import annotations

import dataclasses
import json
import math
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from riskbench import _limits
from riskbench._provenance import ReadSummary, Skip, directions_of, merge_skips
from riskbench.errors import InputError, LimitError, option_hint

__all__ = ["AggregateCheck", "COLUMNS", "COUNT_PREFIXES", "Field", "LogRead", "MISSING", "Peek",
           "RecordError", "Sink", "TEXT_BUDGET", "TEXT_CHARS", "TEXT_COLUMNS"]

COLUMNS = ("model", "item", "metric", "value", "task", "filter", "split", "run", "repeats",
           "source_file")
_TOLERANCE = 1e-9  # reported aggregates are written at full double precision by every tool here
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "an integer",
               float: "a number", bool: "true/false", type(None): "null"}
_MAX_DEPTH_TEXT = "about 1,000 levels; real logs nest fewer than 20"
_SKIP_HINT = option_hint("pass strict=False to skip bad records and list them in LogRead.errors",
                         "pass --lenient to skip bad records; the read summary counts them")
BAD_RECORD = "bad record, skipped (lenient read)"
TEXT_COLUMNS = ("model", "item", "task", "run", "prompt", "response", "reference",
                "source_file")
#: Characters kept of each prompt or response (the rest is cut, and the cut is counted).
TEXT_CHARS = 4000
#: Characters of text kept per read in all (later texts are left out, and counted).
TEXT_BUDGET = 40_000_000
#: Name prefixes of counts a harness logs beside the scores (``num_instructions``,
#: ``num_output_tokens``, ``max_num_output_tokens``): bookkeeping, not scores, so the readers
#: leave them out (counted in the read summary, with the reason).
COUNT_PREFIXES = ("num_", "max_num_")


@dataclass(frozen=True)
class RecordError:
    """A record that could not be used: where it is, which field, what is wrong and the fix.

    Attributes
    ----------
    file : str
        The file (or ``archive.eval:member.json``) holding the record.
    line : int or str
        Line number (1-based) for line-oriented files, else a record index or JSON path.
    field : str
        The field at fault; empty for file-level problems (unreadable, not JSON).
    message : str
        What is wrong and how to fix it.
    """

    file: str
    line: int | str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if isinstance(self.line, int) else str(self.line)
        field = f", field {self.field!r}" if self.field else ""
        return f"{self.file}: {where}{field}: {self.message}"


@dataclass(frozen=True)
class AggregateCheck:
    """An aggregate the tool reported, recomputed from the per-item values that were read.

    Attributes
    ----------
    file : str
        The file that reported the aggregate.
    metric : str
        The riskbench metric name the aggregate belongs to.
    reported, recomputed : float
        The tool's number and the mean of the per-item values.
    matched : bool
        Whether they agree to 1e-9.
    """

    file: str
    metric: str
    reported: float
    recomputed: float
    matched: bool


@dataclass(frozen=True, eq=False)
class LogRead:
    """What :func:`riskbench.io.read_log` read.

    Attributes
    ----------
    frame : pandas.DataFrame
        Columns ``model, item, metric, value`` and the context columns ``task, filter, split,
        run, repeats, source_file`` (``None`` where a format has no such notion).
    errors : tuple of RecordError
        Records skipped with ``strict=False``.
    checks : tuple of AggregateCheck
        The tool's own aggregates recomputed from the per-item values.
    notes : tuple of str
        Choices the reader made: scalarisation, averaging of repeats, runs told apart, skips.
    higher_is_better : dict
        ``{metric: bool}`` where the harness's own metadata states the direction (HELM's
        ``schema.json``, lm-eval's ``higher_is_better``, EEE's ``lower_is_better``); metrics
        the log says nothing about are absent.
    direction_source : dict
        ``{metric: what stated it}`` for the metrics of ``higher_is_better``.
    skipped : tuple of Skip
        Everything left out, with its reason (bad records with ``strict=False`` included).
    files : tuple of str
        The files whose content was used.
    texts : pandas.DataFrame
        Prompt and response per ``(model, item, task)`` where the log has them (columns
        :data:`TEXT_COLUMNS`); ``task`` matches the ``task`` column of ``frame``. Not numbers:
        for a report's drill-down into the worst items.
    format : str
        The format read.
    """

    frame: pd.DataFrame
    errors: tuple[RecordError, ...]
    checks: tuple[AggregateCheck, ...]
    notes: tuple[str, ...]
    higher_is_better: dict[str, bool] = dataclasses.field(default_factory=dict)
    direction_source: dict[str, str] = dataclasses.field(default_factory=dict)
    skipped: tuple[Skip, ...] = ()
    files: tuple[str, ...] = ()
    texts: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=list(TEXT_COLUMNS)))
    format: str = ""
    source: str = ""

    @property
    def summary(self) -> ReadSummary:
        """What was read and what was left out (see :class:`riskbench._provenance.ReadSummary`)."""
        frame = self.frame
        metrics = tuple(sorted(frame["metric"].unique())) if len(frame) else ()
        items = ({m: int(n) for m, n in frame.groupby("metric")["item"].nunique().items()}
                 if len(frame) else {})
        stated = {m: (d, self.direction_source.get(m, "the log"))
                  for m, d in self.higher_is_better.items()}
        return ReadSummary(
            sources=(self.source,), formats=(self.format,), files=self.files,
            models=tuple(sorted(frame["model"].unique())) if len(frame) else (),
            metrics=metrics, items=items, rows=len(frame), skipped=self.skipped,
            directions=directions_of(stated, metrics))


@dataclass(frozen=True)
class Field:
    """One field of a record spec: where it is, the JSON types it may have, and the fix.

    ``path`` is dotted for nested objects (``"eval.model"``). ``int`` never accepts booleans;
    ``float`` accepts integers. ``choices``, when given, lists the allowed values.
    """

    path: str
    types: tuple[type, ...]
    required: bool = True
    fix: str = "check that the file was written by the tool and not edited"
    choices: tuple[object, ...] | None = None


MISSING = object()  # a lookup that found nothing (JSON null is None)


class Sink:
    """Collects rows, record errors, aggregate checks and notes while the readers run."""

    def __init__(self, *, strict: bool, logprobs: bool = False, texts: bool = True) -> None:
        self.strict = strict
        self.logprobs = logprobs  # read log-probability stats as scores (HELM)
        self.keep_texts = texts
        self.rows: list[dict[str, object]] = []
        self.errors: list[RecordError] = []
        self.checks: list[AggregateCheck] = []
        self.notes: list[str] = []
        self.skips: list[Skip] = []
        self.files: dict[str, None] = {}  # ordered set
        self.directions: dict[str, tuple[bool, str]] = {}
        self.texts: list[tuple[object, ...]] = []
        self._text_chars = 0
        self._texts_cut = 0
        self._texts_over = 0

    def error(self, file: object, line: int | str, field: str, message: str) -> None:
        """Report a bad record or file: raise when strict, else remember it."""
        err = RecordError(str(file), line, field, message)
        if self.strict:
            raise InputError(f"{err}; or {_SKIP_HINT}")
        self.errors.append(err)

    def skip(self, reason: str, name: str, count: int = 1, *, unit: str = "values",
             where: object = "") -> None:
        """Leave something out, with the reason: it is counted in the read summary."""
        self.skips.append(Skip(reason, str(name), int(count), unit, str(where)))

    def used(self, path: object) -> None:
        """A file whose content the read used."""
        self.files[str(path)] = None

    def direction(self, metric: str, higher_is_better: bool, stated_by: str) -> None:
        """The direction of a metric as the harness's own metadata states it."""
        self.directions.setdefault(metric, (bool(higher_is_better), stated_by))

    def text(self, *, model: str, item: str, task: str | None, run: str,
             prompt: object, response: object, source_file: object,
             reference: object = None) -> None:
        """Keep a prompt, a response and the reference answer (strings, or ``None`` where the
        log has none)."""
        if not self.keep_texts:
            return
        prompt, response, reference = _text(prompt), _text(response), _text(reference)
        if prompt is None and response is None:
            return
        size = sum(len(t) for t in (prompt, response, reference) if t is not None)
        if self._text_chars + size > TEXT_BUDGET:
            self._texts_over += 1
            return
        cut = []
        for t in (prompt, response, reference):
            if t is not None and len(t) > TEXT_CHARS:
                self._texts_cut += 1
                t = t[:TEXT_CHARS] + " [...]"
            cut.append(t)
        self._text_chars += sum(len(t) for t in cut if t is not None)
        self.texts.append((model, item, task, run, cut[0], cut[1], cut[2], str(source_file)))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def check(self, file: object, metric: str, reported: float, recomputed: float) -> None:
        matched = math.isclose(reported, recomputed, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)
        self.checks.append(AggregateCheck(str(file), metric, reported, recomputed, matched))
        if not matched:
            self.note(f"{file}: {metric}: the tool reported {reported:.6g} but the per-item "
                      f"values average {recomputed:.6g}; the records do not reproduce the "
                      "aggregate (a trimmed file, a non-mean aggregation, or re-derived scores)")

    def add(self, *, model: str, item: str, metric: str, value: float, run: str,
            source_file: object, task: str | None = None, filter: str | None = None,
            split: str | None = None, repeats: int = 1) -> None:
        """Add one per-item value; ``value`` must already be a finite float.

        ``repeats`` > 1 says the value already summarises that many records.
        """
        self.rows.append({"model": model, "item": item, "metric": metric, "value": value,
                          "task": task, "filter": filter, "split": split, "run": run,
                          "repeats": repeats, "source_file": str(source_file)})

    def pick(self, record: object, fields: Sequence[Field], *, file: object,
             line: int | str) -> dict[str, object] | None:
        """Validate ``record`` against a field spec.

        Returns ``{path: value}`` (``None`` for absent optional fields), or ``None`` after
        reporting the first bad field.
        """
        if not isinstance(record, dict):
            self.error(file, line, "", f"is {json_type(record)}, not an object; each record "
                       "must be a JSON object")
            return None
        out: dict[str, object] = {}
        for spec in fields:
            value = lookup(record, spec.path)
            if value is MISSING or (value is None and type(None) not in spec.types):
                if spec.required:
                    self.error(file, line, spec.path, f"is missing or null; {spec.fix}")
                    return None
                out[spec.path] = None
                continue
            if not is_json_type(value, spec.types):
                wanted = " or ".join(_JSON_TYPES[t] for t in spec.types)
                self.error(file, line, spec.path,
                           f"must be {wanted}, got {json_type(value)} {short(value)}; {spec.fix}")
                return None
            if spec.choices is not None and value not in spec.choices:
                self.error(file, line, spec.path, f"is {value!r}; it must be one of "
                           f"{', '.join(map(repr, spec.choices))}")
                return None
            out[spec.path] = value
        return out

    def result(self, source: object, format: str = "") -> LogRead:
        """Relabel runs, average repeats and freeze everything into a :class:`LogRead`."""
        frame = pd.DataFrame(self.rows, columns=list(COLUMNS))
        texts = pd.DataFrame(self.texts, columns=list(TEXT_COLUMNS), dtype=object)
        if len(frame):
            frame, texts = self._split_runs(frame, texts)
            frame = self._average_repeats(frame)
        elif not self.errors:
            left = _left_out(self.skips)
            hint = "; ".join(([left] if left else []) + self.notes)
            hint = f" ({hint})" if hint else ""
            raise InputError(f"{source}: found no per-item scores{hint}; point read_log at "
                             "logs written with per-sample output (see riskbench.io.FORMATS)")
        if self._texts_cut:
            self.note(f"{self._texts_cut} prompt or response text(s) longer than {TEXT_CHARS:,} "
                      "characters were cut to that length (kept for the report's drill-down)")
        if self._texts_over:
            self.skip("text over the per-read budget", "prompt/response texts",
                      self._texts_over, unit="records")
        skips = [Skip(BAD_RECORD, str(e), 1, "records", e.file) for e in self.errors]
        metrics = set(frame["metric"])
        directions = {m: d for m, d in self.directions.items() if m in metrics}
        return LogRead(frame, tuple(self.errors), tuple(self.checks), tuple(self.notes),
                       higher_is_better={m: d for m, (d, _) in directions.items()},
                       direction_source={m: by for m, (_, by) in directions.items()},
                       skipped=merge_skips(self.skips + skips), files=tuple(self.files),
                       texts=texts, format=format, source=str(source))

    def _split_runs(self, frame: pd.DataFrame,
                    texts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        runs = frame.groupby(["model", "metric"])["run"].transform("nunique")
        clash = (runs > 1).to_numpy()
        if clash.any():
            frame = frame.copy()
            renamed = set(zip(frame.loc[clash, "model"], frame.loc[clash, "run"], strict=True))
            frame.loc[clash, "model"] = frame.loc[clash, "model"] + "@" + frame.loc[clash, "run"]
            names = sorted(frame.loc[clash, "model"].unique())
            self.note(f"the same model and metric come from several runs, so each run is its own "
                      f"model: {', '.join(names)}")
            if len(texts):
                hit = [(m, r) in renamed for m, r in zip(texts["model"], texts["run"],
                                                         strict=True)]
                texts = texts.copy()
                texts.loc[hit, "model"] = texts.loc[hit, "model"] + "@" + texts.loc[hit, "run"]
        return frame, texts

    def _average_repeats(self, frame: pd.DataFrame) -> pd.DataFrame:
        keys = ["model", "item", "metric"]
        counts = frame.groupby(keys, sort=False)["value"].transform("size")
        if (counts == 1).all():
            return frame.sort_values(["metric", "model", "item"], kind="stable",
                                     ignore_index=True)
        first = {c: "first" for c in COLUMNS if c not in (*keys, "value", "repeats")}
        out = frame.groupby(keys, sort=False, as_index=False, dropna=False).agg(
            value=("value", "mean"), repeats=("repeats", "sum"),
            **{c: (c, how) for c, how in first.items()})
        repeated = out[out["repeats"] > 1]
        self.note(f"{len(repeated)} (model, item, metric) key(s) had several records (epochs, "
                  f"trials or repeated lines, up to {int(repeated['repeats'].max())} each); "
                  "value is their mean per item and column 'repeats' counts them")
        return out[list(COLUMNS)].sort_values(["metric", "model", "item"], kind="stable",
                                              ignore_index=True)


# ----------------------------------------------------------------------------- JSON helpers

def lookup(record: object, path: str) -> object:
    """The value at a dotted path, or ``MISSING``."""
    for key in path.split("."):
        if not isinstance(record, dict) or key not in record:
            return MISSING
        record = record[key]
    return record


def is_json_type(value: object, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def json_type(value: object) -> str:
    for kind, name in _JSON_TYPES.items():
        if type(value) is kind:
            return name
    return type(value).__name__


def short(value: object, width: int = 40) -> str:
    text = repr(value)
    return f"({text[:width]}...)" if len(text) > width else f"({text})"


def to_float(value: object, *, infinite: bool = False) -> float | None:
    """A finite float from a JSON number or boolean, else ``None``; with ``infinite``, JSON's
    ``Infinity`` / ``-Infinity`` are kept as +/-inf (NaN never is)."""
    if not isinstance(value, bool | int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    if math.isfinite(number) or (infinite and not math.isnan(number)):
        return number
    return None


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if value is None or value is MISSING:
        return None
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _left_out(skips: Sequence[Skip]) -> str:
    """A short account of what was left out, for the message of a read that found nothing."""
    if not skips:
        return ""
    by: dict[str, list[str]] = {}
    for s in skips:
        names = by.setdefault(s.reason, [])
        if s.name not in names:
            names.append(s.name)
    parts = [f"{reason}: {', '.join(n[:5])}{' ...' if len(n) > 5 else ''}"
             for reason, n in by.items()]
    return "left out " + "; ".join(parts)


def decode(data: bytes, file: object, sink: Sink) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        sink.error(file, line, "", "is not UTF-8 text; re-save the file as UTF-8")
        return None


def parse_json(text: str, file: object, sink: Sink) -> object:
    """Parse a whole JSON document; on failure report it and return ``MISSING``."""
    try:
        document = json.loads(text)
        if _limits.may_hold_surrogates(text):
            document, changed = _limits.replace_surrogates(document)
            _surrogates_note(file, changed, sink)
        return document
    except json.JSONDecodeError as exc:
        sink.error(file, exc.lineno, "", f"is not valid JSON at column {exc.colno} ({exc.msg}); "
                   "the file is truncated or corrupted: write it again with the tool")
    except RecursionError:
        sink.error(file, 1, "", f"nests JSON arrays or objects too deeply to parse (over "
                   f"{_MAX_DEPTH_TEXT}); write it again with the tool")
    except ValueError as exc:
        sink.error(file, 1, "", f"cannot be parsed as JSON ({exc}); write it again with the tool")
    return MISSING


def load_json(path: Path, sink: Sink) -> object:
    """A JSON file's document, or ``MISSING`` after reporting why it cannot be read."""
    data = read_bytes(path, sink)
    text = None if data is None else decode(data, path, sink)
    return MISSING if text is None else parse_json(text, path, sink)


def read_bytes(path: Path, sink: Sink, *, lines: bool = False) -> bytes | None:
    """A file's bytes under the input limits (riskbench._limits); ``lines`` for line-oriented
    files. A limit passed is an error whatever ``strict`` says: skipping a bomb would hide it.
    """
    try:
        with _limits.open_input(path, lines=lines, gz=False) as fh:
            data = fh.read()
        sink.used(path)
        return data
    except LimitError:
        raise
    except InputError as exc:  # not a regular file, cannot be opened
        message = str(exc).removeprefix(f"{path}: ")
        sink.error(path, 1, "", message)
    except OSError as exc:
        sink.error(path, 1, "", f"cannot be read ({exc.strerror or exc}); check the path and "
                   "permissions")
    return None


def iter_jsonl(path: Path, sink: Sink) -> Iterator[tuple[int, object]]:
    """``(line number, record)`` of a JSON Lines file; bad lines are reported and skipped."""
    data = read_bytes(path, sink, lines=True)
    text = None if data is None else decode(data, path, sink)
    if text is None:
        return
    changed = 0
    # split on "\n" only: JSON strings may hold raw U+2028, which str.splitlines() breaks on
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if _limits.may_hold_surrogates(line):
                record, n = _limits.replace_surrogates(record)
                changed += n
            yield lineno, record
        except json.JSONDecodeError as exc:
            sink.error(path, lineno, "", f"is not valid JSON at column {exc.colno} ({exc.msg}); "
                       "fix or remove that line")
        except RecursionError:
            sink.error(path, lineno, "", f"nests JSON arrays or objects too deeply to parse "
                       f"(over {_MAX_DEPTH_TEXT}); fix or remove that line")
        except ValueError as exc:
            sink.error(path, lineno, "", f"cannot be parsed as JSON ({exc}); fix or remove "
                       "that line")
    _surrogates_note(path, changed, sink)


def _surrogates_note(file: object, changed: int, sink: Sink) -> None:
    if changed:
        sink.note(f"{file}: {changed} string(s) held lone UTF-16 surrogates (\\udXXX escapes "
                  "that are not Unicode text); each was replaced by U+FFFD")


def absent(value: object) -> bool:
    return value is MISSING


def mean(values: Sequence[float]) -> float:
    """Exact mean; +/-inf when an infinite value is there, NaN when both signs are."""
    try:
        return math.fsum(values) / len(values)
    except ValueError:  # -inf + inf
        return math.nan


class Peek:
    """A cheap look at a file for sniffing: its name and first JSON value, never an error.

    ``head`` is the parsed document of a ``.json`` file, the first record of a ``.jsonl`` file,
    the tuple of member names of a zip archive, or ``None`` when none of these can be had.
    """

    _MAX_PARSE = 64 << 20  # bigger JSON documents are sniffed by name and prefix only
    _PREFIX = 1 << 16

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self._head: object = MISSING
        self._prefix: bytes | None = None

    @property
    def prefix(self) -> bytes:
        """The first 64 KiB of the file (empty when it cannot be read)."""
        if self._prefix is None:
            try:
                with _limits.open_input(self.path, gz=False) as fh:
                    self._prefix = fh.read(self._PREFIX)
            except (OSError, InputError):
                self._prefix = b""
        return self._prefix

    @property
    def head(self) -> object:
        if self._head is MISSING:
            self._head = self._look()
        return self._head

    def _look(self) -> object:
        try:
            _limits.check_regular(self.path, folders=False)
            if zipfile.is_zipfile(self.path):
                with zipfile.ZipFile(self.path) as archive:
                    return tuple(archive.namelist())
            if self.path.stat().st_size > self._MAX_PARSE:
                return None
            with _limits.open_input(self.path, gz=False) as fh:
                if self.name.endswith(".jsonl"):
                    line = b""
                    while not line.strip():
                        line = fh.readline()
                        if not line:
                            return None
                    return json.loads(line)
                return json.loads(fh.read())
        except (OSError, ValueError, RecursionError, zipfile.BadZipFile):  # InputError too
            return None

    def keys(self) -> frozenset[str]:
        """Top-level keys of the head object, or of the first element of a head list."""
        head = self.head
        if isinstance(head, list) and head:
            head = head[0]
        return frozenset(head) if isinstance(head, dict) else frozenset()
