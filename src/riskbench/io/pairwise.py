"""Pairwise judge records: FastChat GPT-4 reviews and Chatbot-Arena-style battles.

FastChat (``fastchat/eval/table``): review files ``review/<dir>/review_<a>_<b>.jsonl`` with one
line per question (``question_id``, ``answer1_id``, ``answer2_id``, ``score: [s1, s2]``), and
answer files ``answer/answer_<model>.jsonl`` mapping ``answer_id`` to ``model_id``. The answer
files are found among the files read or in an ``answer/`` folder up to three levels above each
review file. Arena battles: records ``{model_a, model_b, winner, question_id}`` with ``winner`` in
``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``, as JSON Lines or a JSON array.

Scalarisation (stated in ``notes``)
-----------------------------------
A battle's outcome for a model is 1 (win), 1/2 (tie) or 0 (loss): FastChat compares the judge's
score pair, Arena reads ``winner``. A model's score on an item is its **win share**: the mean
outcome over the battles it fought on that item, against whichever models it met there. With one
anchor model reviewed against each other model (FastChat), the anchor's win share is the mean over
its opponents and each opponent's is its single outcome against the anchor. Reviews whose judge
gave no scores (FastChat writes ``[-1, -1]``) are dropped, with a note.

Naming
------
model
    ``model_id`` of the answer (``vicuna-13b:20230322-clean-lang``); ``model_a`` / ``model_b``.
item
    ``question_id`` as a string.
metric
    ``"fastchat/win_share"`` and ``"fastchat/judge_score"`` (the judge's 1-10 score of the
    model's answer, averaged over the reviews of that answer); ``"arena/win_share"``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
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

NAME = "pairwise"
DESCRIPTION = "FastChat review_*.jsonl with their answer files, or arena battle records"
RULE = ("pairwise judgments scalarised per item: win share = mean outcome of the model's battles "
        "on that item against the models it met there (win 1, tie 1/2, loss 0)")
OUTCOMES = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
_ANSWER_DEPTH = 3  # review/<dir>/review_x.jsonl sits two levels below answer/'s parent
_FIX = "the file must be FastChat's or the arena's own output"

_REVIEW_SPEC = (
    Field("question_id", (int, str), fix=_FIX),
    Field("answer1_id", (str,), fix=_FIX),
    Field("answer2_id", (str,), fix=_FIX),
    Field("score", (list,), fix="keep the judge's score pair [s1, s2]"),
)
_ANSWER_SPEC = (
    Field("answer_id", (str,), fix=_FIX),
    Field("model_id", (str,), fix=_FIX),
    Field("question_id", (int, str), fix=_FIX),
)
_BATTLE_SPEC = (
    Field("model_a", (str,), fix=_FIX),
    Field("model_b", (str,), fix=_FIX),
    Field("winner", (str,), fix=f"winner must be one of {', '.join(OUTCOMES)}"),
    Field("question_id", (int, str), fix="each battle needs the id of its prompt"),
)

_Battle = tuple[str, str, str, float, Path]  # (item, model_a, model_b, outcome for a, file)


def claims(peek: Peek) -> bool:
    keys = peek.keys()
    return (not isinstance(peek.head, tuple)
            and ({"review_id", "answer1_id", "answer2_id"} <= keys
                 or {"answer_id", "model_id", "question_id"} <= keys
                 or {"model_a", "model_b", "winner"} <= keys))


def read(files: Sequence[Path], sink: Sink) -> None:
    answers: dict[str, tuple[str, str]] = {}  # answer_id -> (model_id, question_id)
    reviews: list[tuple[Path, int | str, dict[str, object]]] = []
    arena: list[_Battle] = []
    read_files = set(files)
    for path in [*files, *_answer_files(files, read_files)]:
        for where, record in _records(path, sink):
            _sort_record(path, where, record, answers, reviews, arena, sink)
    fastchat, scores = _review_battles(reviews, answers, sink)
    for task, battles in (("fastchat", fastchat), ("arena", arena)):
        if battles:
            _add_win_shares(task, battles, sink)
    if scores:
        sink.direction("fastchat/judge_score", True, "FastChat judge score (1-10)")
    for (model, item), scored in sorted(scores.items()):
        sink.add(model=model, item=item, metric="fastchat/judge_score",
                 value=mean([s for s, _ in scored]), task="fastchat", run="fastchat",
                 source_file=scored[0][1], repeats=len(scored))
    if not reviews and not arena:
        sink.note("pairwise: no review or battle records among the files read")


def _answer_files(files: Sequence[Path], seen: set[Path]) -> list[Path]:
    found = []
    for path in files:
        for parent in list(path.parents)[:_ANSWER_DEPTH]:
            for answer in sorted((parent / "answer").glob("*.jsonl")):
                if answer not in seen:
                    seen.add(answer)
                    found.append(answer)
    return found


def _records(path: Path, sink: Sink) -> Iterator[tuple[int | str, object]]:
    if path.suffix != ".json":
        yield from iter_jsonl(path, sink)
        return
    records = load_json(path, sink)
    if isinstance(records, list):
        yield from ((f"record {i}", r) for i, r in enumerate(records))
    elif not absent(records):
        sink.error(path, "top level", "", "must be a JSON array of battle records; " + _FIX)


def _sort_record(path: Path, where: int | str, record: object,
                 answers: dict[str, tuple[str, str]],
                 reviews: list[tuple[Path, int | str, dict[str, object]]],
                 arena: list[_Battle], sink: Sink) -> None:
    keys = record.keys() if isinstance(record, dict) else ()
    if "answer_id" in keys:
        rec = sink.pick(record, _ANSWER_SPEC, file=path, line=where)
        if rec is not None:
            answers[rec["answer_id"]] = (rec["model_id"], str(rec["question_id"]))
    elif "model_a" in keys:
        rec = sink.pick(record, _BATTLE_SPEC, file=path, line=where)
        if rec is not None:
            battle = _arena_battle(rec, path, where, sink)
            if battle is not None:
                arena.append(battle)
    elif "answer1_id" in keys or "review_id" in keys:
        rec = sink.pick(record, _REVIEW_SPEC, file=path, line=where)
        if rec is not None:
            reviews.append((path, where, rec))
    else:
        sink.error(path, where, "", "is neither a FastChat review or answer nor an arena battle "
                   "(it has no answer1_id, answer_id or model_a); remove it or pass another "
                   "format=")


def _arena_battle(rec: dict[str, object], path: Path, where: int | str,
                  sink: Sink) -> _Battle | None:
    if rec["winner"] not in OUTCOMES:
        sink.error(path, where, "winner", f"is {short(rec['winner'])}; it must be one of "
                   f"{', '.join(OUTCOMES)}")
        return None
    if rec["model_a"] == rec["model_b"]:
        sink.error(path, where, "model_b", "is the same model as model_a; a battle needs two")
        return None
    return (str(rec["question_id"]), rec["model_a"], rec["model_b"], OUTCOMES[rec["winner"]],
            path)


def _review_battles(reviews: list[tuple[Path, int | str, dict[str, object]]],
                    answers: dict[str, tuple[str, str]],
                    sink: Sink) -> tuple[list[_Battle],
                                         dict[tuple[str, str], list[tuple[float, Path]]]]:
    battles: list[_Battle] = []
    scores: dict[tuple[str, str], list[tuple[float, Path]]] = defaultdict(list)
    unscored = 0
    for path, where, rec in reviews:
        item = str(rec["question_id"])
        models = [_answer_model(rec, key, item, answers, path, where, sink)
                  for key in ("answer1_id", "answer2_id")]
        pair = [to_float(s) for s in rec["score"]]
        if None in models:
            continue
        if len(pair) != 2 or None in pair:
            sink.error(path, where, "score", f"is {short(rec['score'])}; it must be the judge's "
                       "pair of scores [s1, s2]")
            continue
        if min(pair) < 0:  # FastChat writes [-1, -1] when it cannot parse the judge's reply
            unscored += 1
            sink.skip("review without judge scores ([-1, -1])", f"question {item}", 1,
                      unit="records", where=path)
            continue
        (m1, m2), (s1, s2) = models, pair
        battles.append((item, m1, m2, 1.0 if s1 > s2 else 0.5 if s1 == s2 else 0.0, path))
        scores[(m1, item)].append((s1, path))
        scores[(m2, item)].append((s2, path))
    if unscored:
        sink.note(f"pairwise: dropped {unscored} review(s) whose judge gave no scores ([-1, -1])")
    return battles, scores


def _answer_model(rec: dict[str, object], key: str, item: str,
                  answers: dict[str, tuple[str, str]], path: Path, where: int | str,
                  sink: Sink) -> str | None:
    model, question = answers.get(rec[key], (None, None))
    if model is None:
        sink.error(path, where, key, f"{rec[key]!r} is in no answer file (answer/*.jsonl beside "
                   "the review folder, or among the files read); add the answer files")
        return None
    if question != item:
        sink.error(path, where, key, f"{rec[key]!r} answers question {question}, not {item}; "
                   "the review and answer files do not belong together")
        return None
    return model


def _add_win_shares(task: str, battles: list[_Battle], sink: Sink) -> None:
    outcomes: dict[tuple[str, str], list[tuple[float, Path]]] = defaultdict(list)
    for item, model_a, model_b, outcome, path in battles:
        outcomes[(model_a, item)].append((outcome, path))
        outcomes[(model_b, item)].append((1.0 - outcome, path))
    sink.direction(f"{task}/win_share", True, "pairwise outcome (win 1, tie 1/2, loss 0)")
    for (model, item), fought in sorted(outcomes.items()):
        sink.add(model=model, item=item, metric=f"{task}/win_share",
                 value=mean([o for o, _ in fought]), task=task, run=task,
                 source_file=fought[0][1], repeats=len(fought))
    sink.note(f"{task}: {RULE}; {len(battles)} battles")
