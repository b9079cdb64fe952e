"""Errors and warnings that riskbench raises on purpose.

Every message says what is wrong, where (file, line or row, field) and how to fix it.
Anything else escaping riskbench is a bug.
"""

from __future__ import annotations

import re

__all__ = [
    "RiskbenchError",
    "InputError",
    "LimitError",
    "OutputError",
    "RiskbenchWarning",
    "DegenerateDataWarning",
    "DataWarning",
    "DirectionWarning",
    "option_hint",
    "MissingExtraError",
    "CalibrationWarning",
]

# An option named in a message, spelled both ways: Python keyword first, CLI flag second. The
# markers are word joiners (U+2060), which never occur in the text riskbench writes.
_HINT = re.compile("\u2060\\{(.*?)\u2060\\|(.*?)\u2060\\}", re.DOTALL)


def option_hint(python: str, cli: str) -> str:
    """A fix naming an option: ``str(error)`` shows ``python``, the CLI shows ``cli``.

    >>> str(InputError(f"fix it, or pass {option_hint('strict=False', '--lenient')}"))
    'fix it, or pass strict=False'
    >>> InputError(f"pass {option_hint('strict=False', '--lenient')}").cli_message()
    'pass --lenient'
    """
    return f"\u2060{{{python}\u2060|{cli}\u2060}}"


class RiskbenchError(Exception):
    """Base class of the errors riskbench raises on purpose."""


# A message quotes the offending value; a 1 MB value must not become a 1 MB message.
_LONG_RUN = re.compile("[^\\s\u2060]{1000,}")  # never through an option_hint's markers
_MAX_MESSAGE = 10_000


def shorten(text: str) -> str:
    """``text`` with every run of 1,000+ non-blank characters cut to its first 200 and last 50,
    and the whole cut in the middle past 10,000 characters; each cut says how much it left out."""
    def cut(match: re.Match) -> str:
        run = match.group()
        return f"{run[:200]}...[{len(run) - 250:,} characters cut]...{run[-50:]}"

    text = _LONG_RUN.sub(cut, text)
    if len(text) > _MAX_MESSAGE:
        start, end = 6000, len(text) - 2000
        for hint in _HINT.finditer(text):  # keep an option hint whole on either side
            if hint.start() < start < hint.end():
                start = hint.start()
            if hint.start() < end < hint.end():
                end = hint.end()
        text = f"{text[:start]} ...[{end - start:,} characters cut]... {text[end:]}"
    return text


class InputError(RiskbenchError, ValueError):
    """Bad input: a file, a table or an argument that riskbench cannot use as given.

    The command-line tool exits with status 2 on this error. A message that names an option
    (:func:`option_hint`) reads with the Python keyword as ``str(error)`` and with the CLI flag
    as :meth:`cli_message`. Messages are shortened (see :func:`shorten`) so that a huge
    offending value is never echoed in full.
    """

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(shorten(str(message)), *args)

    def __str__(self) -> str:
        return _HINT.sub(r"\1", super().__str__())

    def cli_message(self) -> str:
        """The message as the command line shows it: options spelled as CLI flags."""
        return _HINT.sub(r"\2", super().__str__())


class LimitError(InputError):
    """An input would expand beyond a limit of :func:`riskbench.input_limits` (decompressed
    size, compression ratio, line length, columns): the message names the file, the member,
    the limit and the option that raises it."""


class OutputError(InputError):
    """A file riskbench must write cannot be written (no space left, read-only folder, no
    permission), or it would replace one of the command's inputs. The CLI exits with 2."""


class RiskbenchWarning(UserWarning):
    """Base class of riskbench's warnings (options named as in :class:`InputError`)."""

    def __str__(self) -> str:
        return _HINT.sub(r"\1", super().__str__())

    def cli_message(self) -> str:
        """The message as the command line shows it: options spelled as CLI flags."""
        return _HINT.sub(r"\2", super().__str__())


class DegenerateDataWarning(RiskbenchWarning):
    """Legal but degenerate data, e.g. two models with identical score distributions.

    riskbench still returns a value (for identical distributions the violation ratio is 1/2,
    as METHOD.md section 3 decides) and says so with this warning.
    """


class DataWarning(RiskbenchWarning):
    """Input was changed on request, e.g. items dropped by ``align="intersect"``."""


class DirectionWarning(RiskbenchWarning):
    """A metric whose direction nobody stated has a name that suggests lower is better
    (toxicity, loss, error, latency, length, ...); riskbench assumed higher is better."""


class MissingExtraError(InputError):
    """An optional package that a feature needs is not installed (or fails to import).

    The message names the exact ``pip install "riskbench[EXTRA]"`` line; ``module`` is the
    import name and ``extra`` the extra of riskbench that installs it (None for a required
    dependency of riskbench itself). The command-line tool exits with status 2.
    """

    def __init__(self, message: str, *, module: str = "", extra: str | None = None) -> None:
        super().__init__(message)
        self.module = module
        self.extra = extra

    def __reduce__(self):  # picklable across process pools, keyword fields included
        return (_missing_extra, (str(self), self.module, self.extra))


def _missing_extra(message: str, module: str, extra: str | None) -> MissingExtraError:
    return MissingExtraError(message, module=module, extra=extra)


class CalibrationWarning(RiskbenchWarning):
    """Some claims rest on p-values close to the threshold where the test was measured above its
    level: in its least favourable null configurations at comparable sizes, the family-wise
    error reached a multiple of alpha (``docs/calibration.md``), so these claims would not
    survive at alpha divided by that multiple."""
