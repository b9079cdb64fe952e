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
    "CalibrationWarning",
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


class CalibrationWarning(RiskbenchWarning):
    """Some claims rest on p-values close to the threshold where the test was measured above its
    level: in its least favourable null configurations at comparable sizes, the family-wise
    error reached a multiple of alpha (``docs/calibration.md``), so these claims would not
    survive at alpha divided by that multiple."""
