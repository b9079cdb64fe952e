"""Readers for the native per-item logs of LLM evaluation tools.

:func:`read_log` turns a log file, or a directory tree of logs, into the long table riskbench
works on (``model, item, metric, value`` plus context columns), the record errors met on the way,
the tool's own aggregates recomputed from the per-item values, and notes on the choices made.
:func:`sniff` says which format a path holds.

=========== ==============================================================================
format      what is read
=========== ==============================================================================
lm_eval     lm-evaluation-harness ``results_<ts>.json`` + ``samples_<task>_<ts>.jsonl``
helm        HELM run folders: ``per_instance_stats.json`` + ``run_spec.json`` (+ ``stats.json``)
inspect     Inspect AI logs: ``.eval`` archives and ``.json`` logs
alpaca_eval AlpacaEval ``annotations.json`` and ``model_outputs.json``
pairwise    FastChat GPT-4 review files (+ answer files) and Chatbot-Arena-style battles
eee         Every Eval Ever aggregate ``<uuid>.json`` + instance ``<uuid>_samples.jsonl``
=========== ==============================================================================

Each format's module documents how it names items and metrics. All readers share the rules of
:mod:`riskbench.io._common`: finite values only, repeated records averaged per item, runs of the
same model and metric told apart as ``"<model>@<run>"``.

>>> from riskbench.io import read_log
>>> log = read_log("lm-eval-output/")                      # doctest: +SKIP
>>> log.frame.groupby(["model", "metric"])["value"].mean()  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import ModuleType

from riskbench.errors import InputError
from riskbench.io import alpaca_eval, eee, helm, inspect, lm_eval, pairwise
from riskbench.io._common import AggregateCheck, LogRead, Peek, RecordError, Sink

__all__ = ["FORMATS", "AggregateCheck", "LogRead", "RecordError", "read_log", "sniff"]

_READERS: dict[str, ModuleType] = {m.NAME: m for m in (lm_eval, helm, inspect, alpaca_eval,
                                                        pairwise, eee)}
FORMATS: dict[str, str] = {name: m.DESCRIPTION for name, m in _READERS.items()}
_SHOWN = 5  # file names a message lists


def read_log(path: str | Path, *, format: str = "auto", strict: bool = True) -> LogRead:
    """Read per-item scores from evaluation logs.

    Parameters
    ----------
    path : str or Path
        A log file, or a directory: every file of the format under it is read (hidden files and
        folders are skipped).
    format : {"auto", "lm_eval", "helm", "inspect", "alpaca_eval", "pairwise", "eee"}
        The log format; ``"auto"`` sniffs it (see :func:`sniff`).
    strict : bool
        Raise on the first bad record (default). With ``False``, bad records and unreadable
        files are skipped and listed in ``LogRead.errors``.

    Returns
    -------
    LogRead
        ``frame`` with one row per (model, item, metric), ``errors``, ``checks`` (the tool's
        aggregates recomputed from the items) and ``notes``.

    Raises
    ------
    InputError
        Unknown format, missing path, nothing readable, or (``strict=True``) a bad record; the
        message names the file, the line or record, the field and the fix.
    """
    if format != "auto" and format not in _READERS:
        raise InputError(f"unknown format {format!r}; riskbench reads: 'auto', "
                         f"{', '.join(map(repr, _READERS))}")
    root = Path(path)
    if not root.exists():
        raise InputError(f"{path}: no such file or directory")
    name = sniff(root) if format == "auto" else format
    reader = _READERS[name]
    files = [root] if root.is_file() else [f for f in _walk(root) if reader.claims(Peek(f))]
    if not files:
        raise InputError(f"{path}: holds no {name} files ({FORMATS[name]}); check the folder or "
                         "the format")
    sink = Sink(strict=strict)
    reader.read(files, sink)
    return sink.result(path)


def sniff(path: str | Path) -> str:
    """The log format of a file or directory.

    A file is recognised by its name and its first JSON value (the keys a format's records
    always have); a directory by the files under it, which must all be of one format.

    Returns
    -------
    str
        One of the keys of :data:`FORMATS`.

    Raises
    ------
    InputError
        When nothing, or more than one format, is recognised; the message says what was looked
        at and lists the supported formats.
    """
    root = Path(path)
    if not root.exists():
        raise InputError(f"{path}: no such file or directory")
    if root.is_file():
        peek = Peek(root)
        found = _format_of(peek)
        if found is None:
            raise InputError(f"{path}: not a log format riskbench recognises (looked at the "
                             f"file name and {_looked_at(peek)}); {_supported()}; pass format= "
                             "to read it as one of them")
        return found
    files = _walk(root)
    found_in = Counter(f for f in (_format_of(Peek(p)) for p in files) if f is not None)
    if len(found_in) == 1:
        return next(iter(found_in))
    if not found_in:
        shown = ", ".join(str(p.relative_to(root)) for p in files[:_SHOWN])
        more = f" and {len(files) - _SHOWN} more" if len(files) > _SHOWN else ""
        seen = f"its {len(files)} file(s): {shown}{more}" if files else "no files at all"
        raise InputError(f"{path}: no log riskbench recognises (looked at {seen}); "
                         f"{_supported()}")
    counts = ", ".join(f"{name}: {n} file(s)" for name, n in sorted(found_in.items()))
    raise InputError(f"{path}: holds logs of several formats ({counts}); point read_log at one "
                     "format's folder, or pass format= to read only that format's files")


def _format_of(peek: Peek) -> str | None:
    return next((name for name, reader in _READERS.items() if reader.claims(peek)), None)


def _walk(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _looked_at(peek: Peek) -> str:
    head = peek.head
    if isinstance(head, tuple):
        return f"its zip members ({', '.join(head[:_SHOWN])})"
    keys = sorted(peek.keys())
    if keys:
        return f"its JSON keys ({', '.join(keys[:8])}{', ...' if len(keys) > 8 else ''})"
    if head is None:
        return "its content, which is not JSON"
    return "its content, a JSON value without named fields"


def _supported() -> str:
    return "supported formats: " + "; ".join(f"{n} ({d})" for n, d in FORMATS.items())
