"""Measure real logs against riskbench's input limits (riskbench/_limits.py).

For every file under the given folders (and every member of every zip archive): the
uncompressed size, the compression ratio (gzip files and zip members), the longest line and
the deepest JSON nesting. Prints the largest of each with where it was found and the margin
to the default limit.

    python scripts/survey_inputs.py tests/data src/riskbench/data ../shared/data
"""

from __future__ import annotations

import gzip
import json
import sys
import zipfile
from pathlib import Path

KEYS = ("bytes", "ratio", "line", "depth", "columns")


def _depth(document: object) -> int:
    best, stack = 0, [(document, 1)]
    while stack:  # iterative: the documents measured may nest deeper than the stack
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            best = max(best, depth)
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict)
                                                  else value))
    return best


def _json_depth(data: bytes) -> int:
    try:
        return _depth(json.loads(data))
    except (ValueError, RecursionError):
        pass
    depth = 0
    for line in data.split(b"\n"):  # JSON Lines
        try:
            depth = max(depth, _depth(json.loads(line))) if line.strip() else depth
        except (ValueError, RecursionError):
            return depth
    return depth


def _columns(data: bytes, name: str) -> int:
    """Fields of a CSV/TSV header, or the most keys of a JSON Lines record."""
    if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
        header = data.split(b"\n", 1)[0]
        return header.count(b"\t" if ".tsv" in name else b",") + 1
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        most = 0
        for line in data.split(b"\n"):
            try:
                record = json.loads(line) if line.strip() else None
            except ValueError:
                continue
            most = max(most, len(record) if isinstance(record, dict) else 0)
        return most
    return 0


def measure(data: bytes, compressed: int, name: str = "") -> dict[str, float]:
    """The five measures of one file's (or member's) content."""
    return {"bytes": len(data), "ratio": len(data) / max(compressed, 1),
            "line": max(len(line) for line in data.split(b"\n")), "depth": _json_depth(data),
            "columns": _columns(data, name)}


def _contents(path: Path):
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                yield f"{path}:{info.filename}", archive.read(info), info.compress_size
    elif path.name.endswith(".gz"):
        with gzip.open(path) as fh:
            yield str(path), fh.read(), path.stat().st_size
    else:
        yield str(path), path.read_bytes(), path.stat().st_size


def survey(roots) -> dict[str, tuple[float, str]]:
    """``{measure: (largest value, where)}`` over every file under ``roots``, and
    ``"count"``: the number of files and zip members measured."""
    worst = dict.fromkeys(KEYS, (0.0, ""))
    count = 0
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if not path.is_file():
                continue
            for where, data, compressed in _contents(path):
                count += 1
                for key, value in measure(data, compressed, where).items():
                    if value > worst[key][0]:
                        worst[key] = (value, where)
    return {**worst, "count": (count, "")}


def main(argv: list[str]) -> None:
    from riskbench._limits import Limits

    limits = Limits()
    default = {"bytes": limits.max_bytes, "ratio": limits.max_ratio, "line": limits.max_line,
               "depth": 1000, "columns": limits.max_columns}
    found = survey(argv or ["tests/data"])
    print(f"{found.pop('count')[0]} files and zip members")
    for key, (value, where) in found.items():
        print(f"{key:>5}: {value:>14,.1f}  (default limit {default[key]:,}, margin "
              f"{default[key] / max(value, 1):,.0f}x)  {where}")


if __name__ == "__main__":
    main(sys.argv[1:])
