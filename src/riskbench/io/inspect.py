"""Inspect AI eval logs: ``.eval`` archives and ``.json`` logs.

A ``.eval`` file is a zip of ``header.json`` (eval spec, results), ``samples/<id>_epoch_<n>.json``
and ``summaries.json``; a ``.json`` log holds the same keys plus ``samples``. An interrupted
``.eval`` has no ``header.json``: its spec is read from ``_journal/start.json``. An archive
without sample files is read from its summaries (which carry the scores).

Naming
------
model
    ``eval.model`` (``openai/gpt-4o-mini``).
item
    ``sample.id`` as a string; the dataset's ids pair items across models.
metric
    ``"<task>/<scorer>"`` (``popularity/match``), and ``"<task>/<scorer>:<key>"`` for each key of
    a dict-valued score (``inspect_evals/ifeval/instruction_following:prompt_level_strict``),
    except the keys that are counts, not scores: those starting with one of
    :data:`~riskbench.io._common.COUNT_PREFIXES` (``num_instructions``, the HELM reader's
    ``num_*`` bookkeeping rule), left out and counted in the read summary. A key that counts
    out of such a key (its first word, 3+ letters, begins the counted noun: ifeval's
    ``inst_level_strict``, instructions followed, out of ``num_instructions``) is read as the
    share ``count / num_instructions``, as lm-eval's per-sample lists are, and the read notes it;
    a count outside 0..its total is a bad record.
run
    The log's file name; two logs of one model and task become ``"<model>@<file>"``.

Score values map to floats like Inspect's ``value_to_float``: grades ``C`` 1, ``P`` 0.5, ``I`` and
``N`` 0; ``yes``/``true`` 1 and ``no``/``false`` 0; numeric strings, numbers and booleans as
numbers. A list becomes its mean. Epochs (``sample.epoch``) are averaged per item, which is
Inspect's default ``mean`` reducer.

Texts: the sample's ``input`` (text, or the text of its messages), the model's output
(``output.completion``, else the first choice's message) and the ``target``, from the first
epoch.

Aggregate check: the ``accuracy`` and ``mean`` metrics of ``results.scores`` of a scalar scorer
against the mean over items of the epoch-averaged values, unless the log used another reducer.
Metrics of dict-valued scorers are computed by the scorer's own functions and are not checked.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from riskbench import _limits
from riskbench.errors import InputError
from riskbench.io._common import (
    COUNT_PREFIXES,
    MISSING,
    Field,
    Peek,
    Sink,
    absent,
    decode,
    load_json,
    lookup,
    mean,
    parse_json,
    short,
    to_float,
)

NAME = "inspect"
DESCRIPTION = "Inspect AI logs, .eval archives or .json"
GRADES = {"C": 1.0, "P": 0.5, "I": 0.0, "N": 0.0}
_WORDS = {"yes": 1.0, "true": 1.0, "no": 0.0, "false": 0.0}
_SAMPLE_MEMBER = re.compile(r"samples/.+_epoch_\d+\.json")
_JSON_START = re.compile(rb'\s*\{\s*"version"\s*:\s*\d+\s*,\s*"status"')
_CHECKED = ("accuracy", "mean")
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
                   NotImplementedError, RuntimeError, ValueError)
_FIX = "the log must be Inspect's own output; write it again with inspect eval"
_COUNT = "count in a dict-valued score (num_*), not a score"

_HEADER_SPEC = (
    Field("eval.task", (str,), fix=_FIX),
    Field("eval.model", (str,), fix=_FIX),
    Field("eval.config", (dict,), required=False),
    Field("results.scores", (list,), required=False),
    Field("status", (str,), required=False),
)
_SAMPLE_SPEC = (
    Field("id", (int, str), fix="each sample needs the id of its dataset item"),
    Field("epoch", (int,), required=False),
    Field("scores", (dict,), required=False),
)


@dataclass
class _Log:
    header: object
    header_file: str
    samples: list[tuple[str, int | str, object]] = field(default_factory=list)  # file, where, rec


def claims(peek: Peek) -> bool:
    """``.eval`` archives with a header or journal; JSON logs with ``eval`` and ``version``.

    JSON logs too big (or too damaged) to parse are recognised by the start Inspect writes.
    """
    if isinstance(peek.head, tuple):
        return "header.json" in peek.head or "_journal/start.json" in peek.head
    if peek.name.endswith(".eval"):
        return True
    if not peek.name.endswith(".json"):
        return False
    if peek.head is None:
        return bool(_JSON_START.match(peek.prefix)) and b'"eval"' in peek.prefix
    return {"eval", "version"} <= peek.keys()


def read(files: Sequence[Path], sink: Sink) -> None:
    for path in files:
        log = _load_archive(path, sink) if _is_archive(path) else _load_json_log(path, sink)
        if log is not None:
            _read_log(path, log, sink)


def _is_archive(path: Path) -> bool:
    if path.suffix == ".eval":
        return True
    _limits.check_regular(path, folders=False)
    return zipfile.is_zipfile(path)


def _load_json_log(path: Path, sink: Sink) -> _Log | None:
    doc = load_json(path, sink)
    if absent(doc):
        return None
    samples = lookup(doc, "samples")
    if absent(samples):
        samples = []
    elif not isinstance(samples, list):
        sink.error(path, "top level", "samples", f"must be an array, got {short(samples)}; "
                   + _FIX)
        return None
    return _Log(doc, str(path), [(str(path), f"samples[{i}]", s) for i, s in enumerate(samples)])


def _load_archive(path: Path, sink: Sink) -> _Log | None:
    try:
        with _limits.open_archive(path) as (archive, budget):
            names = archive.namelist()
            head = "header.json" if "header.json" in names else "_journal/start.json"
            if head not in names:
                sink.error(path, "archive", "header.json", "is missing, and so is "
                           "_journal/start.json; the archive is not an Inspect log or is "
                           "damaged: write it again with inspect eval")
                return None
            log = _Log(_member(archive, path, head, sink, budget), f"{path}:{head}")
            log.samples.extend(_archive_samples(archive, path, names, sink, budget))
            sink.used(path)
    except InputError:  # a strict record error from a member: it already names the member
        raise
    except _ARCHIVE_ERRORS as exc:
        sink.error(path, "archive", "", f"cannot be read as a zip archive ({exc}); the file is "
                   "truncated or corrupted: write it again with inspect eval")
        return None
    return None if absent(log.header) else log


def _archive_samples(archive: zipfile.ZipFile, path: Path, names: list[str], sink: Sink,
                     budget: _limits.Budget) -> Iterator[tuple[str, int | str, object]]:
    members = sorted(n for n in names if _SAMPLE_MEMBER.fullmatch(n))
    if not members:  # no sample files: the summaries carry id, epoch and scores
        members = ["summaries.json"] if "summaries.json" in names else sorted(
            n for n in names if n.startswith("_journal/summaries/"))
        for name in members:
            listed = _member(archive, path, name, sink, budget)
            if isinstance(listed, list):
                yield from ((f"{path}:{name}", f"record {i}", s) for i, s in enumerate(listed))
            elif not absent(listed):
                sink.error(f"{path}:{name}", "top level", "", "must be a JSON array of "
                           "sample summaries; " + _FIX)
        return
    for name in members:
        record = _member(archive, path, name, sink, budget)
        if not absent(record):
            yield f"{path}:{name}", "top level", record


def _member(archive: zipfile.ZipFile, path: Path, name: str, sink: Sink,
            budget: _limits.Budget) -> object:
    label = f"{path}:{name}"
    data = _limits.read_member(archive, name, label=str(path), budget=budget)
    text = decode(data, label, sink)
    return MISSING if text is None else parse_json(text, label, sink)


def _read_log(path: Path, log: _Log, sink: Sink) -> None:
    head = sink.pick(log.header, _HEADER_SPEC, file=log.header_file, line="top level")
    if head is None:
        return
    task, model = head["eval.task"], head["eval.model"]
    if head["status"] not in (None, "success"):
        sink.note(f"{path}: log status {head['status']!r}; only the samples it holds are read")
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    dict_scorers: set[str] = set()
    counts: dict[str, int] = defaultdict(int)  # count keys left out: metric name -> values
    shares: dict[str, str] = {}  # metric read as a share of a count key -> that key
    epochs = 1
    for file, where, record in log.samples:
        rec = sink.pick(record, _SAMPLE_SPEC, file=file, line=where)
        if rec is None:
            continue
        epochs = max(epochs, rec["epoch"] or 1)
        item = str(rec["id"])
        if (rec["epoch"] or 1) == 1:
            _keep_text(record, model, item, task, path.name, file, sink)
        for metric, value in _sample_values(rec["scores"] or {}, task, file, where, sink,
                                            dict_scorers, counts, shares):
            values[metric][item].append(value)
            sink.add(model=model, item=item, metric=metric, value=value, task=task,
                     run=path.name, source_file=file)
    for metric, n in counts.items():
        sink.skip(_COUNT, metric, n, where=path)
    for metric, key in shares.items():
        sink.note(f"{path}: {metric!r} holds a count out of {key!r} (how many of the item's "
                  f"{key.split('_', 1)[1]} were met): read as the share, count / {key}, like "
                  "lm-eval's per-sample lists")
    if not values:
        sink.note(f"{path}: no scored samples (no scorer ran, or samples were not logged)")
        return
    if epochs > 1:
        sink.note(f"{path}: {epochs} epochs per sample, averaged per item (Inspect's default "
                  "'mean' reducer)")
    _check(log.header_file, head, task, values, dict_scorers, epochs, sink)


def _keep_text(record: dict[str, object], model: str, item: str, task: str, run: str,
               file: str, sink: Sink) -> None:
    """The sample's input, the model's completion and the target (first epoch only)."""
    prompt = _content(record.get("input"))
    output = record.get("output")
    response = output.get("completion") if isinstance(output, dict) else None
    if not isinstance(response, str) or not response:
        choices = output.get("choices") if isinstance(output, dict) else None
        first = choices[0] if isinstance(choices, list) and choices else None
        response = _content(lookup(first, "message.content")) if first is not None else None
    target = record.get("target")
    target = ", ".join(t for t in target if isinstance(t, str)) if isinstance(target, list) \
        else target
    sink.text(model=model, item=item, task=task, run=run, prompt=prompt, response=response,
              reference=target if isinstance(target, str) else None, source_file=file)


def _content(value: object) -> str | None:
    """Text of a string, of a list of content parts, or of a list of chat messages."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return None
    parts = []
    for part in value:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict):
            text = part.get("text") if part.get("type", "text") == "text" else None
            text = _content(part.get("content")) if text is None and "content" in part else text
            if isinstance(text, str):
                parts.append(text)
    return "\n".join(parts) if parts else None


def _count_key(key: str, raw: dict[str, object]) -> str | None:
    """The count key of a dict score that ``key`` counts out of: ifeval's
    ``inst_level_strict`` (instructions followed) out of ``num_instructions``. A key counts
    out of ``num_<things>`` when its first word (3+ letters) begins ``<things>``."""
    stem = key.split("_", 1)[0].lower()
    if len(stem) < 3 or key.startswith(COUNT_PREFIXES):
        return None
    for other in raw:
        if isinstance(other, str) and other.startswith(COUNT_PREFIXES):
            noun = other.split("_", 1)[1] if other.startswith("num_") else other[len("max_num_"):]
            if noun.lower().startswith(stem):
                return other
    return None


def _sample_values(scores: dict[str, object], task: str, file: str, where: int | str,
                   sink: Sink, dict_scorers: set[str], counts: dict[str, int],
                   shares: dict[str, str]) -> Iterator[tuple[str, float]]:
    for scorer, score in scores.items():
        raw = lookup(score, "value")
        if absent(raw):
            sink.error(file, where, f"scores.{scorer}.value", "is missing; each score needs a "
                       "value: " + _FIX)
            continue
        parts = raw.items() if isinstance(raw, dict) else [(None, raw)]
        if isinstance(raw, dict):
            dict_scorers.add(scorer)
        for key, part in parts:
            if isinstance(key, str) and key.startswith(COUNT_PREFIXES):
                counts[f"{task}/{scorer}:{key}"] += 1  # a count (ifeval's num_instructions)
                continue
            path = f"scores.{scorer}.value" + (f".{key}" if key is not None else "")
            of = _count_key(key, raw) if isinstance(key, str) else None
            if of is not None and not isinstance(part, bool):  # a count out of raw[of]
                total = raw[of]
                if not (isinstance(part, int) and isinstance(total, int) and not
                        isinstance(total, bool) and 0 <= part <= total and total > 0):
                    sink.error(file, where, path, f"is {short(part)[1:-1]} with {of} = "
                               f"{short(total)[1:-1]}: "
                               f"a count out of {of} must be a whole number from 0 to it (and "
                               f"{of} at least 1); fix the score")
                    continue
                shares[f"{task}/{scorer}:{key}"] = of
                yield f"{task}/{scorer}:{key}", part / total
                continue
            value = to_score(part)
            if value is None:
                sink.error(file, where, path, f"is {short(part)}, which has no float value (grades "
                           "C/P/I/N, yes/no, true/false, numbers, or lists of them); fix the score")
                continue
            name = scorer if key is None else f"{scorer}:{key}"
            yield f"{task}/{name}", value


def to_score(value: object) -> float | None:
    """Inspect's ``value_to_float``; ``None`` for what it cannot map (Inspect logs 0 then)."""
    if isinstance(value, list):
        parts = [to_score(v) for v in value if not isinstance(v, list | dict)]
        return mean(parts) if parts and len(parts) == len(value) and None not in parts else None
    if isinstance(value, str):
        text = value.strip()
        if text in GRADES:
            return GRADES[text]
        if text.lower() in _WORDS:
            return _WORDS[text.lower()]
        return to_float(float(text)) if text.replace(".", "", 1).isdecimal() else None
    return to_float(value)


def _check(file: str, head: dict[str, object], task: str,
           values: dict[str, dict[str, list[float]]], dict_scorers: set[str], epochs: int,
           sink: Sink) -> None:
    reducers = lookup(head["eval.config"] or {}, "epochs_reducer")
    if epochs > 1 and reducers not in (["mean"], "mean") and not absent(reducers):
        sink.note(f"{file}: epochs reduced by {reducers!r}, not by the mean; not checked")
        return
    for entry in head["results.scores"] or ():
        scorer, metrics = lookup(entry, "name"), lookup(entry, "metrics")
        if not isinstance(scorer, str) or not isinstance(metrics, dict):
            continue
        if scorer in dict_scorers:
            sink.note(f"{file}: scorer {scorer!r} has dict values; its metrics "
                      f"({', '.join(map(str, metrics))}) are the scorer's own and are not checked")
            continue
        per_item = values.get(f"{task}/{scorer}")
        for name in _CHECKED:
            reported = to_float(lookup(metrics, f"{name}.value"))
            if per_item and reported is not None:
                sink.check(file, f"{task}/{scorer}", reported,
                           mean([mean(v) for v in per_item.values()]))
