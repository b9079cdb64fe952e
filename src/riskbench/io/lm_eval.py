"""lm-evaluation-harness ``--output_path P --log_samples`` output.

Layout: ``P/<model_sanitized>/results_<ts>.json`` plus one ``samples_<task>_<ts>.jsonl`` per leaf
task, matched by the timestamp ``<ts>``. A tree may hold several models and several runs.

Naming
------
model
    ``model_name`` of the results file (lm-eval >= 0.4.3), else ``pretrained=`` / ``model=`` of
    ``config.model_args``, else the backend ``config.model``; never the folder name.
item
    ``doc_id`` as a string: the index into the task's evaluated split, which pairs the same
    document across models run with the same task config and ``--limit``.
metric
    ``"<task>/<metric>,<filter>"``: lm-eval's own results key prefixed with the task, so one
    table holds several tasks and filters without clashes (``winogrande/acc,none``,
    ``gsm8k/exact_match,strict-match``). Lines without a ``filter`` key (old versions) take the
    one filter the results file reports for that metric, or lm-eval's default name ``none``.
run
    ``<ts>``; two runs of one model with the same metric become ``"<model>@<ts>"``.

Values: numbers and booleans become floats; a list (IFEval's per-instruction booleans) becomes
its mean, the share of the item's instructions followed. Lines without a ``metrics`` list (old
versions) take their metric keys from ``higher_is_better[task]`` or ``configs[task].metric_list``
of the results file.

Aggregate check: ``results[task]["<metric>,<filter>"]`` against the mean over documents, for
metrics aggregated by ``mean``, and only when ``n-samples[task].effective`` equals the number of
documents in the samples file (otherwise the file was trimmed and a note says so).
"""

from __future__ import annotations

import re
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
    short,
    to_float,
)

NAME = "lm_eval"
DESCRIPTION = "lm-evaluation-harness results_<ts>.json with samples_<task>_<ts>.jsonl"
_RESULTS = re.compile(r"results_(?P<ts>[^_]+)\.json")
_SAMPLES = re.compile(r"samples_(?P<task>.+)_(?P<ts>[^_]+)\.jsonl")
_MODEL_ARGS = ("pretrained", "model", "path", "engine")  # keys naming the model, in that order
_FIX = "the file must be lm-eval's own output; write it again with lm_eval --log_samples"

_RESULTS_SPEC = (
    Field("results", (dict,), fix=_FIX),
    Field("model_name", (str,), required=False),
    Field("config", (dict,), required=False),
    Field("configs", (dict,), required=False),
    Field("higher_is_better", (dict,), required=False),
    Field("n-samples", (dict,), required=False),
    Field("group_subtasks", (dict,), required=False),
)
_SAMPLE_SPEC = (
    Field("doc_id", (int,), fix="each sample line needs the document index lm-eval writes"),
    Field("filter", (str,), required=False),
    Field("metrics", (list,), required=False),
)


def claims(peek: Peek) -> bool:
    """Results and samples files by their lm-eval names (content, when readable, must agree)."""
    if _RESULTS.fullmatch(peek.name):
        return peek.head is None or "results" in peek.keys()
    if _SAMPLES.fullmatch(peek.name):
        return peek.head is None or "doc_id" in peek.keys()
    return False


def read(files: Sequence[Path], sink: Sink) -> None:
    """Read every run that ``files`` name (a results file, or samples files of one run)."""
    runs: dict[Path, set[Path]] = {}
    whole: set[Path] = set()  # runs whose results file was named, so missing tasks are noted
    for path in files:
        if (m := _RESULTS.fullmatch(path.name)):
            runs.setdefault(path, set()).update(path.parent.glob(f"samples_*_{m['ts']}.jsonl"))
            whole.add(path)
        elif (m := _SAMPLES.fullmatch(path.name)):
            results = path.with_name(f"results_{m['ts']}.json")
            if results.is_file():
                runs.setdefault(results, set()).add(path)
            else:
                sink.error(path, 1, "", f"has no {results.name} beside it; lm-eval writes the "
                           "model name and the metric list there: copy it next to this file")
        else:
            sink.error(path, 1, "", "is not named results_<ts>.json or samples_<task>_<ts>.jsonl "
                       "as lm-eval names its files; rename it or pass another format=")
    for results, samples in sorted(runs.items()):
        _read_run(results, sorted(samples), sink, note_missing=results in whole)


def _read_run(results: Path, samples: list[Path], sink: Sink, *, note_missing: bool) -> None:
    doc = load_json(results, sink)
    if absent(doc):
        return
    head = sink.pick(doc, _RESULTS_SPEC, file=results, line="top level")
    if head is None:
        return
    model = _model(head, results, sink)
    if model is None:
        return
    run = _RESULTS.fullmatch(results.name)["ts"]
    tasks = set()
    for path in samples:
        task = _SAMPLES.fullmatch(path.name)["task"]
        tasks.add(task)
        values = _read_samples(path, task, model, run, _metric_keys(head, task),
                               head["results"].get(task), sink)
        _check(results, head, task, path, values, sink)
    if note_missing:
        _note_missing_tasks(results, head, tasks, sink)


def _model(head: dict[str, object], path: Path, sink: Sink) -> str | None:
    name = head["model_name"]
    if isinstance(name, str) and name.strip():
        return name.strip()
    config = head["config"] or {}
    args = _parse_model_args(config.get("model_args"))
    for key in _MODEL_ARGS:
        if args.get(key):
            return args[key]
    backend = config.get("model")
    if isinstance(backend, str) and backend.strip():
        return backend.strip()
    sink.error(path, "top level", "config.model_args", "names no model (no model_name, no "
               "pretrained= or model= argument, no config.model); add the model name to the file")
    return None


def _parse_model_args(args: object) -> dict[str, str]:
    """``"pretrained=org/name,dtype=bf16"`` or ``{"pretrained": ...}`` as a dict of strings."""
    if isinstance(args, dict):
        return {k: v.strip() for k, v in args.items() if isinstance(v, str)}
    if not isinstance(args, str):
        return {}
    pairs = (part.split("=", 1) for part in args.split(",") if "=" in part)
    return {k.strip(): v.strip() for k, v in pairs}


def _metric_keys(head: dict[str, object], task: str) -> list[str]:
    """Metric names of a task from the results file, for lines without a ``metrics`` list."""
    keys = []
    hib = (head["higher_is_better"] or {}).get(task)
    if isinstance(hib, dict):
        keys.extend(k for k in hib if isinstance(k, str))
    config = (head["configs"] or {}).get(task)
    metric_list = config.get("metric_list") if isinstance(config, dict) else None
    if isinstance(metric_list, list):
        keys.extend(e["metric"] for e in metric_list
                    if isinstance(e, dict) and isinstance(e.get("metric"), str))
    return list(dict.fromkeys(keys))


def _read_samples(path: Path, task: str, model: str, run: str, known: list[str],
                  reported: object, sink: Sink) -> dict[tuple[str, str], dict[int, list[float]]]:
    """Add the file's rows; return ``{(metric, filter): {doc_id: [values]}}`` for the checks."""
    values: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for lineno, record in iter_jsonl(path, sink):
        rec = sink.pick(record, _SAMPLE_SPEC, file=path, line=lineno)
        if rec is None:
            continue
        names = _line_metrics(record, rec["metrics"], known, path, lineno, sink)
        for name in names or ():
            filter_name = rec["filter"] or _only_filter(reported, name, path, lineno, sink)
            if filter_name is None:
                continue
            value = _value(record[name])
            if value is None:
                sink.error(path, lineno, name, f"must be a finite number, true/false or a list of "
                           f"them, got {short(record[name])}; fix or remove that line")
                continue
            doc_id = rec["doc_id"]
            values[(name, filter_name)][doc_id].append(value)
            sink.add(model=model, item=str(doc_id), metric=f"{task}/{name},{filter_name}",
                     value=value, task=task, filter=filter_name, run=run, source_file=path)
    return values


def _line_metrics(record: dict[str, object], listed: list[object] | None, known: list[str],
                  path: Path, lineno: int, sink: Sink) -> list[str] | None:
    if listed is not None:
        bad = [m for m in listed if not isinstance(m, str) or m not in record]
        if bad:
            sink.error(path, lineno, "metrics", f"names {short(bad[0])}, which is not a key of "
                       "the line; each listed metric needs its value on the line")
            return None
        return listed
    names = [k for k in known if k in record]
    if not names:
        sink.error(path, lineno, "metrics", "is absent and the line has none of the task's "
                   f"metric keys ({', '.join(known) or 'the results file lists none'}); add the "
                   "metric values, or the task's higher_is_better entry to the results file")
        return None
    return names


def _only_filter(reported: object, name: str, path: Path, lineno: int,
                 sink: Sink) -> str | None:
    """The filter of a line without one: the only one the results report for the metric."""
    keys = reported if isinstance(reported, dict) else {}
    filters = sorted({k.partition(",")[2] for k in keys if k.partition(",")[0] == name})
    if len(filters) <= 1:
        return filters[0] if filters else "none"
    sink.error(path, lineno, "filter", f"is absent, and the results report {name!r} under "
               f"several filters ({', '.join(filters)}), so the line's filter is unknown; "
               "run the task again with lm-eval >= 0.4.3, which writes it")
    return None


def _value(raw: object) -> float | None:
    if isinstance(raw, list):
        parts = [to_float(v) for v in raw]
        return mean(parts) if parts and None not in parts else None
    return to_float(raw)


def _check(results: Path, head: dict[str, object], task: str, samples: Path,
           values: dict[tuple[str, str], dict[int, list[float]]], sink: Sink) -> None:
    reported_task = head["results"].get(task)
    if not isinstance(reported_task, dict) or not values:
        return
    docs = {d for per_doc in values.values() for d in per_doc}
    effective = (head["n-samples"] or {}).get(task)
    effective = effective.get("effective") if isinstance(effective, dict) else None
    if isinstance(effective, int) and effective != len(docs):
        sink.note(f"{samples}: {len(docs)} documents, but {results.name} says n-samples "
                  f"effective = {effective}; the samples file is incomplete, so the aggregates "
                  f"of task {task!r} are not checked")
        return
    for (name, filter_name), per_doc in sorted(values.items()):
        reported = to_float(reported_task.get(f"{name},{filter_name}"))
        aggregation = _aggregation(head, task, name)
        if reported is None:
            continue
        if aggregation not in (None, "mean"):
            sink.note(f"{results}: {task} {name} is aggregated by {aggregation!r}, not a mean "
                      "of per-sample values, so it is not checked")
            continue
        sink.check(results, f"{task}/{name},{filter_name}", reported,
                   mean([mean(v) for v in per_doc.values()]))


def _aggregation(head: dict[str, object], task: str, name: str) -> str | None:
    config = (head["configs"] or {}).get(task)
    metric_list = config.get("metric_list") if isinstance(config, dict) else None
    for entry in metric_list if isinstance(metric_list, list) else ():
        if isinstance(entry, dict) and entry.get("metric") == name:
            how = entry.get("aggregation")
            return how if isinstance(how, str) else None
    return None


def _note_missing_tasks(results: Path, head: dict[str, object], read: set[str],
                        sink: Sink) -> None:
    groups = {g for g, subs in (head["group_subtasks"] or {}).items() if subs}
    missing = sorted(t for t in head["results"] if t not in read and t not in groups)
    if missing:
        sink.note(f"{results}: no samples file for task(s) {', '.join(missing)} (run lm-eval "
                  "with --log_samples); they give no per-item scores")
