"""The embedded real demo data: AlpacaEval 2.0 per-instruction scores (see data/SOURCE.md)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from importlib import resources
from pathlib import Path

from riskbench.errors import DataWarning
from riskbench.table import ScoreTable, read_scores

__all__ = ["DEMO_DIRECTIONS", "demo_path", "load_demo"]

#: Direction of each demo metric.
DEMO_DIRECTIONS = {"win": True, "offensive": False, "length": False}


def demo_path() -> Path:
    """Path of the embedded demo table (a gzipped long CSV)."""
    return Path(str(resources.files("riskbench") / "data" / "alpacaeval2_demo.csv.gz"))


def load_demo(*, align: str = "intersect") -> ScoreTable:
    """AlpacaEval 2.0 scores of 48 models on 805 instructions: win, offensive, length.

    ``win`` (higher is better) is the judge's preference over the baseline; ``offensive`` and
    ``length`` are lower-is-better. By default only the instructions scored for every model are
    kept (a :class:`~riskbench.errors.DataWarning` is silenced here; ``table.dropped_items``
    has the counts); ``align="none"`` keeps every row.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        table = read_scores(demo_path(), higher_is_better=DEMO_DIRECTIONS, align=align)
    return replace(table, source="riskbench demo (AlpacaEval 2.0)")
