"""HELM run folders (``benchmark_output/runs/<suite>/<run_name>/``).

A run folder holds ``run_spec.json`` (run name, model), ``per_instance_stats.json`` (the
per-instance ``Stat`` lists), ``stats.json`` (the aggregates), ``scenario_state.json`` (prompts
and completions) and ``scenario.json``. Any of these files, or the folder, or a tree of run
folders can be read. ``helm-summarize`` writes the suite's ``schema.json`` (the metric metadata)
and its leaderboard tables ``groups/<group>.json`` beside the run folders; both are used when
found in the run folder's parent or up to :data:`SCHEMA_DEPTH` levels above it.

Naming
------
model
    ``run_spec.adapter_spec.model`` (``openai/gpt2``), else ``scenario_state.adapter_spec.model``.
item
    ``instance_id`` (``id147``), unique within a scenario and shared by every model's run of it.
metric
    ``"<task>/<stat>,<split>"`` (``mmlu:subject=philosophy,method=multiple_choice_joint/
    exact_match,test``), with ``,<perturbation>`` appended for perturbed stats (each
    perturbation is its own metric). ``<task>`` is the run name without its ``model=`` /
    ``model_deployment=`` arguments, so runs of two models on one scenario share metric names;
    the split stays in the name because HELM aggregates each split on its own. Folder names are
    not used: copies often replace ``:`` in them.
run
    The run name.

What is read, and what is left out
----------------------------------
Every per-instance stat is read unless it is one of these (each left out is counted in the read
summary with its reason, never dropped silently):

1. a **log-probability** stat (:data:`LOGPROB_STATS`: the model's confidence, not the quality of
   its answer), unless ``logprobs=True`` (CLI ``--logprobs``);
2. with a ``schema.json``: a stat the schema lists **without** ``lower_is_better`` (HELM shows
   those as general information: token counts, runtimes, ``finish_reason_*``); a stat the
   schema lists **with** it is a metric of that direction (``LogRead.higher_is_better``);
3. a stat the schema does not list (or every stat, without a schema) that is **bookkeeping**:
   a name starting with one of :data:`BOOKKEEPING_PREFIXES` or in :data:`BOOKKEEPING_STATS`.
   Any other stat is read as a score; its direction is then stated nowhere (``riskbench``
   assumes higher is better and says so);
4. a stat with ``count`` 0 for an instance (undefined there).

Several ``train_trial_index`` values of one instance are averaged per instance, as HELM averages
within each trial and then across trials.

Texts: the prompt (``request.prompt``, else the instance input), the first completion and the
references tagged ``correct`` of each request state of ``scenario_state.json``, per instance.

Aggregate checks: each unperturbed ``(stat, split)`` of ``stats.json`` against the mean over
instances, and each cell of the ``groups/*.json`` leaderboard tables whose row is one run read
here and whose column is a stat read here (the column's display name looked up in the schema).
The perturbation "worst" aggregates have no per-instance counterpart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from riskbench.io._common import (
    COUNT_PREFIXES,
    Field,
    Peek,
    Sink,
    absent,
    load_json,
    lookup,
    mean,
    to_float,
)

NAME = "helm"
DESCRIPTION = "HELM run folders with per_instance_stats.json and run_spec.json"
RUN_FILES = frozenset({"per_instance_stats.json", "run_spec.json", "stats.json",
                       "scenario_state.json", "scenario.json"})
#: Stats that measure the likelihood a model gives, not the quality of its answer.
LOGPROB_STATS = frozenset({"logprob", "max_prob", "perplexity", "bits_per_byte",
                           "logprob_per_byte"})
#: Bookkeeping stats left out when no schema.json says otherwise: name prefixes ...
BOOKKEEPING_PREFIXES = (*COUNT_PREFIXES, "finish_reason_", "training_", "inference_",
                        "estimated_", "batch_")
#: ... and whole names.
BOOKKEEPING_STATS = frozenset({"batch_size", "prompt_truncated", "predicted_index",
                               "inference_runtime", "inference_denoised_runtime",
                               "inference_idealized_runtime", "training_co2_cost",
                               "training_energy_cost", "num_instances"})
#: How many folders above a run folder are searched for ``schema.json``.
SCHEMA_DEPTH = 3
_ANCHORS = ("per_instance_stats.json", "run_spec.json")  # files only HELM run folders hold
_MODEL_ARGS = ("model=", "model_deployment=")
_FIX = "the file must be HELM's own output; run helm-run again"
_LOGPROB = "log-probability stat (read them with logprobs=True or --logprobs)"
_BOOKKEEPING = "HELM bookkeeping stat"
_INFO = "listed in schema.json without lower_is_better (information, not a score)"

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

_Values = dict[tuple[str, str | None, str | None], dict[str, list[float]]]


class _Schema:
    """What a suite's ``schema.json`` says: direction of each metric, and the display names."""

    def __init__(self, path: Path, doc: object, sink: Sink) -> None:
        self.path = path
        self.lower: dict[str, bool | None] = {}  # stat -> lower_is_better (None: not stated)
        self.display: dict[str, str] = {}  # display name -> stat
        self.main_split: dict[str, str] = {}  # run group -> its main split
        metrics = lookup(doc, "metrics")
        if not isinstance(metrics, list):
            sink.error(path, "top level", "metrics", "must be the list of metric entries "
                       "helm-summarize writes; write the schema again with helm-summarize")
            return
        for entry in metrics:
            name = lookup(entry, "name")
            if not isinstance(name, str):
                continue
            lower = lookup(entry, "lower_is_better")
            self.lower[name] = lower if isinstance(lower, bool) else None
            for key in ("display_name", "short_display_name"):
                shown = lookup(entry, key)
                if isinstance(shown, str):
                    self.display.setdefault(shown, name)
        groups = lookup(doc, "run_groups")
        for group in groups if isinstance(groups, list) else ():
            name, split = lookup(group, "name"), lookup(group, "environment.main_split")
            if isinstance(name, str) and isinstance(split, str):
                self.main_split[name] = split


def claims(peek: Peek) -> bool:
    """The files of a run folder, by name, in a folder with a run spec or per-instance stats."""
    folder = peek.path.parent
    return (peek.name in RUN_FILES and not isinstance(peek.head, tuple)
            and any((folder / name).is_file() for name in _ANCHORS))


def read(files: Sequence[Path], sink: Sink) -> None:
    schemas: dict[Path, _Schema | None] = {}
    runs: dict[str, _Values] = {}  # run name -> values, for the leaderboard checks
    given = set(files)
    for folder in sorted({path.parent for path in files}):
        schema = _schema(folder, schemas, sink)
        read_run = _read_run(folder, schema, sink)
        if folder / "scenario.json" in given:
            sink.skip("HELM scenario description (no scores)", "scenario.json", 1,
                      unit="files", where=folder)
        if folder / "scenario_state.json" in given and not sink.keep_texts:
            sink.skip("prompts and responses, not kept (this command shows no texts)",
                      "scenario_state.json", 1, unit="files", where=folder)
        if read_run is not None:
            runs[read_run[0]] = read_run[1]
    for schema in {id(s): s for s in schemas.values() if s is not None}.values():
        _check_groups(schema, runs, sink)


def _schema(folder: Path, cache: dict[Path, _Schema | None], sink: Sink) -> _Schema | None:
    """The nearest ``schema.json`` in the run folder's parents (``SCHEMA_DEPTH`` levels)."""
    for parent in list(folder.parents)[:SCHEMA_DEPTH]:
        if parent not in cache:
            path = parent / "schema.json"
            doc = load_json(path, sink) if path.is_file() else None
            cache[parent] = None if doc is None or absent(doc) else _Schema(path, doc, sink)
        if cache[parent] is not None:
            return cache[parent]
    return None


def _read_run(folder: Path, schema: _Schema | None,
              sink: Sink) -> tuple[str, _Values] | None:
    stats_file = folder / "per_instance_stats.json"
    if not stats_file.is_file():
        sink.error(folder, "run folder", "per_instance_stats.json", "is missing; HELM writes it "
                   "when helm-run finishes: run it again, or copy the file into the folder")
        return None
    identity = _identity(folder, sink)
    if identity is None:
        return None
    task, model, run = identity
    entries = load_json(stats_file, sink)
    if absent(entries):
        return None
    if not isinstance(entries, list):
        sink.error(stats_file, "top level", "", "must be a JSON array of per-instance entries; "
                   + _FIX)
        return None
    values: _Values = defaultdict(lambda: defaultdict(list))
    left_out: dict[tuple[str, str], int] = defaultdict(int)  # (reason, stat) -> values
    for index, entry in enumerate(entries):
        _read_entry(entry, index, stats_file, values, left_out, schema, sink)
    for (reason, stat), count in sorted(left_out.items()):
        sink.skip(reason, stat, count, where=folder)
    if not values:
        sink.skip("HELM run folder without a score stat", run, 1, unit="run folders",
                  where=folder)
    perturbed = sorted({p for (_, _, p) in values if p})
    if perturbed:
        sink.note(f"{folder}: perturbed instances ({', '.join(perturbed)}) are read as separate "
                  "metrics, named with the perturbation after the split")
    for (stat, split, perturbation), per_item in values.items():
        metric = _metric(task, stat, split, perturbation)
        if schema is not None and schema.lower.get(stat) is not None:
            sink.direction(metric, not schema.lower[stat], "schema.json lower_is_better")
        for item, item_values in per_item.items():
            for value in item_values:
                sink.add(model=model, item=item, metric=metric, value=value, task=task,
                         split=split, run=run, source_file=stats_file)
    _texts(folder / "scenario_state.json", model, task, run, sink)
    _check(folder / "stats.json", task, values, sink)
    return run, values


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


def left_out_reason(stat: str, schema: _Schema | None, *, logprobs: bool) -> str | None:
    """Why a stat is not read as a score, or ``None`` when it is (see the module docstring)."""
    if stat in LOGPROB_STATS or "logprob" in stat:
        return None if logprobs else _LOGPROB
    if schema is not None and stat in schema.lower:
        return None if schema.lower[stat] is not None else _INFO
    if stat in BOOKKEEPING_STATS or stat.startswith(BOOKKEEPING_PREFIXES):
        return _BOOKKEEPING
    return None


def _read_entry(entry: object, index: int, path: Path, values: _Values,
                left_out: dict[tuple[str, str], int], schema: _Schema | None,
                sink: Sink) -> None:
    where = f"entry {index}"
    rec = sink.pick(entry, _ENTRY_SPEC, file=path, line=where)
    if rec is None:
        return
    for position, stat in enumerate(rec["stats"]):
        name = lookup(stat, "name.name")
        if not isinstance(name, str):
            sink.error(path, f"{where}, stat {position}", "name.name", "is missing or not a "
                       "string; " + _FIX)
            continue
        reason = left_out_reason(name, schema, logprobs=sink.logprobs)
        if reason is not None:
            left_out[(reason, name)] += 1
            continue
        got = sink.pick(stat, _STAT_SPEC, file=path, line=f"{where}, stat {position}")
        if got is None:
            continue
        count = to_float(got["count"])
        if not count:  # count 0: the stat is undefined for this instance
            left_out[("undefined for the instance (count 0)", name)] += 1
            continue
        total = to_float(got["sum"], infinite=True)
        value = (to_float(got["mean"], infinite=True) if got["mean"] is not None
                 else None if total is None else total / count)
        if value is None:
            sink.error(path, f"{where}, stat {position}", "mean", f"of {name!r} is not a "
                       "number; " + _FIX)
            continue
        perturbation = got["name.perturbation.name"] or rec["perturbation.name"]
        values[(name, got["name.split"], perturbation)][rec["instance_id"]].append(value)


def _texts(path: Path, model: str, task: str, run: str, sink: Sink) -> None:
    """Prompt and first completion of each request state (the first per instance is kept)."""
    if not sink.keep_texts or not path.is_file():
        return
    state = load_json(path, sink)
    states = lookup(state, "request_states") if not absent(state) else None
    if not isinstance(states, list):
        return
    seen: set[str] = set()
    for rs in states:
        item = lookup(rs, "instance.id")
        if not isinstance(item, str) or item in seen:
            continue
        seen.add(item)
        prompt = lookup(rs, "request.prompt")
        if not isinstance(prompt, str):
            prompt = lookup(rs, "instance.input.text")
        completions = lookup(rs, "result.completions")
        response = (lookup(completions[0], "text")
                    if isinstance(completions, list) and completions else None)
        refs = lookup(rs, "instance.references")
        correct = [lookup(r, "output.text") for r in refs
                   if _tagged_correct(r)] if isinstance(refs, list) else []
        correct = [c for c in correct if isinstance(c, str)]
        sink.text(model=model, item=item, task=task, run=run,
                  prompt=prompt if isinstance(prompt, str) else None,
                  response=response if isinstance(response, str) else None,
                  reference=" | ".join(correct) or None, source_file=path)


def _tagged_correct(reference: object) -> bool:
    tags = lookup(reference, "tags")
    return isinstance(tags, list) and "correct" in tags


def _check(path: Path, task: str, values: _Values, sink: Sink) -> None:
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
        reported = to_float(lookup(stat, "mean"), infinite=True)
        perturbed = not absent(lookup(stat, "name.perturbation"))
        if (isinstance(name, str) and isinstance(split, str | None) and not perturbed
                and reported is not None and (name, split, None) in values):
            per_item = values[(name, split, None)]
            sink.check(path, _metric(task, name, split, None), reported,
                       mean([mean(v) for v in per_item.values()]))


def _check_groups(schema: _Schema, runs: dict[str, _Values], sink: Sink) -> None:
    """HELM's leaderboard cells (``groups/*.json``) against the means of the runs read."""
    folder = schema.path.parent / "groups"
    if not folder.is_dir() or not runs:
        return
    for path in sorted(folder.glob("*.json")):
        tables = load_json(path, sink)
        for table in tables if isinstance(tables, list) else ():
            header = lookup(table, "header")
            rows = lookup(table, "rows")
            if not isinstance(header, list) or not isinstance(rows, list):
                continue
            columns = [(c, schema.display.get(shown) if isinstance(shown, str) else None)
                       for c, shown in enumerate(lookup(h, "metadata.metric") for h in header)]
            for row in rows:
                specs = lookup(row[0], "run_spec_names") if isinstance(row, list) and row \
                    else None
                if not (isinstance(specs, list) and len(specs) == 1
                        and isinstance(specs[0], str) and specs[0] in runs):
                    continue
                run = specs[0]
                for c, stat in columns:
                    if stat is None or c >= len(row):
                        continue
                    reported = to_float(lookup(row[c], "value"), infinite=True)
                    key = _group_key(runs[run], stat, schema, run)
                    if reported is not None and key is not None:
                        sink.check(path, _metric(_task(run), *key, None), reported,
                                   mean([mean(v) for v in runs[run][(*key, None)].values()]))


def _group_key(values: _Values, stat: str, schema: _Schema,
               run: str) -> tuple[str, str | None] | None:
    """The (stat, split) a leaderboard column shows: the only split read, or the group's main."""
    splits = [split for (name, split, p) in values if name == stat and p is None]
    if len(splits) == 1:
        return stat, splits[0]
    main = schema.main_split.get(run.partition(":")[0])
    return (stat, main) if main in splits else None
