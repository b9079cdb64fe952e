"""Errors and warnings that riskbench raises on purpose.

Every message says what is wrong, where (file, line or row, field) and how to fix it.
Anything else escaping riskbench is a bug.
"""

from __future__ import annotations

__all__ = [
    "RiskbenchError",
    "InputError",
    "RiskbenchWarning",
    "DegenerateDataWarning",
    "DataWarning",
    "SmallSampleWarning",
]


class RiskbenchError(Exception):
    """Base class of the errors riskbench raises on purpose."""


class InputError(RiskbenchError, ValueError):
    """Bad input: a file, a table or an argument that riskbench cannot use as given.

    The command-line tool exits with status 2 on this error.
    """


class RiskbenchWarning(UserWarning):
    """Base class of riskbench's warnings."""


class DegenerateDataWarning(RiskbenchWarning):
    """Legal but degenerate data, e.g. two models with identical score distributions.

    riskbench still returns a value (for identical distributions the violation ratio is 1/2,
    as METHOD.md section 3 decides) and says so with this warning.
    """


class DataWarning(RiskbenchWarning):
    """Input was changed on request, e.g. items dropped by ``align="intersect"``."""


class SmallSampleWarning(RiskbenchWarning):
    """Too few items for a test's measured calibration: its type-I error was measured above
    alpha at this size in some null configurations (``docs/calibration.md``)."""
