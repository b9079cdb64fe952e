"""The one input type of the numeric core: per-model samples of one oriented metric."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from riskbench.dominance import as_sample
from riskbench.errors import InputError

__all__ = ["Samples", "as_samples"]


@dataclass(frozen=True, eq=False)
class Samples:
    """Scores of k models on one metric, oriented so that higher is better.

    Attributes
    ----------
    models : tuple of str
    values : tuple of 1-D float arrays
        ``values[a]`` holds model a's scores (already negated when the metric is
        lower-is-better).
    aligned : bool
        True when every model has the same n items in the same order (``values[a][t]`` is
        item t), which the paired bootstrap design requires.
    metric : str or None
    higher_is_better : bool
        The metric's original direction (``values`` are oriented either way).
    items : tuple of str or None
        Item ids in order, when aligned and known.
    clusters : ndarray of int or None
        Cluster code of each item position (aligned samples only): the bootstrap then resamples
        clusters, not items (METHOD.md section 14).
    groups : ndarray of int or None
        For repeated generations resampled in two stages: the item code of each value; every
        model then holds the same number of generations of every item.
    """

    models: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    aligned: bool
    metric: str | None = None
    higher_is_better: bool = True
    items: tuple[str, ...] | None = None
    clusters: np.ndarray | None = None
    groups: np.ndarray | None = None

    @property
    def k(self) -> int:
        return len(self.models)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(v.size for v in self.values)

    def matrix(self) -> np.ndarray:
        """The (k, n) matrix of scores; only for aligned samples."""
        if not self.aligned:
            raise InputError(
                "the models have different item sets, so there is no (models x items) matrix; "
                "use design='independent', or read the scores with align='intersect'"
            )
        return np.stack(self.values)

    def raw(self, a: int) -> np.ndarray:
        """Model a's scores in the metric's original units (orientation undone)."""
        return self.values[a] if self.higher_is_better else -self.values[a]


def as_samples(data: object, *, metric: str | None = None, min_models: int = 2) -> Samples:
    """Turn the accepted inputs into :class:`Samples`.

    Accepts a ScoreTable (anything with a ``samples(metric)`` method), a :class:`Samples`, a
    mapping ``{model: 1-D scores}``, a 2-D array (rows are models, columns items) or a sequence
    of 1-D arrays. Arrays and mappings are taken as higher-is-better; equal-length rows are
    taken as aligned by position (row t of every model is the same item).
    """
    if isinstance(data, Samples):
        samples = data
    elif hasattr(data, "samples") and callable(data.samples):
        samples = data.samples(metric)
    else:
        if isinstance(data, Mapping):
            models = tuple(str(m) for m in data)
            rows = list(data.values())
        else:
            if isinstance(data, np.ndarray) and data.ndim == 1:
                data = data[None, :]
            try:
                rows = list(data)  # type: ignore[call-overload]
            except TypeError:
                raise InputError(
                    "scores must be a ScoreTable, a mapping {model: scores}, a 2-D array "
                    f"(models x items) or a list of 1-D arrays; got {type(data).__name__}"
                ) from None
            models = tuple(f"model_{a}" for a in range(len(rows)))
        values = tuple(as_sample(r, f"scores of {m!r}") for m, r in zip(models, rows, strict=True))
        samples = Samples(models, values, aligned=len({v.size for v in values}) == 1,
                          metric=metric)
    if samples.k < min_models:
        raise InputError(
            f"need at least {min_models} models to compare; got {samples.k}"
            + (f" ({', '.join(samples.models)})" if samples.models else "")
        )
    if len(set(samples.models)) != samples.k:
        raise InputError(f"model names must be unique; got {list(samples.models)}")
    return samples
