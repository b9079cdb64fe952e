"""Names are data, never markup: how model, metric and item names (and any user value) are
shown by each renderer.

=============== ===================================================================
renderer        what is neutralised
=============== ===================================================================
terminal (rich) console markup (``[bold]``, ``[link=...]``, ``[/]``) by :func:`esc`, or
                by passing :func:`text` objects, which rich never parses; control
                characters (ESC sequences, BEL, CR, C1, bidi overrides, line
                separators) shown as ``\\x1b``, ``\\u202e`` ... by :func:`visible`
matplotlib      mathtext (``$...$``) and control characters, by :func:`mpl`
CSV outputs     cells a spreadsheet would run as a formula (leading ``=``, ``+``,
                ``-``, ``@``, tab, CR), by :func:`csv_cell`: prefixed with ``'``
HTML            the report's own escaping (``html.escape`` of every value it inserts)
=============== ===================================================================
"""

from __future__ import annotations

import re

from rich.markup import escape as _markup_escape
from rich.table import Table as _RichTable
from rich.text import Text

from riskbench.errors import shorten

__all__ = ["visible", "esc", "text", "mpl", "csv_cell", "CSV_TRIGGERS", "Table"]

# C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069]")
_CONTROL_KEEP_NL = re.compile(_CONTROL.pattern.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f"))
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _code(match: re.Match) -> str:
    c = ord(match.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(value: object, *, newlines: bool = False) -> str:
    """``str(value)`` with control characters written as escapes (``\\x1b``), so a name can
    neither move the cursor, recolour the terminal, nor reorder the text around it.
    ``newlines`` keeps line feeds (for multi-line messages)."""
    return (_CONTROL_KEEP_NL if newlines else _CONTROL).sub(_code, str(value))


def esc(value: object, *, newlines: bool = False) -> str:
    """A value to put inside a rich markup string: shown literally, controls visible, huge
    runs cut (:func:`riskbench.errors.shorten`)."""
    return _markup_escape(visible(shorten(str(value)), newlines=newlines))


def text(value: object, style: str = "") -> Text:
    """A rich ``Text`` of the value (never parsed as markup), controls visible, huge runs
    cut: for table cells and titles."""
    return Text(visible(shorten(str(value))), style=style)


def mpl(value: object, width: int = 80) -> str:
    """A value as matplotlib text: ``$`` escaped (no mathtext), controls visible, cut to
    ``width`` characters (a plot label, not the record: tables keep the full name)."""
    shown = visible(value)
    if len(shown) > width:
        shown = shown[:width - 1] + "…"
    return shown.replace("$", r"\$")


def csv_cell(value: object) -> object:
    """A text cell safe to open in a spreadsheet: a leading ``=``, ``+``, ``-``, ``@``, tab or
    CR gets a ``'`` in front (OWASP's advice), unless the cell is a plain number."""
    if isinstance(value, str) and value.startswith(CSV_TRIGGERS) and \
            not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class Table(_RichTable):
    """A rich Table whose every string (title, caption, column header, cell) is data, shown
    literally with controls visible; pass a rich ``Text`` where styling is wanted."""

    def __init__(self, *headers, title=None, caption=None, **options) -> None:
        super().__init__(*(_cell(h) for h in headers), title=_cell(title),
                         caption=_cell(caption), **options)

    def add_column(self, header="", *args, **options) -> None:
        super().add_column(_cell(header), *args, **options)

    def add_row(self, *cells, **options) -> None:
        super().add_row(*(_cell(c) for c in cells), **options)


def _cell(value):
    return text(value) if isinstance(value, str) else value
