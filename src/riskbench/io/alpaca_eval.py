"""AlpacaEval ``results/<model>/[<annotator>/]annotations.json`` and ``model_outputs.json``.

Both are JSON arrays of records. An annotation compares ``output_1`` of the baseline
``generator_1`` with ``output_2`` of the model ``generator_2``; ``preference`` is 1 when the
baseline is better, 2 when the model is, anything between for weighted judges.

Naming
------
model
    ``generator_2`` (annotations), ``generator`` (model outputs).
item
    ``instruction`` with its whitespace collapsed: AlpacaEval has no item id and joins on the
    instruction text.
metric
    ``"<annotator>/win"`` = ``preference - 1`` in [0, 1], the per-item term of AlpacaEval's
    ``win_rate = 100 * mean(preference - 1)``; the legacy draw ``0`` is ``0.5`` as AlpacaEval
    counts it, and ``null`` / NaN preferences are dropped as AlpacaEval drops them (a note counts
    them). ``"model_outputs/length_chars"`` and ``"model_outputs/length_words"``: the output's
    length in characters and in whitespace-separated words (lower is not better or worse; choose
    the direction when building a ScoreTable).
run
    The file's folder (``claude-2/alpaca_eval_gpt4``).

The files carry no aggregate (AlpacaEval's leaderboards live elsewhere), so there is no check;
a note gives the recomputed ``win_rate`` per model and annotator. One annotator must use one
baseline (``generator_1``), or the win rates would mix comparisons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from riskbench.io._common import Field, Peek, Sink, absent, load_json, mean, short, to_float

NAME = "alpaca_eval"
DESCRIPTION = "AlpacaEval annotations.json and model_outputs.json"
_FIX = "the file must be AlpacaEval's own output"

_ANNOTATION_SPEC = (
    Field("instruction", (str,), fix=_FIX),
    Field("generator_1", (str,), fix=_FIX),
    Field("generator_2", (str,), fix=_FIX),
    Field("annotator", (str,), required=False),
    Field("preference", (float, type(None)), fix="keep the judge's preference (1 to 2, or null)"),
)
_OUTPUT_SPEC = (
    Field("instruction", (str,), fix=_FIX),
    Field("output", (str,), fix=_FIX),
    Field("generator", (str,), fix=_FIX),
)


def claims(peek: Peek) -> bool:
    """JSON arrays of records with an ``instruction`` and a preference or an output."""
    if peek.name in ("annotations.json", "model_outputs.json") and peek.head is None:
        return True
    keys = peek.keys()
    return (isinstance(peek.head, list) and "instruction" in keys
            and ("preference" in keys or {"output", "generator"} <= keys))


def read(files: Sequence[Path], sink: Sink) -> None:
    for path in files:
        records = load_json(path, sink)
        if absent(records):
            continue
        if not isinstance(records, list):
            sink.error(path, "top level", "", "must be a JSON array of records; " + _FIX)
            continue
        run = f"{path.parent.parent.name}/{path.parent.name}"
        if _is_outputs(path, records):
            _read_outputs(path, records, run, sink)
        else:
            _read_annotations(path, records, run, sink)


def _field(record: object, key: str) -> str | None:
    value = record.get(key) if isinstance(record, dict) else None
    return value if isinstance(value, str) else None


def _is_outputs(path: Path, records: list[object]) -> bool:
    if path.name in ("annotations.json", "model_outputs.json"):
        return path.name == "model_outputs.json"
    first = records[0] if records else None
    return isinstance(first, dict) and "preference" not in first


def _item(instruction: str) -> str:
    return " ".join(instruction.split())


def _read_annotations(path: Path, records: list[object], run: str, sink: Sink) -> None:
    wins: dict[tuple[str, str], list[float]] = defaultdict(list)
    baselines: dict[str, str] = {}
    dropped = draws = 0
    for index, record in enumerate(records):
        rec = sink.pick(record, _ANNOTATION_SPEC, file=path, line=f"record {index}")
        if rec is None:
            continue
        annotator = rec["annotator"] or path.parent.name
        baseline = baselines.setdefault(annotator, rec["generator_1"])
        if rec["generator_1"] != baseline:
            sink.error(path, f"record {index}", "generator_1", f"is {rec['generator_1']!r}, but "
                       f"annotator {annotator!r} compares with {baseline!r} elsewhere; keep one "
                       "baseline per annotator")
            continue
        preference = rec["preference"]
        if preference is None or to_float(preference) is None:
            dropped += 1  # AlpacaEval drops null / NaN preferences from its win rate
            sink.skip("annotation without a preference (null or NaN)", f"{annotator}/win",
                      1, unit="records", where=path)
            continue
        if preference == 0:
            draws += 1
            preference = 1.5
        if not 1 <= preference <= 2:
            sink.error(path, f"record {index}", "preference", f"is {short(preference)}, outside "
                       "[1, 2] (1: baseline better, 2: model better, 0: legacy draw); fix it")
            continue
        model, win = rec["generator_2"], float(preference) - 1
        wins[(model, annotator)].append(win)
        item = _item(rec["instruction"])
        sink.add(model=model, item=item, metric=f"{annotator}/win",
                 value=win, task=annotator, run=run, source_file=path)
        sink.direction(f"{annotator}/win", True, "AlpacaEval preference (2: model better)")
        sink.text(model=model, item=item, task=annotator, run=run, prompt=rec["instruction"],
                  response=_field(record, "output_2"), reference=_field(record, "output_1"),
                  source_file=path)
    _notes(path, wins, baselines, dropped, draws, sink)


def _notes(path: Path, wins: dict[tuple[str, str], list[float]], baselines: dict[str, str],
           dropped: int, draws: int, sink: Sink) -> None:
    for (model, annotator), values in sorted(wins.items()):
        sink.note(f"{path}: {model} vs {baselines[annotator]} judged by {annotator}: win_rate = "
                  f"{100 * mean(values):.3f} over {len(values)} annotations (100 x mean win)")
    if dropped:
        sink.note(f"{path}: dropped {dropped} annotation(s) without a preference (null or NaN), "
                  "as AlpacaEval does")
    if draws:
        sink.note(f"{path}: {draws} legacy draw(s) (preference 0) counted as win 0.5, as "
                  "AlpacaEval does")


def _read_outputs(path: Path, records: list[object], run: str, sink: Sink) -> None:
    for index, record in enumerate(records):
        rec = sink.pick(record, _OUTPUT_SPEC, file=path, line=f"record {index}")
        if rec is None:
            continue
        output = rec["output"]
        item = _item(rec["instruction"])
        for metric, value in (("length_chars", len(output)), ("length_words",
                                                               len(output.split()))):
            sink.add(model=rec["generator"], item=item,
                     metric=f"model_outputs/{metric}", value=float(value), task="model_outputs",
                     run=run, source_file=path)
        sink.text(model=rec["generator"], item=item, task="model_outputs", run=run,
                  prompt=rec["instruction"], response=output, source_file=path)
