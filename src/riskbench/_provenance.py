"""What a read took in and what it left out: :class:`Skip` and :class:`ReadSummary`.

Every reader (the log readers of :mod:`riskbench.io` and the long-table reader
:func:`riskbench.read_scores`) records each file, stat, metric, record or value it leaves out as
a :class:`Skip` with its reason, so that nothing is lost silently. :class:`ReadSummary` is the
one account of a read that every command prints (terminal, ``--json``, the HTML report's
provenance section). Plain data only: no pandas here, so importing it is cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["ReadSummary", "Skip", "merge_skips"]

_NAMES_SHOWN = 8  # names a terminal line lists per reason


@dataclass(frozen=True)
class Skip:
    """Something a read left out, and why.

    Attributes
    ----------
    reason : str
        Why, in a few words that group skips (``"HELM bookkeeping stat"``,
        ``"corpus-level metric"``, ``"bad record (strict=False)"``, ...).
    name : str
        What was left out: a stat, a metric, a task, a file or a record.
    count : int
        How many ``unit`` it held.
    unit : str
        What ``count`` counts: ``"values"``, ``"records"``, ``"files"``, ``"rows"``, ``"items"``.
    where : str
        The file or folder it was found in (empty when it applies to the whole read).
    """

    reason: str
    name: str
    count: int = 1
    unit: str = "values"
    where: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"reason": self.reason, "name": self.name, "count": self.count,
                "unit": self.unit, "where": self.where}


def merge_skips(skips: Iterable[Skip]) -> tuple[Skip, ...]:
    """Skips of one (reason, name, unit, where) added up, in first-seen order."""
    totals: dict[tuple[str, str, str, str], int] = {}
    for s in skips:
        key = (s.reason, s.name, s.unit, s.where)
        totals[key] = totals.get(key, 0) + s.count
    return tuple(Skip(r, n, c, u, w) for (r, n, u, w), c in totals.items())


@dataclass(frozen=True)
class ReadSummary:
    """One account of a read: what came in, what the table holds, and what was left out.

    Attributes
    ----------
    sources : tuple of str
        The paths (or ``"DataFrame"``) given to the reader, in order.
    formats : tuple of str
        The formats read (``"table"`` for long tables, else :data:`riskbench.io.FORMATS` keys).
    files : tuple of str
        Every file whose content was used (logs, results files, a HELM ``schema.json``).
    models, metrics : tuple of str
        What the table holds.
    items : dict
        Items per metric.
    rows : int
        Per-item values in the table.
    skipped : tuple of Skip
        Everything left out, with its reason.
    directions : dict
        ``{metric: (higher_is_better, stated_by)}``; ``stated_by`` is ``"user"``, the log's
        metadata (``"schema.json"``, ``"results higher_is_better"``, ...), or ``"assumed"``.
    """

    sources: tuple[str, ...]
    formats: tuple[str, ...]
    files: tuple[str, ...]
    models: tuple[str, ...]
    metrics: tuple[str, ...]
    items: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    skipped: tuple[Skip, ...] = ()
    directions: dict[str, tuple[bool, str]] = field(default_factory=dict)

    @property
    def assumed(self) -> tuple[str, ...]:
        """Metrics whose direction nobody stated (taken as higher is better)."""
        return tuple(m for m, (_, by) in self.directions.items() if by == "assumed")

    def by_reason(self) -> dict[str, dict[str, object]]:
        """``{reason: {"count": n, "unit": u, "names": [...]}}``; one entry per reason and unit
        (the key then reads ``"reason (unit)"`` when a reason has several units)."""
        groups: dict[tuple[str, str], dict[str, object]] = {}
        for s in self.skipped:
            entry = groups.setdefault((s.reason, s.unit), {"count": 0, "unit": s.unit,
                                                           "names": []})
            entry["count"] += s.count
            if s.name not in entry["names"]:
                entry["names"].append(s.name)
        units: dict[str, int] = {}
        for reason, _ in groups:
            units[reason] = units.get(reason, 0) + 1
        return {(r if units[r] == 1 else f"{r} ({u})"): e for (r, u), e in groups.items()}

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready data (the ``read`` object of every command's ``--json``)."""
        return {
            "sources": list(self.sources), "formats": list(self.formats),
            "files": len(self.files), "file_list": list(self.files),
            "models": list(self.models), "metrics": list(self.metrics),
            "items": dict(self.items), "rows": self.rows,
            "skipped": self.by_reason(), "skipped_detail": [s.to_dict() for s in self.skipped],
            "directions": {m: {"higher_is_better": d, "stated_by": by}
                           for m, (d, by) in self.directions.items()},
            "assumed_higher_is_better": list(self.assumed),
        }

    def to_frame(self):
        """Everything left out, one row per :class:`Skip` (columns reason, name, count, unit,
        where)."""
        import pandas as pd

        return pd.DataFrame([s.to_dict() for s in self.skipped],
                            columns=["reason", "name", "count", "unit", "where"])

    def lines(self) -> list[str]:
        """The summary as short lines of text (terminal, HTML)."""
        counts = sorted(set(self.items.values()))
        items = ("no items" if not counts else f"{counts[0]} items" if len(counts) == 1
                 else f"{counts[0]} to {counts[-1]} items per metric")
        what = (f"{len(self.files)} file(s) ({', '.join(self.formats) or '-'}) from "
                f"{_names(self.sources, 3)}" if self.files else
                f"{_names(self.sources, 3)} (in memory, no file)")
        out = [f"read {what}: {len(self.models)} model(s), {len(self.metrics)} "
               f"metric(s), {items}, {self.rows} values"]
        if self.assumed:
            out.append(f"assumed higher is better (direction stated nowhere): "
                       f"{_names(self.assumed, _NAMES_SHOWN)}")
        for reason, entry in self.by_reason().items():
            out.append(f"skipped, {reason}: {entry['count']} {entry['unit']} "
                       f"({_names(entry['names'], _NAMES_SHOWN)})")
        if not self.skipped:
            out.append("skipped: nothing")
        return out


def _names(names: Iterable[str], shown: int) -> str:
    names = list(names)
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def directions_of(stated: Mapping[str, tuple[bool, str]], metrics: Iterable[str]
                  ) -> dict[str, tuple[bool, str]]:
    """Each metric's direction and who stated it (``"assumed"`` for higher is better)."""
    return {m: stated.get(m, (True, "assumed")) for m in metrics}
