"""Metric spec files: each metric's direction and portfolio weight, in TOML or JSON.

    # metrics.toml
    [metrics.win]
    higher_is_better = true
    weight = 2

    [metrics.toxicity]
    higher_is_better = false
    weight = 1

JSON has the same shape: ``{"metrics": {"win": {"higher_is_better": true, "weight": 2}}}``.
Both keys are optional per metric (defaults: higher is better, weight 1); weights are
normalised to sum 1.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from riskbench import _limits
from riskbench.errors import InputError

__all__ = ["MetricSpec", "read_metric_spec"]

KEYS = ("higher_is_better", "weight")


@dataclass(frozen=True)
class MetricSpec:
    """Directions and (optional) portfolio weights of named metrics."""

    higher_is_better: dict[str, bool]
    weights: dict[str, float] | None
    source: str = ""


def read_metric_spec(path: str | Path) -> MetricSpec:
    """Read a metric spec file (``.toml`` or ``.json``); errors name the file, key and fix."""
    path = Path(path)
    name = str(path)
    _limits.check_regular(path)
    if not path.is_file():
        raise InputError(f"{name}: no such metric spec file")
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise InputError(f"{name}: a metric spec must be a .toml or .json file")
    try:
        text = _limits.read_input(path, gz=False).decode("utf-8")
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{name}: not valid TOML ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column "
                         f"{exc.colno})") from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: is not UTF-8 text; re-save it as UTF-8") from None
    except RecursionError:
        raise InputError(f"{name}: nests tables or arrays too deeply to parse (over about "
                         "1,000 levels); a metric spec needs two: [metrics.NAME]") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputError(f"{name}: cannot be parsed ({str(exc).splitlines()[0]})") from None
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if not isinstance(metrics, dict) or not metrics:
        raise InputError(f"{name}: expected a [metrics.NAME] table per metric (JSON: "
                         "{\"metrics\": {\"NAME\": {...}}})")
    directions: dict[str, bool] = {}
    weights: dict[str, float] = {}
    for metric, entry in metrics.items():
        where = f"{name}: metrics.{metric}"
        if not isinstance(entry, dict):
            raise InputError(f"{where} must be a table with higher_is_better and/or weight")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; the keys "
                             "are higher_is_better and weight")
        hib = entry.get("higher_is_better", True)
        if not isinstance(hib, bool):
            raise InputError(f"{where}.higher_is_better must be true or false; got {hib!r}")
        directions[str(metric)] = hib
        if "weight" in entry:
            w = entry["weight"]
            if isinstance(w, bool) or not isinstance(w, int | float) or not w >= 0:
                raise InputError(f"{where}.weight must be a number >= 0; got {w!r}")
            try:
                weights[str(metric)] = float(w)
            except OverflowError:
                raise InputError(f"{where}.weight is an integer beyond the float range; give "
                                 "a number below 1e308") from None
    return MetricSpec(directions, weights or None, name)
