"""HELM run folders (``benchmark_output/runs/<suite>/<run_name>/``).

A run folder holds ``run_spec.json`` (run name, model), ``per_instance_stats.json`` (the
per-instance ``Stat`` lists), ``stats.json`` (the aggregates), ``scenario_state.json`` and
``scenario.json``. Any of these files, or the folder, or a tree of run folders can be read.

Naming
------
model
    ``run_spec.adapter_spec.model`` (``openai/gpt2``), else ``scenario_state.adapter_spec.model``.
item
    ``instance_id`` (``id147``), unique within a scenario and shared by every model's run of it.
metric
    ``"<task>/<stat>,<split>"`` (``mmlu:subject=philosophy,method=multiple_choice_joint/
    exact_match,test``), with ``,<perturbation>`` appended for perturbed stats. ``<task>`` is the
    run name without its ``model=`` / ``model_deployment=`` arguments, so runs of two models on
    one scenario share metric names; the split stays in the name because HELM aggregates each
    split on its own. Folder names are not used: copies often replace ``:`` in them.
run
    The run name.

Only score stats are read (:data:`SCORE_STATS`); bookkeeping stats (token counts, runtimes,
``finish_reason_*``) are not scores. A stat with ``count`` 0 is undefined and skipped. Several
``train_trial_index`` values of one instance are averaged per instance, as HELM averages within
each trial and then across trials.

Aggregate check: each unperturbed ``(stat, split)`` of ``stats.json`` against the mean over
instances. The perturbation "worst" aggregates have no per-instance counterpart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from riskbench.io._common import Field, Peek, Sink, absent, load_json, lookup, mean, to_float

NAME = "helm"
DESCRIPTION = "HELM run folders with per_instance_stats.json and run_spec.json"
RUN_FILES = frozenset({"per_instance_stats.json", "run_spec.json", "stats.json",
                       "scenario_state.json", "scenario.json"})
SCORE_STATS = frozenset({
    "exact_match", "quasi_exact_match", "prefix_exact_match", "quasi_prefix_exact_match",
    "exact_match@5", "quasi_exact_match@5", "prefix_exact_match@5",
    "quasi_prefix_exact_match@5", "exact_set_match", "iou_set_match", "f1_set_match",
    "f1_score", "rouge_1", "rouge_2", "rouge_l", "bleu_1", "bleu_4", "chr_f_plus_plus",
    "math_equiv", "math_equiv_chain_of_thought", "code_eval_acc", "pass", "logprob",
    "absolute_value_difference", "ifeval_strict_accuracy", "bertscore_f1",
})
_ANCHORS = ("per_instance_stats.json", "run_spec.json")  # files only HELM run folders hold
_MODEL_ARGS = ("model=", "model_deployment=")
_FIX = "the file must be HELM's own output; run helm-run again"

_ENTRY_SPEC = (
    Field("instance_id", (str,), fix=_FIX),
    Field("stats", (list,), fix=_FIX),
    Field("train_trial_index", (int,), required=False),
    Field("perturbation.name", (str,), required=False),
)
_STAT_SPEC = (
    Field("name.name", (str,), fix=_FIX),
    Field("name.split", (str,), required=False),
    Field("name.perturbation.name", (str,), required=False),
    Field("count", (int,), fix=_FIX),
    Field("sum", (float,), fix=_FIX),
    Field("mean", (float,), required=False),
)


def claims(peek: Peek) -> bool:
    """The files of a run folder, by name, in a folder with a run spec or per-instance stats."""
    folder = peek.path.parent
    return (peek.name in RUN_FILES and not isinstance(peek.head, tuple)
            and any((folder / name).is_file() for name in _ANCHORS))


def read(files: Sequence[Path], sink: Sink) -> None:
    for folder in sorted({path.parent for path in files}):
        _read_run(folder, sink)


def _read_run(folder: Path, sink: Sink) -> None:
    stats_file = folder / "per_instance_stats.json"
    if not stats_file.is_file():
        sink.error(folder, "run folder", "per_instance_stats.json", "is missing; HELM writes it "
                   "when helm-run finishes: run it again, or copy the file into the folder")
        return
    identity = _identity(folder, sink)
    if identity is None:
        return
    task, model, run = identity
    entries = load_json(stats_file, sink)
    if absent(entries):
        return
    if not isinstance(entries, list):
        sink.error(stats_file, "top level", "", "must be a JSON array of per-instance entries; "
                   + _FIX)
        return
    values: dict[tuple[str, str | None, str | None], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list))
    for index, entry in enumerate(entries):
        _read_entry(entry, index, stats_file, values, sink)
    for (stat, split, perturbation), per_item in values.items():
        metric = _metric(task, stat, split, perturbation)
        for item, item_values in per_item.items():
            for value in item_values:
                sink.add(model=model, item=item, metric=metric, value=value, task=task,
                         split=split, run=run, source_file=stats_file)
    _check(folder / "stats.json", task, values, sink)


def _identity(folder: Path, sink: Sink) -> tuple[str, str, str] | None:
    """``(task, model, run name)`` from run_spec.json, falling back to scenario_state.json."""
    spec_file = folder / "run_spec.json"
    spec = load_json(spec_file, sink) if spec_file.is_file() else None
    if absent(spec):
        return None
    name = lookup(spec, "name")
    model = lookup(spec, "adapter_spec.model")
    if not isinstance(model, str):
        state_file = folder / "scenario_state.json"
        state = load_json(state_file, sink) if state_file.is_file() else None
        model = None if absent(state) else lookup(state, "adapter_spec.model")
    if not isinstance(model, str) or not model.strip():
        sink.error(spec_file, "top level", "adapter_spec.model", "is missing, and "
                   "scenario_state.json names no model either; HELM writes both: copy "
                   "run_spec.json into the run folder")
        return None
    if not isinstance(name, str) or not name.strip():
        name = folder.name
        sink.note(f"{folder}: run_spec.json gives no run name; the folder name is used")
    return _task(name), model.strip(), name


def _task(run_name: str) -> str:
    """The run name without model arguments: ``mmlu:subject=x,model=a_b`` -> ``mmlu:subject=x``."""
    scenario, _, args = run_name.partition(":")
    kept = [a for a in args.split(",") if a and not a.startswith(_MODEL_ARGS)]
    return f"{scenario}:{','.join(kept)}" if kept else scenario


def _metric(task: str, stat: str, split: str | None, perturbation: str | None) -> str:
    parts = [stat, split or "none"] + ([perturbation] if perturbation else [])
    return f"{task}/{','.join(parts)}"


def _read_entry(entry: object, index: int, path: Path,
                values: dict[tuple[str, str | None, str | None], dict[str, list[float]]],
                sink: Sink) -> None:
    where = f"entry {index}"
    rec = sink.pick(entry, _ENTRY_SPEC, file=path, line=where)
    if rec is None:
        return
    for position, stat in enumerate(rec["stats"]):
        name = lookup(stat, "name.name")
        if not isinstance(name, str) or name not in SCORE_STATS:
            continue
        got = sink.pick(stat, _STAT_SPEC, file=path, line=f"{where}, stat {position}")
        count = None if got is None else to_float(got["count"])
        if not count:  # count 0: the stat is undefined for this instance
            continue
        total = to_float(got["sum"])
        value = (to_float(got["mean"]) if got["mean"] is not None
                 else None if total is None else total / count)
        if value is None:
            sink.error(path, f"{where}, stat {position}", "mean", f"of {name!r} is not a finite "
                       "number; " + _FIX)
            continue
        perturbation = got["name.perturbation.name"] or rec["perturbation.name"]
        values[(name, got["name.split"], perturbation)][rec["instance_id"]].append(value)


def _check(path: Path, task: str,
           values: dict[tuple[str, str | None, str | None], dict[str, list[float]]],
           sink: Sink) -> None:
    if not path.is_file():
        sink.note(f"{path.parent}: no stats.json, so the aggregates are not checked")
        return
    stats = load_json(path, sink)
    if absent(stats):
        return
    if not isinstance(stats, list):
        sink.error(path, "top level", "", "must be a JSON array of stats; " + _FIX)
        return
    for stat in stats:
        name, split = lookup(stat, "name.name"), lookup(stat, "name.split")
        split = None if absent(split) else split
        reported = to_float(lookup(stat, "mean"))
        perturbed = not absent(lookup(stat, "name.perturbation"))
        if (isinstance(name, str) and isinstance(split, str | None) and not perturbed
                and reported is not None and (name, split, None) in values):
            per_item = values[(name, split, None)]
            sink.check(path, _metric(task, name, split, None), reported,
                       mean([mean(v) for v in per_item.values()]))
