"""Every Eval Ever (EEE): aggregate ``<uuid>.json`` + instance-level ``<uuid>_samples.jsonl``.

The aggregate record (``eval.schema.json``) names the model and lists ``evaluation_results`` with
their scores; ``detailed_evaluation_results`` points to the instance-level JSON Lines file
(``instance_level_eval.schema.json``), one row per sample and aggregate result, with its sha256
(or md5) checksum and row count. The fields read are validated against the field specs below,
which follow EEE schema 0.3.0 (a test checks them against the schema files). Aggregate records
without instance rows (leaderboard scrapes, older schema versions) hold no per-item scores and
are only noted.

Naming
------
model
    The row's ``model_id``.
item
    ``sample_id``.
metric
    ``"<evaluation_name>/<evaluation_result_id>"`` (``arc_easy/choice:accuracy``), or the
    evaluation name alone when the row has no result id or the id repeats it: the result id is
    EEE's join key to one aggregate result, the name keeps tasks apart.
run
    ``evaluation_id``.

Rows of one sample repeated across epochs (``metadata.epoch``) are averaged per item.

Checks: the checksum and ``total_rows`` of the instance file are verified (a mismatch is a record
error), and each aggregate ``score_details.score`` is compared with the mean over items of its
rows. EEE's converters re-derive per-sample scores instead of copying the harness's, so a
mismatch is real information about the conversion, not a reader failure.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from riskbench.io._common import (
    Field,
    Peek,
    Sink,
    absent,
    iter_jsonl,
    load_json,
    mean,
    read_bytes,
    to_float,
)

NAME = "eee"
DESCRIPTION = "Every Eval Ever <uuid>.json aggregate records and <uuid>_samples.jsonl rows"
_FIX = "the record must follow the EEE schema; check it with every_eval_ever validate"

AGGREGATE_SPEC = (
    Field("schema_version", (str,), fix=_FIX),
    Field("evaluation_id", (str,), fix=_FIX),
    Field("model_info.id", (str,), fix=_FIX),
    Field("evaluation_results", (list,), fix=_FIX),
    Field("detailed_evaluation_results", (dict,), required=False),
)
DETAILED_SPEC = (
    Field("format", (str,), fix=_FIX, choices=("jsonl",)),
    Field("file_path", (str,), fix=_FIX),
    Field("hash_algorithm", (str,), required=False, choices=("sha256", "md5")),
    Field("checksum", (str,), required=False),
    Field("total_rows", (int,), required=False),
)
RESULT_SPEC = (
    Field("evaluation_name", (str,), fix=_FIX),
    Field("evaluation_result_id", (str,), required=False),
    Field("metric_config.lower_is_better", (bool,), fix=_FIX),
    Field("score_details.score", (float,), fix=_FIX),
)
INSTANCE_SPEC = (
    Field("schema_version", (str,), fix=_FIX),
    Field("evaluation_id", (str,), fix=_FIX),
    Field("model_id", (str,), fix=_FIX),
    Field("evaluation_name", (str,), fix=_FIX),
    Field("evaluation_result_id", (str,), required=False),
    Field("sample_id", (str,), fix=_FIX),
    Field("interaction_type", (str,), fix=_FIX, choices=("single_turn", "multi_turn", "agentic")),
    Field("evaluation.score", (float,), fix=_FIX),
    Field("evaluation.is_correct", (bool,), fix=_FIX),
)
SPECS = {"eval.schema.json": AGGREGATE_SPEC, "eval.schema.json#detailed": DETAILED_SPEC,
         "eval.schema.json#result": RESULT_SPEC, "instance_level_eval.schema.json": INSTANCE_SPEC}


def claims(peek: Peek) -> bool:
    keys = peek.keys()
    if peek.name.endswith(".jsonl"):
        return ({"schema_version", "evaluation_id", "sample_id"} <= keys
                or (peek.head is None and peek.name.endswith("_samples.jsonl")))
    return peek.name.endswith(".json") and {"schema_version", "evaluation_results"} <= keys


def read(files: Sequence[Path], sink: Sink) -> None:
    claimed: set[Path] = set()
    for path in files:
        if path.suffix == ".json":
            instance = _read_aggregate(path, sink)
            if instance is not None:
                claimed.add(instance)
    for path in files:
        if path.suffix != ".json" and path not in claimed:
            sink.note(f"{path}: read without its aggregate record, so nothing is checked")
            _read_instances(path, None, sink)


def _read_aggregate(path: Path, sink: Sink) -> Path | None:
    """Read an aggregate record and its instance file; return that file's path."""
    doc = load_json(path, sink)
    if absent(doc):
        return None
    head = sink.pick(doc, AGGREGATE_SPEC, file=path, line="top level")
    if head is None:
        return None
    results = [picked for i, r in enumerate(head["evaluation_results"])
               if (picked := sink.pick(r, RESULT_SPEC, file=path,
                                       line=f"evaluation_results[{i}]")) is not None]
    detailed = head["detailed_evaluation_results"]
    if detailed is None:
        sink.note(f"{path}: aggregate record only (no detailed_evaluation_results), so no "
                  "per-item scores")
        sink.skip("aggregate record without instance rows", path.name, 1, unit="files",
                  where=path.parent)
        sink.files.pop(str(path), None)  # looked at, but no score came from it: skipped only
        return None
    detailed = sink.pick(detailed, DETAILED_SPEC, file=path, line="detailed_evaluation_results")
    instance = None if detailed is None else _instance_file(path, detailed, sink)
    if instance is None:
        return None
    if _verified(path, instance, detailed, sink):
        values = _read_instances(instance, head["evaluation_id"], sink)
        _check(path, results, values, sink)
    return instance


def _instance_file(path: Path, detailed: dict[str, object], sink: Sink) -> Path | None:
    for candidate in (path.with_name(f"{path.stem}_samples.jsonl"),
                      path.with_name(Path(detailed["file_path"]).name)):
        if candidate.is_file():
            return candidate
    sink.error(path, "detailed_evaluation_results", "file_path", f"names "
               f"{detailed['file_path']!r}, which is not beside the aggregate record; copy the "
               "instance file next to it")
    return None


def _verified(path: Path, instance: Path, detailed: dict[str, object], sink: Sink) -> bool:
    """Checksum and row count of the instance file; ``False`` when it cannot be read."""
    data = read_bytes(instance, sink)
    if data is None:
        return False
    algorithm = detailed["hash_algorithm"] or "sha256"
    if detailed["checksum"] is not None and (
            hashlib.new(algorithm, data).hexdigest() != detailed["checksum"].lower()):
        sink.error(path, "detailed_evaluation_results", "checksum", f"does not match the "
                   f"{algorithm} of {instance.name}; the instance file changed after the "
                   "aggregate was written: convert the log again")
    rows = sum(1 for line in data.split(b"\n") if line.strip())
    if detailed["total_rows"] is not None and rows != detailed["total_rows"]:
        sink.error(path, "detailed_evaluation_results", "total_rows", f"is "
                   f"{detailed['total_rows']}, but {instance.name} has {rows} rows; the "
                   "instance file is incomplete or was edited: convert the log again")
    return True


def _metric(name: str, result_id: str | None) -> str:
    return name if result_id in (None, name) else f"{name}/{result_id}"


def _read_instances(path: Path, evaluation_id: str | None,
                    sink: Sink) -> dict[tuple[str, str | None], dict[str, list[float]]]:
    """Add the rows of an instance file; return ``{(name, result id): {item: [values]}}``."""
    values: dict[tuple[str, str | None], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list))
    for lineno, record in iter_jsonl(path, sink):
        row = sink.pick(record, INSTANCE_SPEC, file=path, line=lineno)
        if row is None:
            continue
        if evaluation_id is not None and row["evaluation_id"] != evaluation_id:
            sink.error(path, lineno, "evaluation_id", f"is {row['evaluation_id']!r}, not the "
                       f"aggregate record's {evaluation_id!r}; the files do not belong together")
            continue
        value = to_float(row["evaluation.score"])
        if value is None:
            sink.error(path, lineno, "evaluation.score", "is not a finite number; fix the row")
            continue
        values[(row["evaluation_name"], row["evaluation_result_id"])][row["sample_id"]].append(
            value)
        sink.add(model=row["model_id"], item=row["sample_id"],
                 metric=_metric(row["evaluation_name"], row["evaluation_result_id"]),
                 value=value, task=row["evaluation_name"], run=row["evaluation_id"],
                 source_file=path)
    return values


def _check(path: Path, results: list[dict[str, object]],
           values: dict[tuple[str, str | None], dict[str, list[float]]], sink: Sink) -> None:
    """Rows join a result by its id, or by its name when the rows carry no result id."""
    for result in results:
        name, result_id = result["evaluation_name"], result["evaluation_result_id"]
        key = next((k for k in ((name, result_id), (name, None)) if k in values), None)
        reported = to_float(result["score_details.score"])
        if key is None or reported is None:
            continue
        metric = _metric(*key)
        sink.check(path, metric, reported, mean([mean(v) for v in values[key].values()]))
        sink.direction(metric, not result["metric_config.lower_is_better"],
                       "EEE metric_config.lower_is_better")
