"""One check per IFEval instruction type, on already validated arguments.

Each function takes the response and the instruction's keyword arguments and says whether the
response follows the instruction, as the reference checker of Zhou et al. (2023) decides it,
including its quirks (they are part of the published numbers). Argument checking and the
strict/loose protocol live in :mod:`riskbench.scorers.ifeval`.
"""

from __future__ import annotations

import json
import re
import string
from functools import cache

from riskbench.scorers._ifeval_text import count_capital_words, count_sentences, count_words

LESS_THAN, AT_LEAST = "less than", "at least"
RELATIONS = (LESS_THAN, AT_LEAST)
CONSTRAINED_ANSWERS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _compare(count: int, relation: str, threshold: int) -> bool:
    return count < threshold if relation == LESS_THAN else count >= threshold


# --- keywords -------------------------------------------------------------------------------

def keywords_existence(response: str, *, keywords: list[str]) -> bool:
    """Every keyword occurs, case-insensitively, even inside a longer word."""
    return all(re.search(re.escape(word), response, re.IGNORECASE) for word in keywords)


def keywords_frequency(response: str, *, keyword: str, frequency: int, relation: str) -> bool:
    """The keyword's non-overlapping case-insensitive occurrences, substrings included."""
    count = len(re.findall(re.escape(keyword), response, re.IGNORECASE))
    return _compare(count, relation, frequency)


def forbidden_words(response: str, *, forbidden_words: list[str]) -> bool:
    """None of the words occurs as a whole word, case-insensitively."""
    return not any(re.search(rf"\b{re.escape(word)}\b", response, re.IGNORECASE)
                   for word in forbidden_words)


def letter_frequency(response: str, *, letter: str, let_frequency: int,
                     let_relation: str) -> bool:
    """Occurrences of one letter a-z, case-insensitively.

    The reference checks only the letters a-z: for any other character it silently checks a
    random letter instead, so its verdict is a coin toss. Such an instruction is reported as
    not followed here, which is what the reference's published strict results record for
    IFEval's two cases ('#' and '!').
    """
    if letter not in string.ascii_lowercase:
        return False
    return _compare(response.lower().count(letter), let_relation, let_frequency)


# --- language and case ----------------------------------------------------------------------

@cache
def _language_factory():
    # Imported and loaded on first use: the profiles take a second to load. A private seeded
    # factory keeps results reproducible without touching langdetect's global one.
    from riskbench._extras import require

    detector_factory = require("langdetect.detector_factory",
                               needed_by="the ifeval scorer (its language checks)")
    PROFILES_DIRECTORY, DetectorFactory = (detector_factory.PROFILES_DIRECTORY,  # noqa: N806
                                           detector_factory.DetectorFactory)

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory


@cache
def language_codes() -> frozenset[str]:
    """The language codes langdetect can return."""
    return frozenset(_language_factory().get_lang_list())


def _detect_language(text: str) -> str | None:
    """langdetect's language code for ``text``, or None when it finds no features."""
    from langdetect.lang_detect_exception import LangDetectException

    detector = _language_factory().create()
    detector.append(text)
    try:
        return detector.detect()
    except LangDetectException:
        return None


def response_language(response: str, *, language: str) -> bool:
    """langdetect names ``language``; text it cannot classify passes, as in the reference."""
    detected = _detect_language(response)
    return detected is None or detected == language


def english_capital(response: str) -> bool:
    """All cased characters are upper case, and langdetect finds English (or nothing)."""
    return response.isupper() and response_language(response, language="en")


def english_lowercase(response: str) -> bool:
    """All cased characters are lower case, and langdetect finds English (or nothing)."""
    return response.islower() and response_language(response, language="en")


def capital_word_frequency(response: str, *, capital_frequency: int,
                           capital_relation: str) -> bool:
    """Word tokens in capital letters only (see ``count_capital_words``)."""
    return _compare(count_capital_words(response), capital_relation, capital_frequency)


# --- length ---------------------------------------------------------------------------------

def number_words(response: str, *, num_words: int, relation: str) -> bool:
    """Runs of word characters."""
    return _compare(count_words(response), relation, num_words)


def number_sentences(response: str, *, num_sentences: int, relation: str) -> bool:
    """Sentences as Punkt splits them (see ``count_sentences``)."""
    return _compare(count_sentences(response), relation, num_sentences)


def number_paragraphs(response: str, *, num_paragraphs: int) -> bool:
    """Exactly ``num_paragraphs`` paragraphs separated by ``***`` dividers.

    A divider at the very start or end is tolerated; two dividers with nothing between fail.
    """
    paragraphs = re.split(r"\s?\*\*\*\s?", response)
    blank = [not part.strip() for part in paragraphs]
    if any(blank[1:-1]):
        return False
    edges = {0, len(paragraphs) - 1}
    return len(paragraphs) - sum(blank[i] for i in edges) == num_paragraphs


def nth_paragraph_first_word(response: str, *, num_paragraphs: int, nth_paragraph: int,
                             first_word: str) -> bool:
    """Paragraphs split at blank lines, and the first word of paragraph ``nth_paragraph``.

    Blank paragraphs do not count, but ``nth_paragraph`` indexes the raw split (a reference
    quirk). The first word is the first whitespace-delimited token without leading quotes, cut
    at its first ``.,?!'"`` and lower-cased.
    """
    paragraphs = response.split("\n\n")
    count = sum(1 for part in paragraphs if part.strip())
    if nth_paragraph > count or not paragraphs[nth_paragraph - 1].strip():
        return False
    word = paragraphs[nth_paragraph - 1].split()[0].lstrip("'").lstrip('"')
    word = re.split(r"[.,?!'\"]", word, maxsplit=1)[0].lower()
    return count == num_paragraphs and word == first_word


# --- content and format ---------------------------------------------------------------------

def number_placeholders(response: str, *, num_placeholders: int) -> bool:
    """Square-bracketed spans within one line, ``[like this]``."""
    return len(re.findall(r"\[.*?\]", response)) >= num_placeholders


def postscript(response: str, *, postscript_marker: str) -> bool:
    """The marker occurs anywhere, case-insensitively.

    ``P.S.`` and ``P.P.S`` also match with a space after each period, as in the reference.
    """
    patterns = {"P.P.S": r"p\.\s?p\.\s?s", "P.S.": r"p\.\s?s\."}
    marker = patterns.get(postscript_marker, re.escape(postscript_marker.lower()))
    return re.search(rf"\s*{marker}.*$", response.lower(), re.MULTILINE) is not None


def number_bullet_lists(response: str, *, num_bullets: int) -> bool:
    """Exactly ``num_bullets`` lines starting with ``*`` (not ``**``) or ``-``."""
    stars = re.findall(r"^\s*\*[^*].*$", response, re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, re.MULTILINE)
    return len(stars) + len(dashes) == num_bullets


def constrained_response(response: str) -> bool:
    """One of the three fixed answers occurs anywhere (case-sensitively)."""
    return any(answer in response for answer in CONSTRAINED_ANSWERS)


def number_highlighted_sections(response: str, *, num_highlights: int) -> bool:
    """Non-blank ``*...*`` spans on one line; a ``**...**`` span counts again on its own."""
    singles = re.findall(r"\*[^\n*]*\*", response)
    doubles = re.findall(r"\*\*[^\n*]*\*\*", response)
    count = sum(1 for span in singles if span.strip("*").strip())
    count += sum(1 for span in doubles if span[2:-2].strip())
    return count >= num_highlights


def multiple_sections(response: str, *, section_spliter: str, num_sections: int) -> bool:
    """At least ``num_sections`` case-sensitive ``<spliter> <number>`` markers."""
    pattern = rf"\s?{re.escape(section_spliter)}\s?\d+\s?"
    return len(re.split(pattern, response)) - 1 >= num_sections


def json_format(response: str) -> bool:
    """The text, without surrounding whitespace and one Markdown code fence, is valid JSON."""
    text = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(fence)
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def title(response: str) -> bool:
    """A non-blank title in double angular brackets on one line, ``<<like this>>``."""
    spans = re.findall(r"<<[^\n]+>>", response)
    return any(span.lstrip("<").rstrip(">").strip() for span in spans)


def no_comma(response: str) -> bool:
    """No ASCII comma."""
    return "," not in response


def quotation(response: str) -> bool:
    """Wrapped, after trimming whitespace, in ASCII double quotes."""
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


# --- start, end and combinations ------------------------------------------------------------

def end_checker(response: str, *, end_phrase: str) -> bool:
    """Ends with the phrase, ignoring case, outer whitespace and outer double quotes."""
    return response.strip().strip('"').lower().endswith(end_phrase.strip().lower())


def repeat_prompt(response: str, *, prompt_to_repeat: str) -> bool:
    """Starts with the request, ignoring case and outer whitespace."""
    return response.strip().lower().startswith(prompt_to_repeat.strip().lower())


def two_responses(response: str) -> bool:
    """Two different non-blank answers separated by ``******``.

    A blank part is allowed only before the first or after the last separator.
    """
    parts = response.split("******")
    if any(not part.strip() for part in parts[1:-1]):
        return False
    answers = [part.strip() for part in parts if part.strip()]
    return len(answers) == 2 and answers[0] != answers[1]
