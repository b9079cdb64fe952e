"""Word, sentence and token counting for the IFEval checks, without NLTK.

The reference checker counts words with NLTK's ``\\w+`` regular-expression tokenizer, sentences
with NLTK's pre-trained Punkt model for English, and all-capital words on NLTK's Treebank-style
``word_tokenize``. Loading Punkt needs a data download, so the two NLTK-based counts are replaced
here by small rule sets written for this package. They follow Punkt's and the Treebank
tokenizer's documented behaviour where it changes a count, and were validated against the
reference results on IFEval's released GPT-4 responses (``tests/test_ifeval.py``).
"""

from __future__ import annotations

import re
from itertools import pairwise

__all__ = ["count_words", "count_sentences", "count_capital_words"]

_WORD = re.compile(r"\w+")

# Punkt never ends a sentence at a token that it learned to be an abbreviation unless the next
# word looks like a sentence start. Punkt learned its list from newswire; these are the entries
# that plausibly occur in chat answers.
_ABBREVIATIONS = frozenset("""
    a.m p.m e.g i.e etc vs cf al approx dept est fig no nos st mr mrs ms dr jr sr prof gen col
    lt sgt capt gov sen rep rev inc corp co ltd bros u.s u.k u.n d.c jan feb mar apr aug sep
    sept oct nov dec mon tue wed thu fri sat sun ft mt ave blvd
""".split())

# Punkt's orthographic heuristic treats a capitalised word as a sentence start when it has seen
# that word in lower case in its training text. After an abbreviation, an initial or an ellipsis,
# these frequent words stand in for that evidence; names and other always-capitalised words
# keep the sentence going, as in Punkt.
_SENTENCE_STARTERS = frozenset("""
    a an the this that these those it its i we you he she they there here in on at for from by
    with as if when while but and or so yet however also then thus therefore after before
    because although though since what which who whom whose why how where my our your his her
    their one each every all some many most no not such to do does did is are was were be been
    can could will would should may might must shall now today finally first second third next
    last still just only even instead meanwhile moreover furthermore overall indeed perhaps
    maybe sometimes often yes well oh hello hi thanks thank let please make take use remember
    note consider try check keep get go come see look find think imagine enjoy stay join start
    follow add give ask tell have once other another both either neither any more less very
""".split())

_SENTENCE_END = ".?!"
# Characters that end a word in Punkt's word tokenizer; one of them right after a sentence-end
# character makes that character a candidate break just as following whitespace does.
_NON_WORD = "?!)\";}]*:@'({["
# Characters that Punkt never lets start a word: each becomes a one-character token.
_NO_WORD_START = "(\"`{[:;&#*@)}]-,"
_NUMBER = re.compile(r"-?[.,]?\d[\d,.-]*\.?")
_INITIAL = re.compile(r"[^\W\d]\.")
_CLOSERS = re.compile(r"[\"')\]}]+?(?:\s+|(?=--)|$)")
_CHUNK = re.compile(r"\S+")


def count_words(text: str) -> int:
    """Count the runs of word characters (``\\w+``) in ``text``.

    Parameters
    ----------
    text : str
        The text to count.

    Returns
    -------
    int
        The number of words.
    """
    return len(_WORD.findall(text))


def count_sentences(text: str) -> int:
    """Count sentences the way Punkt's English model splits them.

    A sentence may end at ``.``, ``?`` or ``!`` that is followed by whitespace and more text, or
    directly by closing punctuation. A period after an abbreviation, an initial or an ellipsis
    ends a sentence only before a likely sentence start; a period after a number does not end
    one before a lower-case word or punctuation. Line breaks alone never end a sentence.

    Parameters
    ----------
    text : str
        The text to split.

    Returns
    -------
    int
        The number of non-empty sentences.
    """
    starts = [0]
    chunks = list(_CHUNK.finditer(text))
    for chunk, after in pairwise([*chunks, None]):
        start = _sentence_break_after(chunk.group(), after.group() if after else None)
        if start is not None:
            starts.append(after.start() if start == len(chunk.group()) else chunk.start() + start)
    return sum(1 for piece in _realigned(text, starts) if piece.strip())


def _sentence_break_after(chunk: str, next_chunk: str | None) -> int | None:
    """Return the offset in ``chunk`` where the next sentence starts, or None when none does.

    The offset equals ``len(chunk)`` when the break falls on the whitespace after the chunk.
    """
    for pos in range(len(chunk) - 1, -1, -1):
        if chunk[pos] not in _SENTENCE_END:
            continue
        if pos + 1 < len(chunk):
            if chunk[pos + 1] not in _NON_WORD:
                continue
            follow, offset = chunk[pos + 1], pos + 1
        elif next_chunk is None:
            continue
        else:
            follow, offset = _first_token(next_chunk), len(chunk)
        return offset if _ends_sentence(chunk[:pos + 1], follow) else None
    return None


def _first_token(chunk: str) -> str:
    """The Punkt word token that starts ``chunk``."""
    dots_or_dashes = re.match(r"\.{2,}|-{2,}", chunk)
    if dots_or_dashes:
        return dots_or_dashes.group()
    if chunk[0] in _NO_WORD_START or chunk[0] in _NON_WORD:
        return chunk[0]
    return re.split(r"[?!)\";}\]*:@'({\[]|\.{2,}|-{2,}", chunk, maxsplit=1)[0]


def _ends_sentence(head: str, follow: str) -> bool:
    """Decide whether ``head`` (text up to a ``.?!``) ends a sentence before token ``follow``."""
    if any(char in "?!" for char in head):
        return True
    if head.endswith(".."):
        return _next_starts_sentence(follow) is True
    word = _last_token(head)
    stem = word[:-1].lower()
    if _INITIAL.fullmatch(word):
        # Punkt also keeps going before a capitalised word it never saw in lower case: J. Bach.
        starts = _next_starts_sentence(follow)
        return starts is True or (starts is None and not follow[0].isupper())
    if stem in _ABBREVIATIONS or stem.split("-")[-1] in _ABBREVIATIONS:
        return _next_starts_sentence(follow) is True
    if _NUMBER.fullmatch(word):
        return _next_starts_sentence(follow) is not False
    return True


def _last_token(head: str) -> str:
    """The Punkt word token that ends ``head``, with its final period."""
    # A quote ends the word before it but, unlike other punctuation, starts the next word.
    tail = re.split(r"[?!)\";}\]*:@({\[]|(?=')|\.{2,}(?!$)|-{2,}", head)[-1]
    stripped = tail.lstrip(_NO_WORD_START)
    return stripped if stripped else "."


def _next_starts_sentence(follow: str) -> bool | None:
    """Punkt's orthographic heuristic for the token after a period: yes, no or unknown (None).

    Punkt says no before punctuation and before a lower-case word, yes before a capitalised word
    it has seen in lower case, and unknown otherwise.
    """
    if follow in (";", ":", ",", ".", "!", "?") or follow[0].islower():
        return False
    if follow[0].isupper() and follow.lower() in _SENTENCE_STARTERS:
        return True
    return None


def _realigned(text: str, starts: list[int]) -> list[str]:
    """Cut ``text`` at ``starts``, moving closing quotes and brackets to the sentence they end."""
    pieces = []
    for begin, end in pairwise([*starts, len(text)]):
        piece = text[begin:end]
        closers = _CLOSERS.match(piece) if pieces else None
        if closers:
            pieces[-1] += closers.group()
            piece = piece[closers.end():]
        pieces.append(piece)
    return pieces


# The Treebank tokenizer splits these off as tokens of their own; splitting matters for the
# capital-word count only when it separates letters, e.g. "R&D" gives the capital words "R", "D".
_TREEBANK_SPLIT = re.compile(r"[?!;@#$%&*()\[\]{}<>\"`“”‘’«»„]|\.{2,}|-{2,}|[:,](?!\d)")
_CONTRACTION = re.compile(r"([^'].*?)('[sS]|'[mM]|'[dD]|'ll|'LL|'re|'RE|'ve|'VE|n't|N'T)")
_FUSED = re.compile(r"(?i)(can)(not)|(gim)(me)|(gon)(na)|(got)(ta)|(lem)(me)|(wan)(na)")


def count_capital_words(text: str) -> int:
    """Count the Treebank-style word tokens of ``text`` written in capital letters only.

    Tokens are split at whitespace and at the punctuation the Treebank tokenizer separates
    (brackets, quotes, ``?!;@#$%&*``, commas and colons not followed by a digit); contractions
    are split off their word (``DON'T`` gives ``DO`` and ``N'T``). A token counts when it has a
    cased character and no lower-case one, so a lone ``I`` counts.

    Parameters
    ----------
    text : str
        The text to count.

    Returns
    -------
    int
        The number of all-capital tokens.
    """
    return sum(part.isupper() for token in _TREEBANK_SPLIT.sub(" ", text).split()
               for part in _split_contraction(token))


def _split_contraction(token: str) -> tuple[str, ...]:
    for pattern in (_CONTRACTION, _FUSED):
        match = pattern.fullmatch(token)
        if match:
            return tuple(group for group in match.groups() if group)
    return (token,)
