"""Length / verbosity of responses: characters, words, and tokens when a tokenizer is at hand.

Tokens come from tiktoken only when it is installed *and* its encoding file is already cached on
this machine: riskbench never downloads anything at run time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["length_scores", "tiktoken_encoding", "TIKTOKEN_ENCODING"]

TIKTOKEN_ENCODING = "cl100k_base"
_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


def tiktoken_encoding(name: str = TIKTOKEN_ENCODING):
    """The tiktoken encoding if tiktoken is installed and the file is cached; else (None, why)."""
    from riskbench._extras import missing

    why = missing("tiktoken")
    if why is not None:
        return None, f"tokens are counted by tiktoken, and {why}"
    import tiktoken
    cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR") or \
        str(Path(tempfile.gettempdir()) / "data-gym-cache")
    key = hashlib.sha1(_BLOB.format(name=name).encode()).hexdigest()
    if not (Path(cache) / key).is_file():
        return None, (f"tiktoken's {name} file is not cached in {cache}; riskbench never "
                      "downloads at run time: set TIKTOKEN_CACHE_DIR to a folder holding it")
    return tiktoken.get_encoding(name), None


def length_scores(responses: Sequence[str], *, tokens: bool = True) -> tuple[dict, list[str]]:
    """Per-response lengths.

    Returns ``({"length_chars": [...], "length_words": [...], ["length_tokens": [...]]},
    notes)``; words are whitespace-separated runs (``len(text.split())``, as AlpacaEval counts).
    """
    out = {"length_chars": [float(len(r)) for r in responses],
           "length_words": [float(len(r.split())) for r in responses]}
    notes = []
    if tokens:
        encoding, why = tiktoken_encoding()
        if encoding is None:
            notes.append(f"length_tokens skipped: {why}")
        else:
            out["length_tokens"] = [float(len(encoding.encode(r, disallowed_special=())))
                                    for r in responses]
    return out, notes
