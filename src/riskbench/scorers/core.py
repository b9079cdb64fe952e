"""From raw generations to a ScoreTable: read (model, item, prompt, response) records, run the
chosen scorers (in parallel across cores where they are CPU-bound), and return per-item metrics.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from riskbench import _limits
from riskbench._workers import worker_pool
from riskbench.errors import InputError
from riskbench.scorers.length import length_scores
from riskbench.scorers.toxicity import toxicity_scores
from riskbench.table import ScoreTable, jsonl_records, read_scores

__all__ = ["SCORERS", "Generation", "read_generations", "score"]

SCORERS = ("ifeval", "toxicity", "length")
#: Direction of every metric the scorers write.
DIRECTIONS = {"ifeval_strict": True, "ifeval_loose": True, "ifeval_prompt_strict": True,
              "ifeval_prompt_loose": True, "toxicity": False, "length_chars": False,
              "length_words": False, "length_tokens": False}
_ITEM_FIELDS = ("item", "sample_id", "key", "id")
CHUNK = 64  # generations per parallel task

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Generation:
    """One model's response to one item, with its IFEval instructions when known."""

    model: str
    item: str
    prompt: str | None
    response: str
    instruction_id_list: tuple[str, ...] | None = None
    kwargs: tuple[dict, ...] | None = None
    key: object = None
    where: str = ""


def _records(path: Path) -> list[tuple[str, dict]]:
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        try:
            return [(f"line {lineno}", record)
                    for lineno, record in jsonl_records(path, str(path))]
        except UnicodeDecodeError:
            raise InputError(f"{path}: is not UTF-8 text; re-save it as UTF-8") from None
        except EOFError as exc:  # a cut .jsonl.gz
            raise InputError(f"{path}: cannot be read ({exc}); the file is truncated") from None
    if name.endswith((".csv", ".csv.gz", ".parquet")):
        try:
            if name.endswith(".parquet"):
                _limits.check_parquet(path)
                frame = pd.read_parquet(path)
            else:
                _limits.check_columns(path)
                with _limits.open_input(path, lines=True) as fh:
                    frame = pd.read_csv(fh, dtype=str, keep_default_na=False)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - any parser failure is the user's file
            raise InputError(f"{path}: cannot be read ({str(exc).splitlines()[0]})") from None
        offset = 1 if name.endswith(".parquet") else 2
        label = "row" if name.endswith(".parquet") else "line"
        return [(f"{label} {i + offset}", rec) for i, rec in
                enumerate(frame.to_dict(orient="records"))]
    raise InputError(f"{path}: generations must be a .jsonl, .csv or .parquet file with fields "
                     "model, item, prompt, response")


def _text(record: Mapping, field: str, where: str, source: str, required: bool) -> str | None:
    value = record.get(field)
    if value is None or (isinstance(value, float) and value != value):
        if required:
            raise InputError(f"{source}: {where}: missing field {field!r}; every generation "
                             "needs model, item, response (and prompt for IFEval)")
        return None
    if not isinstance(value, str | int | float):
        raise InputError(f"{source}: {where}: field {field!r} must be text; got "
                         f"{type(value).__name__}")
    return str(value)


def _json_field(value: object, field: str, where: str, source: str):
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(f"{source}: {where}: field {field!r} is not valid JSON") from None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, list):
        raise InputError(f"{source}: {where}: field {field!r} must be a list")
    return tuple(value)


def read_generations(source: object) -> list[Generation]:
    """Read generations from a JSONL / CSV / Parquet file or a DataFrame.

    Fields: ``model``, an item id (``item``, ``sample_id``, ``key`` or ``id``), ``response``,
    and ``prompt``; optionally IFEval's ``instruction_id_list`` and ``kwargs`` (lists, or JSON
    text in a CSV). Errors name the file, the line and the field.
    """
    if isinstance(source, pd.DataFrame):
        name, rows = "DataFrame", [(f"row {i}", r) for i, r in
                                   enumerate(source.to_dict(orient="records"))]
    else:
        path = Path(str(source))
        _limits.check_regular(path)
        if not path.is_file():
            raise InputError(f"{path}: no such generations file")
        name, rows = str(path), _records(path)
    if not rows:
        raise InputError(f"{name}: no generations")
    out, seen = [], {}
    for where, record in rows:
        item_field = next((f for f in _ITEM_FIELDS if record.get(f) not in (None, "")), None)
        if item_field is None:
            raise InputError(f"{name}: {where}: missing field 'item' (or sample_id, key, id); "
                             "every generation needs an item id shared across models")
        model = _text(record, "model", where, name, True)
        item = _text(record, item_field, where, name, True)
        ids = record.get("instruction_id_list")
        kwargs = record.get("kwargs")
        gen = Generation(
            model=model, item=item, prompt=_text(record, "prompt", where, name, False),
            response=_text(record, "response", where, name, True),
            instruction_id_list=None if ids is None or ids == "" else
            tuple(str(i) for i in _json_field(ids, "instruction_id_list", where, name)),
            kwargs=None if kwargs is None or kwargs == "" else
            tuple(_json_field(kwargs, "kwargs", where, name)),
            key=record.get("key"), where=f"{name}: {where}",
        )
        if (model, item) in seen:
            raise InputError(f"{name}: {where}: model {model!r} item {item!r} repeats "
                             f"{seen[(model, item)]}; keep one generation per model and item "
                             "(score repeated samples separately and average them)")
        seen[(model, item)] = where
        out.append(gen)
    return out


def _bundled_ifeval() -> tuple[dict, dict]:
    text = (resources.files("riskbench.scorers") / "data" / "ifeval_input_data.jsonl").read_text(
        encoding="utf-8")
    by_key, by_prompt = {}, {}
    for line in text.splitlines():
        if line.strip():
            rec = json.loads(line)
            entry = (tuple(rec["instruction_id_list"]), tuple(rec["kwargs"]))
            by_key[str(rec["key"])] = entry
            by_prompt[rec["prompt"].strip()] = entry
    return by_key, by_prompt


def _ifeval_inputs(gens: Sequence[Generation]) -> list[dict]:
    by_key = by_prompt = None
    out = []
    for g in gens:
        ids, kwargs = g.instruction_id_list, g.kwargs
        if ids is None or kwargs is None:
            if by_key is None:
                by_key, by_prompt = _bundled_ifeval()
            found = by_prompt.get((g.prompt or "").strip()) or by_key.get(str(g.key))
            if found is None:
                raise InputError(f"{g.where}: no IFEval instructions: the prompt is not one of "
                                 "IFEval's 541 and the record has no instruction_id_list / "
                                 "kwargs; add them, or drop --scorer ifeval")
            ids, kwargs = found
        if len(ids) != len(kwargs):
            raise InputError(f"{g.where}: instruction_id_list has {len(ids)} entries but kwargs "
                             f"has {len(kwargs)}; give one kwargs dict per instruction")
        out.append({"key": g.key, "prompt": g.prompt or "", "response": g.response,
                    "instruction_id_list": list(ids), "kwargs": [dict(k or {}) for k in kwargs]})
    return out


def _ifeval_chunk(records: list[dict]) -> list[tuple[float, float, float, float]]:
    from riskbench.scorers.ifeval import score_ifeval

    strict = score_ifeval(records, loose=False)
    loose = score_ifeval(records, loose=True)
    out = []
    for s, lo in zip(strict, loose, strict=True):
        n = max(1, len(s["follow_instruction_list"]))
        out.append((sum(s["follow_instruction_list"]) / n, sum(lo["follow_instruction_list"]) / n,
                    float(s["follow_all_instructions"]), float(lo["follow_all_instructions"])))
    return out


def _run_ifeval(records: list[dict], jobs: int, progress: Progress | None) -> list[tuple]:
    chunks = [records[i:i + CHUNK] for i in range(0, len(records), CHUNK)]
    results: list[tuple] = []
    if jobs <= 1 or len(chunks) <= 1:
        for done, chunk in enumerate(chunks, start=1):
            results.extend(_ifeval_chunk(chunk))
            if progress:
                progress(min(done * CHUNK, len(records)), len(records))
        return results
    with worker_pool(jobs) as pool:  # workers die with us, even on SIGKILL
        for done, part in enumerate(pool.map(_ifeval_chunk, chunks), start=1):
            results.extend(part)
            if progress:
                progress(min(done * CHUNK, len(records)), len(records))
    return results


def _require_packages(chosen: Sequence[str], toxicity_model: str) -> None:
    """Fail before reading or scoring anything when a chosen scorer's package is missing."""
    from riskbench._extras import require

    if "ifeval" in chosen:
        require("langdetect", needed_by="the ifeval scorer (its language checks)")
    if "toxicity" in chosen and toxicity_model == "profanity":
        require("profanity_check", needed_by="the toxicity scorer (alt-profanity-check ships "
                "its model)")


def score(source: object, *, scorers: Sequence[str] = ("length",),
          toxicity_model: str = "profanity", jobs: int | None = None,
          progress: Progress | None = None) -> tuple[ScoreTable, tuple[str, ...]]:
    """Score raw generations.

    Parameters
    ----------
    source : path or DataFrame
        Generations (see :func:`read_generations`).
    scorers : sequence of {"ifeval", "toxicity", "length"}
        ifeval: share of the prompt's verifiable instructions followed, strict and loose
        (``ifeval_strict``, ``ifeval_loose``; higher is better), and whether all were
        (``ifeval_prompt_strict``, ``ifeval_prompt_loose``). toxicity: offensive-language
        probability (lower is better). length: characters, words, and tokens when tiktoken's
        encoding is cached (lower is better).
    toxicity_model : str
        "profanity" (default), or local weights "hf:PATH" / "detoxify:PATH".
    jobs : int, optional
        Processes for the CPU-bound scorers (default: all cores).

    Returns
    -------
    (ScoreTable, notes)
        The table knows each metric's direction; ``notes`` says what was skipped and why.
    """
    chosen = tuple(dict.fromkeys(scorers))
    unknown = [s for s in chosen if s not in SCORERS]
    if unknown or not chosen:
        raise InputError(f"unknown scorer(s) {', '.join(map(repr, unknown)) or '(none given)'};"
                         f" choose from {', '.join(SCORERS)}")
    _require_packages(chosen, toxicity_model)
    gens = read_generations(source)
    jobs = max(1, jobs or os.cpu_count() or 1)
    columns: dict[str, list[float]] = {}
    notes: list[str] = []
    if "ifeval" in chosen:
        rows = _run_ifeval(_ifeval_inputs(gens), jobs, progress)
        for name, u in (("ifeval_strict", 0), ("ifeval_loose", 1), ("ifeval_prompt_strict", 2),
                        ("ifeval_prompt_loose", 3)):
            columns[name] = [r[u] for r in rows]
    responses = [g.response for g in gens]
    if "toxicity" in chosen:
        columns["toxicity"] = toxicity_scores(responses, model=toxicity_model)
        if toxicity_model == "profanity":
            notes.append("toxicity: alt-profanity-check's offensive-language probability, a "
                         "crude bag-of-words proxy")
    if "length" in chosen:
        lengths, length_notes = length_scores(responses)
        columns.update(lengths)
        notes.extend(length_notes)
    frame = pd.DataFrame({
        "model": [g.model for g in gens for _ in columns],
        "item": [g.item for g in gens for _ in columns],
        "metric": [m for _ in gens for m in columns],
        "value": [columns[m][i] for i in range(len(gens)) for m in columns],
    })
    table = read_scores(frame, higher_is_better={m: DIRECTIONS[m] for m in columns},
                        align="none")
    return table, tuple(notes)
