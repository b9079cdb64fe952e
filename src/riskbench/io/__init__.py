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

Each format's module documents how it names items and metrics, what it reads and what it leaves
out. All readers share the rules of :mod:`riskbench.io._common`: no NaN values (+/-inf kept where
a harness wrote them), repeated records averaged per item, runs of the same model and metric told
apart as ``"<model>@<run>"``, every file, stat, metric or record left out counted with its reason
in ``LogRead.skipped`` / ``LogRead.summary``, directions the harness states in
``LogRead.higher_is_better``, prompts and responses in ``LogRead.texts``.

>>> from riskbench.io import read_log
>>> log = read_log("lm-eval-output/")                      # doctest: +SKIP
>>> log.frame.groupby(["model", "metric"])["value"].mean()  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from riskbench._limits import check_regular
from riskbench._provenance import ReadSummary, Skip
from riskbench.errors import InputError, option_hint
from riskbench.io import alpaca_eval, eee, helm, inspect, lm_eval, pairwise
from riskbench.io._common import AggregateCheck, LogRead, Peek, RecordError, Sink

__all__ = ["FORMATS", "AggregateCheck", "LogRead", "ReadSummary", "RecordError", "Skip",
           "read_log", "sniff"]

_READERS: dict[str, ModuleType] = {m.NAME: m for m in (lm_eval, helm, inspect, alpaca_eval,
                                                        pairwise, eee)}
FORMATS: dict[str, str] = {name: m.DESCRIPTION for name, m in _READERS.items()}
_SHOWN = 5  # file names a message lists


def read_log(path: str | Path | Sequence[str | Path], *, format: str = "auto",
             strict: bool = True, logprobs: bool = False, texts: bool = True) -> LogRead:
    """Read per-item scores from evaluation logs.

    Parameters
    ----------
    path : str or Path, or a sequence of them
        Log files and/or directories: every file of the format under a directory is read
        (hidden files and folders are skipped and counted; symbolic links are followed, each
        folder once). Several paths are read into one :class:`LogRead`; each is sniffed on its
        own, so they may hold different formats.
    format : {"auto", "lm_eval", "helm", "inspect", "alpaca_eval", "pairwise", "eee"}
        The log format; ``"auto"`` sniffs it (see :func:`sniff`).
    strict : bool
        Raise on the first bad record (default). With ``False``, bad records and unreadable
        files are skipped and listed in ``LogRead.errors`` (and counted in its summary).
    logprobs : bool
        Also read log-probability stats (HELM's ``logprob``, ``max_prob``, ...) as metrics;
        by default they are left out (and counted): they measure the model's confidence, not
        the quality of its answer.
    texts : bool
        Keep prompts and responses where the log has them (``LogRead.texts``).

    Returns
    -------
    LogRead
        ``frame`` with one row per (model, item, metric), ``errors``, ``checks`` (the tool's
        aggregates recomputed from the items), ``notes``, ``higher_is_better`` (directions the
        log states), ``skipped`` (what was left out, and why), ``texts`` and ``summary``.

    Raises
    ------
    InputError
        Unknown format, missing path, nothing readable, or (``strict=True``) a bad record; the
        message names the file, the line or record, the field and the fix.
    """
    if format != "auto" and format not in _READERS:
        raise InputError(f"unknown format {format!r}; riskbench reads: 'auto', "
                         f"{', '.join(map(repr, _READERS))}")
    paths = [path] if isinstance(path, str | Path) else list(path)
    if not paths:
        raise InputError("no log path given; pass a log file or folder")
    sink = Sink(strict=strict, logprobs=logprobs, texts=texts)
    claimed: dict[str, dict[Path, None]] = {}  # format -> files, in order
    walked: list[tuple[Path, str, list[Path]]] = []  # folder, format, files: the unclaimed
    for entry in paths:
        root = Path(entry)
        if not root.exists():
            raise InputError(f"{entry}: no such file or directory")
        check_regular(root)  # a FIFO or device would block or never end
        name = sniff(root) if format == "auto" else format
        reader = _READERS[name]
        if root.is_file():
            files = [root]
        else:
            every = _walk(root, sink)
            walked.append((root, name, every))
            files = [f for f in every if reader.claims(Peek(f))]
        if not files:
            raise InputError(f"{entry}: holds no {name} files ({FORMATS[name]}); check the "
                             "folder or the format")
        known = claimed.setdefault(name, {})
        for f in files:
            known.setdefault(f, None)
    for name, files in claimed.items():
        _READERS[name].read(list(files), sink)
    _count_unused(claimed, sink)
    _count_unclaimed(walked, claimed, sink)
    source = str(paths[0]) if len(paths) == 1 else " + ".join(map(str, paths))
    return sink.result(source, format="+".join(claimed))


def _count_unused(claimed: dict[str, dict[Path, None]], sink: Sink) -> None:
    """Files a reader took whose content it neither used nor left out with a reason nor
    reported as bad: counted too, so that every file is read, skipped or an error."""
    accounted = set(sink.files) | {str(e.file) for e in sink.errors}
    accounted |= {str(Path(s.where) / s.name) for s in sink.skips if s.unit == "files"}
    for name, files in claimed.items():
        for f in files:
            if str(f) not in accounted:
                sink.skip(f"given to the {name} reader, content not needed", f.name, 1,
                          unit="files", where=f.parent)
                accounted.add(str(f))


def _count_unclaimed(walked: list[tuple[Path, str, list[Path]]],
                     claimed: dict[str, dict[Path, None]], sink: Sink) -> None:
    """Files under the folders read that no reader took and whose content was not used."""
    taken = {str(f) for files in claimed.values() for f in files} | set(sink.files)
    for root, name, files in walked:
        for f in files:
            if str(f) not in taken:
                sink.skip(f"not a log file ({name})", str(f.relative_to(root)), 1,
                          unit="files", where=root)
                taken.add(str(f))


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
    check_regular(root)
    if root.is_file():
        peek = Peek(root)
        found = _format_of(peek)
        if found is None:
            raise InputError(f"{path}: not a log format riskbench recognises (looked at the "
                             f"file name and {_looked_at(peek)}); {_supported()}; pass "
                             f"{option_hint('format=', '--format')} to read it as one of them")
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
    raise InputError(f"{path}: holds logs of several formats ({counts}); point "
                     f"{option_hint('read_log', 'riskbench')} at one format's folder (or give "
                     f"several), or pass {option_hint('format=', '--format')} to read only that "
                     "format's files")


def _format_of(peek: Peek) -> str | None:
    return next((name for name, reader in _READERS.items() if reader.claims(peek)), None)


def _walk(root: Path, sink: Sink | None = None) -> list[Path]:
    """The files under ``root`` in name order, following symbolic links to folders (each real
    folder once, so a link back up is not a loop); hidden files and folders are left out and,
    with a ``sink``, counted."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for folder, dirs, names in os.walk(root, followlinks=True):
        here = Path(folder)
        try:
            st = here.stat()
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            if sink is not None:
                sink.skip("folder already read (symbolic link)", str(here.relative_to(root)),
                          1, unit="folders", where=root)
            continue
        seen.add((st.st_dev, st.st_ino))
        for d in [d for d in dirs if d.startswith(".")]:
            dirs.remove(d)
            if sink is not None:
                sink.skip("hidden file or folder", str((here / d).relative_to(root)), 1,
                          unit="entries", where=root)
        dirs.sort()
        for n in sorted(names):
            if n.startswith("."):
                if sink is not None:
                    sink.skip("hidden file or folder", str((here / n).relative_to(root)), 1,
                              unit="entries", where=root)
                continue
            if (here / n).is_file():
                found.append(here / n)
    return sorted(found)


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
