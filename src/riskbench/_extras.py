"""Optional dependencies: one place that knows which extra brings which package.

A missing optional package is bad environment, not a bug: :func:`require` raises
:class:`~riskbench.errors.MissingExtraError` (an ``InputError``: the CLI exits with status 2)
whose message names the feature, the package and the exact ``pip install`` line, e.g.::

    the HTML report needs matplotlib, which is not installed: pip install "riskbench[report]"

Every import of an optional package goes through :func:`require` (or :func:`missing`, for the
optional parts that degrade to a note instead of failing), so the message cannot drift from
``pyproject.toml``'s extras (a test compares the two).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from riskbench.errors import MissingExtraError

__all__ = ["EXTRAS", "require", "missing", "install_line"]

#: import name -> (extra of riskbench that installs it, the distribution on PyPI). An extra
#: of None: a required dependency of riskbench itself (a broken installation).
EXTRAS: dict[str, tuple[str | None, str]] = {
    "matplotlib": ("report", "matplotlib"),
    "torch": ("torch", "torch"),
    "distributed": ("dask", "distributed"),
    "profanity_check": ("scorers", "alt-profanity-check"),
    "langdetect": ("scorers", "langdetect"),
    "tiktoken": ("tokens", "tiktoken"),
    "numba": (None, "numba"),
}


def install_line(module: str) -> str:
    """The ``pip install`` command that brings ``module`` (an import name of :data:`EXTRAS`).

    >>> install_line("matplotlib")
    'pip install "riskbench[report]"'
    >>> install_line("distributed")
    'pip install "riskbench[dask]"'
    """
    extra, dist = EXTRAS[module]
    if extra is None:
        return f"pip install {dist} (a dependency of riskbench: reinstall riskbench)"
    return f'pip install "riskbench[{extra}]"'


def _absent(exc: ImportError, module: str) -> bool:
    """Whether the ImportError says ``module`` itself is not installed (rather than that it is
    installed but broken, e.g. one of its own dependencies is missing)."""
    name = getattr(exc, "name", None) or ""
    return name == module or name.split(".")[0] == module.split(".")[0]


def require(module: str, *, needed_by: str) -> ModuleType:
    """Import an optional package, or raise the error that says how to install it.

    Parameters
    ----------
    module : str
        Import name, a key of :data:`EXTRAS` (or a submodule of one, e.g.
        ``"matplotlib.figure"``).
    needed_by : str
        The feature, as the start of a sentence: "the HTML report", "backend='torch'".

    Raises
    ------
    MissingExtraError
        The package is not installed (the message names the ``pip install`` line), or it is
        installed but fails to import (the message quotes the import error).
    """
    root = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        line = install_line(root)
        if _absent(exc, root):
            message = f"{needed_by} needs {EXTRAS[root][1]}, which is not installed: {line}"
        else:
            message = (f"{needed_by} needs {EXTRAS[root][1]}, which is installed but fails to "
                       f"import ({type(exc).__name__}: {exc}); repair it, e.g. {line} "
                       "--force-reinstall")
        raise MissingExtraError(message, module=root, extra=EXTRAS[root][0]) from exc


def missing(module: str) -> str | None:
    """None when ``module`` imports; else why not, with the install line (for the optional
    parts that are skipped with a note rather than failing)."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        root = module.split(".")[0]
        state = "not installed" if _absent(exc, root) else f"broken ({exc})"
        return f"{EXTRAS[root][1]} is {state}: {install_line(root)}"
    return None
