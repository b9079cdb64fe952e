"""lm-evaluation-harness ``--output_path P --log_samples`` output.

Layout: ``P/<model_sanitized>/results_<ts>.json`` plus one ``samples_<task>_<ts>.jsonl`` per leaf
task, matched by the timestamp ``<ts>`` (``2024-12-23T14-45-44.695233``) in the same folder. A
results file may carry a prefix before the timestamp (``results_<prefix>_<ts>.json``, or
``<name>_<ts>.json`` as some ``--output_path`` values give); the timestamp suffix pairs it all
the same. A tree may hold several models and several runs.

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
its mean, the share of the item's instructions followed. ``Infinity`` / ``-Infinity`` are kept:
they are the worst or best outcome, not missing data (see ``read_scores(on_infinite=)``). Lines
without a ``metrics`` list (old versions) take their metric keys from ``higher_is_better[task]``
or ``configs[task].metric_list`` of the results file.

Directions: ``higher_is_better[task][metric]`` of the results file (else the ``higher_is_better``
of the task's ``metric_list`` entry) is each metric's direction (``LogRead.higher_is_better``),
so ``mae``, ``perplexity`` or ``wer`` rank the right way round without a flag.

Left out, and counted: **corpus-level metrics**, whose aggregate is not a mean of per-sample
values and whose per-sample value is no score of the item: an aggregation named in
:data:`CORPUS_AGGREGATIONS` (``perplexity``, ``bits_per_byte``, ``f1``, ``bleu``, ...), or a custom
aggregation function whose per-sample values are not numbers (a (gold, prediction) pair); one
note per task says which. Tasks of the results file without a samples file (run without
``--log_samples``), and results files of which no samples file was read.

Texts: the prompt (the first argument of the first request, ``arguments.gen_args_0.arg_0``), the
raw response (``resps[0][0]`` when it is text: generation tasks; log-likelihood tasks have none)
and the ``target``, per document.

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
_TS = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"  # datetime.isoformat(), ':' -> '-'
_RESULTS = re.compile(rf"results_(?P<ts>[^_]+)\.json|.+_(?P<ts2>{_TS})\.json")
_SAMPLES = re.compile(r"samples_(?P<task>.+)_(?P<ts>[^_]+)\.jsonl")
#: lm-eval's aggregations that are not a mean of per-sample scores (lm_eval.api.metrics).
CORPUS_AGGREGATIONS = frozenset({"perplexity", "weighted_perplexity", "bits_per_byte", "f1",
                                 "matthews_corrcoef", "bleu", "chrf", "ter", "brier_score"})
_CORPUS = "corpus-level metric (no per-item score)"
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


def _stamp(results: Path) -> str:
    m = _RESULTS.fullmatch(results.name)
    return m["ts"] or m["ts2"]


def _results_files(folder: Path, ts: str) -> list[Path]:
    """Results files in ``folder`` whose timestamp suffix is ``ts``, whatever their prefix."""
    return sorted(p for p in folder.glob(f"*{ts}.json")
                  if _RESULTS.fullmatch(p.name) and _stamp(p) == ts and p.is_file())


def read(files: Sequence[Path], sink: Sink) -> None:
    """Read every run that ``files`` name (a results file, or samples files of one run)."""
    runs: dict[Path, set[Path]] = {}
    whole: set[Path] = set()  # runs whose results file was named, so missing tasks are noted
    for path in files:
        if _RESULTS.fullmatch(path.name):
            ts = _stamp(path)
            runs.setdefault(path, set()).update(
                p for p in path.parent.glob(f"samples_*_{ts}.jsonl")
                if (m := _SAMPLES.fullmatch(p.name)) and m["ts"] == ts)
            whole.add(path)
        elif (m := _SAMPLES.fullmatch(path.name)):
            found = _results_files(path.parent, m["ts"])
            if len(found) == 1:
                runs.setdefault(found[0], set()).add(path)
            elif found:
                sink.error(path, 1, "", f"has {len(found)} results files with its timestamp "
                           f"{m['ts']} beside it ({', '.join(f.name for f in found)}); keep the "
                           "one lm-eval wrote with these samples")
            else:
                sink.error(path, 1, "", f"has no results file with its timestamp {m['ts']} "
                           f"beside it (results_{m['ts']}.json, or <prefix>_{m['ts']}.json); "
                           "lm-eval writes the model name and the metric list there: copy it "
                           "next to this file")
        else:
            sink.error(path, 1, "", "is not named results_<ts>.json or samples_<task>_<ts>.jsonl "
                       "as lm-eval names its files; rename it or read it as another format "
                       "(--format, format=)")
    for results, samples in sorted(runs.items()):
        if not samples:
            sink.skip("results file without samples (run without --log_samples)", results.name,
                      1, unit="files", where=results.parent)
            continue
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
    run = _stamp(results)
    tasks = set()
    for path in samples:
        task = _SAMPLES.fullmatch(path.name)["task"]
        tasks.add(task)
        values = _read_samples(path, task, model, run, head, sink)
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


def _read_samples(path: Path, task: str, model: str, run: str, head: dict[str, object],
                  sink: Sink) -> dict[tuple[str, str], dict[int, list[float]]]:
    """Add the file's rows; return ``{(metric, filter): {doc_id: [values]}}`` for the checks."""
    known = _metric_keys(head, task)
    reported = head["results"].get(task)
    directions = _directions(head, task)
    values: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    corpus: dict[tuple[str, str], int] = defaultdict(int)  # (metric, filter) -> lines
    for lineno, record in iter_jsonl(path, sink):
        rec = sink.pick(record, _SAMPLE_SPEC, file=path, line=lineno)
        if rec is None:
            continue
        names = _line_metrics(record, rec["metrics"], known, path, lineno, sink)
        doc_id = rec["doc_id"]
        for name in names or ():
            filter_name = rec["filter"] or _only_filter(reported, name, path, lineno, sink)
            if filter_name is None:
                continue
            raw = record[name]
            value = _value(raw)
            if _corpus_level(head, task, name, value):
                corpus[(name, filter_name)] += 1
                continue
            if value is None:
                sink.error(path, lineno, name, f"must be a number, true/false or a list of them, "
                           f"got {short(raw)}; fix or remove that line")
                continue
            metric = f"{task}/{name},{filter_name}"
            if name in directions:
                sink.direction(metric, directions[name][0], directions[name][1])
            values[(name, filter_name)][doc_id].append(value)
            sink.add(model=model, item=str(doc_id), metric=metric, value=value, task=task,
                     filter=filter_name, run=run, source_file=path)
        if names:
            _keep_text(record, model, str(doc_id), task, run, path, sink)
    if corpus:
        for (name, filter_name), lines in sorted(corpus.items()):
            sink.skip(_CORPUS, f"{task}/{name},{filter_name}", lines, where=path)
        shown = sorted({f"{n} (aggregated by {_aggregation_name(head, task, n)})"
                        for n, _ in corpus})
        sink.note(f"task {task!r}: {', '.join(shown)} are corpus-level metrics: the "
                  "aggregate is computed over all samples at once, not as a mean, and a "
                  "sample's value is no score of the item, so they are left out of the table "
                  "(counted in the read summary)")
    return values


def _keep_text(record: dict[str, object], model: str, item: str, task: str, run: str,
               path: Path, sink: Sink) -> None:
    """The prompt (first argument) and the raw response (first of ``resps``) of a sample."""
    args = record.get("arguments")
    prompt = None
    if isinstance(args, dict) and args:  # {"gen_args_0": {"arg_0": prompt, "arg_1": kwargs}}
        first = next(iter(args.values()))
        prompt = first.get("arg_0") if isinstance(first, dict) else None
    elif isinstance(args, list) and args:  # [[context, continuation], ...] (older versions)
        prompt = args[0][0] if isinstance(args[0], list) and args[0] else args[0]
    if isinstance(prompt, list) and len(prompt) == 1:  # chat APIs: a list with the messages
        prompt = prompt[0]
    resps = record.get("resps")
    response = resps[0] if isinstance(resps, list) and resps else None
    response = response[0] if isinstance(response, list) and response else response
    target = record.get("target")
    sink.text(model=model, item=item, task=task, run=run,
              prompt=prompt if isinstance(prompt, str) else None,
              response=response if isinstance(response, str) else None,
              reference=target if isinstance(target, str | int | float) else None,
              source_file=path)


def _directions(head: dict[str, object], task: str) -> dict[str, tuple[bool, str]]:
    """``{metric: (higher_is_better, what says so)}`` of a task, from the results file."""
    out: dict[str, tuple[bool, str]] = {}
    hib = (head["higher_is_better"] or {}).get(task)
    for name, d in (hib.items() if isinstance(hib, dict) else ()):
        if isinstance(d, bool):
            out[name] = (d, "results higher_is_better")
    config = (head["configs"] or {}).get(task)
    metric_list = config.get("metric_list") if isinstance(config, dict) else None
    for entry in metric_list if isinstance(metric_list, list) else ():
        if (isinstance(entry, dict) and isinstance(entry.get("metric"), str)
                and isinstance(entry.get("higher_is_better"), bool)):
            out.setdefault(entry["metric"], (entry["higher_is_better"],
                                             "configs metric_list higher_is_better"))
    return out


def _corpus_level(head: dict[str, object], task: str, name: str, value: float | None) -> bool:
    """Whether a metric is corpus-level: a known non-mean aggregation (its per-sample values,
    log-likelihoods or (gold, prediction) pairs, are no item scores even when numeric), or a
    custom aggregation function over values that are not numbers."""
    how = _aggregation(head, task, name)
    if how in CORPUS_AGGREGATIONS:
        return True
    return how is not None and how not in ("mean", "median") and value is None


def _aggregation_name(head: dict[str, object], task: str, name: str) -> str:
    how = _aggregation(head, task, name) or "its aggregation"
    if "def " in how or "<function" in how:  # the function's source or repr
        found = re.search(r"def\s+(\w+)|<function\s+(\w+)", how)
        return f"function {next(g for g in found.groups() if g)}" if found else "a function"
    return repr(how)


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
        parts = [to_float(v, infinite=True) for v in raw]
        return mean(parts) if parts and None not in parts else None
    return to_float(raw, infinite=True)


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
        reported = to_float(reported_task.get(f"{name},{filter_name}"), infinite=True)
        aggregation = _aggregation(head, task, name)
        if reported is None:
            continue
        if aggregation not in (None, "mean"):
            sink.note(f"{results}: {task} {name} is aggregated by "
                      f"{_aggregation_name(head, task, name)}, not a mean of per-sample values, "
                      "so it is not checked")
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
        for task in missing:
            sink.skip("task without a samples file", task, 1, unit="tasks", where=results)
