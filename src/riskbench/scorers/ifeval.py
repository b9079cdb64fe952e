"""IFEval's verifiable instructions (Zhou et al. 2023, arXiv 2311.07911), strict and loose.

Each IFEval prompt carries one or more instructions, such as ``punctuation:no_comma`` or
``length_constraints:number_words`` with ``{"relation": "at least", "num_words": 300}``, that a
program can verify. This module re-implements the checks of the reference checker
(google-research ``instruction_following_eval``) and its two protocols:

- strict: the response as given must follow the instruction (an all-blank response never does);
- loose: the instruction counts as followed when any of eight variants follows it: the
  response, without its first line, without its last line, without both, and each of those
  four with every ``*`` removed.

It runs offline. Language checks use langdetect with a private factory seeded with 0, so
results are reproducible. Sentence counts and capital-word counts, for which the reference
loads NLTK data, use the rules of :mod:`riskbench.scorers._ifeval_text`. Keywords, forbidden
words, postscript markers and section markers are matched literally, where the reference reads
them as regular expressions; the two agree on every IFEval prompt. A ``letter`` outside a-z
(IFEval asks for '#' once and '!' once) makes ``keywords:letter_frequency`` not followed: the
reference checks a random letter instead, so its own verdict there is a coin toss.

On IFEval's released GPT-4 responses this scorer agrees with the reference checker's results on
all 832 instructions under the strict protocol and on 830 under the loose one (the two others
are those coin tosses), and reproduces the paper's strict accuracies (``tests/test_ifeval.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from riskbench.errors import InputError, MissingExtraError
from riskbench.scorers import _ifeval_checks as checks

__all__ = ["IFEVAL_INSTRUCTIONS", "check_instruction", "score_ifeval"]

# (instruction id, argument name, value) -> the value the check uses; raises InputError.
_Validator = Callable[[str, str, Any], Any]


def _invalid(instruction_id: str, message: str) -> InputError:
    return InputError(f"IFEval instruction '{instruction_id}': {message}")


def _count(instruction_id: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(instruction_id, f"{name} must be a non-negative integer, got {value!r}")
    return value


def _position(instruction_id: str, name: str, value: Any) -> int:
    if _count(instruction_id, name, value) == 0:
        raise _invalid(instruction_id, f"{name} counts from 1, got 0")
    return value


def _relation(instruction_id: str, name: str, value: Any) -> str:
    if value not in checks.RELATIONS:
        raise _invalid(instruction_id,
                       f"{name} must be 'less than' or 'at least', got {value!r}")
    return value


def _text(instruction_id: str, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(instruction_id, f"{name} must be a non-blank string, got {value!r}")
    return value.strip()


def _lower_text(instruction_id: str, name: str, value: Any) -> str:
    return _text(instruction_id, name, value).lower()


def _letter(instruction_id: str, name: str, value: Any) -> str:
    # The reference accepts any single character; IFEval itself asks for '#' and '!'.
    if not isinstance(value, str) or len(value.strip()) != 1:
        raise _invalid(instruction_id, f"{name} must be a single character, got {value!r}")
    return value.strip().lower()


def _words(instruction_id: str, name: str, value: Any) -> list[str]:
    if (isinstance(value, str) or not isinstance(value, list | tuple) or not value
            or not all(isinstance(word, str) and word for word in value)):
        raise _invalid(instruction_id,
                       f"{name} must be a non-empty list of non-empty strings, got {value!r}")
    return list(value)


def _language(instruction_id: str, name: str, value: Any) -> str:
    if value not in checks.language_codes():
        raise _invalid(instruction_id,
                       f"{name} must be a language code langdetect knows (such as 'en', 'fr', "
                       f"'zh-cn'), got {value!r}")
    return value


@dataclass(frozen=True)
class _Instruction:
    check: Callable[..., bool]
    params: Mapping[str, _Validator]


_INSTRUCTIONS: dict[str, _Instruction] = {
    "change_case:capital_word_frequency": _Instruction(
        checks.capital_word_frequency,
        {"capital_frequency": _count, "capital_relation": _relation}),
    "change_case:english_capital": _Instruction(checks.english_capital, {}),
    "change_case:english_lowercase": _Instruction(checks.english_lowercase, {}),
    "combination:repeat_prompt": _Instruction(checks.repeat_prompt, {"prompt_to_repeat": _text}),
    "combination:two_responses": _Instruction(checks.two_responses, {}),
    "detectable_content:number_placeholders": _Instruction(
        checks.number_placeholders, {"num_placeholders": _count}),
    "detectable_content:postscript": _Instruction(
        checks.postscript, {"postscript_marker": _text}),
    "detectable_format:constrained_response": _Instruction(checks.constrained_response, {}),
    "detectable_format:json_format": _Instruction(checks.json_format, {}),
    "detectable_format:multiple_sections": _Instruction(
        checks.multiple_sections, {"section_spliter": _text, "num_sections": _count}),
    "detectable_format:number_bullet_lists": _Instruction(
        checks.number_bullet_lists, {"num_bullets": _count}),
    "detectable_format:number_highlighted_sections": _Instruction(
        checks.number_highlighted_sections, {"num_highlights": _count}),
    "detectable_format:title": _Instruction(checks.title, {}),
    "keywords:existence": _Instruction(checks.keywords_existence, {"keywords": _words}),
    "keywords:forbidden_words": _Instruction(
        checks.forbidden_words, {"forbidden_words": _words}),
    "keywords:frequency": _Instruction(
        checks.keywords_frequency, {"keyword": _text, "frequency": _count, "relation": _relation}),
    "keywords:letter_frequency": _Instruction(
        checks.letter_frequency,
        {"letter": _letter, "let_frequency": _count, "let_relation": _relation}),
    "language:response_language": _Instruction(
        checks.response_language, {"language": _language}),
    "length_constraints:nth_paragraph_first_word": _Instruction(
        checks.nth_paragraph_first_word,
        {"num_paragraphs": _count, "nth_paragraph": _position, "first_word": _lower_text}),
    "length_constraints:number_paragraphs": _Instruction(
        checks.number_paragraphs, {"num_paragraphs": _count}),
    "length_constraints:number_sentences": _Instruction(
        checks.number_sentences, {"num_sentences": _count, "relation": _relation}),
    "length_constraints:number_words": _Instruction(
        checks.number_words, {"num_words": _count, "relation": _relation}),
    "punctuation:no_comma": _Instruction(checks.no_comma, {}),
    "startend:end_checker": _Instruction(checks.end_checker, {"end_phrase": _text}),
    "startend:quotation": _Instruction(checks.quotation, {}),
}

#: The instruction ids this scorer checks: all 25 types of IFEval's 541 prompts.
IFEVAL_INSTRUCTIONS: tuple[str, ...] = tuple(_INSTRUCTIONS)


def _bind(instruction_id: str, kwargs: Mapping[str, Any]) -> Callable[[str], bool]:
    """Validate ``kwargs`` for ``instruction_id`` and return the check of one response."""
    spec = _INSTRUCTIONS.get(instruction_id)
    if spec is None:
        raise InputError(f"unknown IFEval instruction id {instruction_id!r}; the supported ids "
                         "are riskbench.scorers.ifeval.IFEVAL_INSTRUCTIONS")
    if not isinstance(kwargs, Mapping):
        raise _invalid(instruction_id, f"kwargs must be a mapping, got {type(kwargs).__name__}")
    # The Hugging Face copy of IFEval lists every argument name for every instruction, with
    # null for those an instruction does not take, so null means "not given".
    given = {name: value for name, value in kwargs.items() if value is not None}
    unexpected = sorted(set(given) - set(spec.params))
    if unexpected:
        raise _invalid(instruction_id, f"unexpected kwargs {unexpected}; it takes "
                                       f"{sorted(spec.params) or 'none'}")
    missing = [name for name in spec.params if name not in given]
    if missing:
        raise _invalid(instruction_id, f"missing kwargs {missing}")
    args = {name: validate(instruction_id, name, given[name])
            for name, validate in spec.params.items()}
    return partial(spec.check, **args)


def _candidates(response: str, loose: bool) -> tuple[str, ...]:
    """The response, or for the loose protocol its eight variants."""
    if not loose:
        return (response,)
    lines = response.split("\n")
    trimmed = tuple("\n".join(part).strip() for part in (lines[1:], lines[:-1], lines[1:-1]))
    return (response, *trimmed, *(text.replace("*", "") for text in (response, *trimmed)))


def _follows(check: Callable[[str], bool], response: str, loose: bool) -> bool:
    return any(text.strip() and check(text) for text in _candidates(response, loose))


def check_instruction(instruction_id: str, kwargs: Mapping[str, Any], prompt: str,
                      response: str, *, loose: bool = False) -> bool:
    """Whether ``response`` follows one IFEval instruction.

    Parameters
    ----------
    instruction_id : str
        One of :data:`IFEVAL_INSTRUCTIONS`, e.g. ``"keywords:frequency"``.
    kwargs : mapping
        The instruction's arguments, as in IFEval's ``kwargs`` list, e.g.
        ``{"keyword": "war", "frequency": 8, "relation": "at least"}``. ``None`` values are
        ignored.
    prompt : str
        The prompt the response answers. Kept for the reference's interface: no IFEval
        instruction reads it (``combination:repeat_prompt`` takes the text to repeat from
        ``kwargs["prompt_to_repeat"]``).
    response : str
        The model's response.
    loose : bool, default False
        Use the loose protocol (see the module docstring) instead of the strict one.

    Returns
    -------
    bool
        True when the instruction is followed.

    Raises
    ------
    InputError
        For an unknown instruction id, missing, unexpected or malformed kwargs, or a prompt or
        response that is not a string.
    """
    check = _bind(instruction_id, kwargs)
    for name, value in (("prompt", prompt), ("response", response)):
        if not isinstance(value, str):
            raise _invalid(instruction_id, f"{name} must be a string, got "
                                           f"{type(value).__name__}")
    return _follows(check, response, loose)


def score_ifeval(records: Iterable[Mapping[str, Any]], *, loose: bool = False) -> list[dict]:
    """Check every instruction of every record, as the reference's ``evaluation_main`` does.

    Parameters
    ----------
    records : iterable of mappings
        Each with ``prompt``, ``response``, ``instruction_id_list`` and ``kwargs`` (one mapping
        per instruction), and optionally ``key``.
    loose : bool, default False
        Use the loose protocol instead of the strict one.

    Returns
    -------
    list of dict
        One per record, in order: ``key`` (None when absent), ``instruction_id_list``,
        ``follow_instruction_list`` (one bool per instruction) and ``follow_all_instructions``.
        Prompt-level accuracy is the mean of ``follow_all_instructions``; instruction-level
        accuracy pools ``follow_instruction_list`` over all records.

    Raises
    ------
    InputError
        For a record without the fields above, with lists of different lengths, or with an
        instruction :func:`check_instruction` rejects; the message names the record.
    """
    results = []
    for index, record in enumerate(records):
        key = record.get("key")
        where = f"record {index}" + ("" if key is None else f" (key {key})")
        missing = [name for name in ("prompt", "response", "instruction_id_list", "kwargs")
                   if name not in record]
        if missing:
            raise InputError(f"{where}: missing field(s) {missing}")
        ids, kwargs = list(record["instruction_id_list"]), list(record["kwargs"])
        if len(ids) != len(kwargs):
            raise InputError(f"{where}: instruction_id_list has {len(ids)} entries but kwargs "
                             f"has {len(kwargs)}; give one kwargs mapping per instruction")
        followed = []
        for instruction_id, arguments in zip(ids, kwargs, strict=True):
            try:
                followed.append(check_instruction(instruction_id, arguments, record["prompt"],
                                                  record["response"], loose=loose))
            except MissingExtraError:
                raise  # the environment, not this record
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
        results.append({"key": key, "instruction_id_list": ids,
                        "follow_instruction_list": followed,
                        "follow_all_instructions": all(followed)})
    return results
