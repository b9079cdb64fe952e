"""The reference engine: numpy only (``riskbench.dominance``)."""

from __future__ import annotations

import numpy as np

from riskbench.dominance import DEFAULT_CHUNK_ELEMENTS, pairwise_ragged, pairwise_sorted


def resample_positions(order_idx, idx: list[np.ndarray], design: str) -> list[np.ndarray]:
    """Positions in each model's sorted sample that make up its sorted bootstrap resamples.

    The sorted resample of a sorted sample is that sample repeated by the resample's counts
    (METHOD.md section 5), so no replicate is ever sorted. ``order_idx[a]`` is the argsort of
    model a's scores; returns one (b, n_a) integer array per model: ``sorted_a[pos]`` is the
    sorted resample.
    """
    out = []
    b = idx[0].shape[0]
    counts = positions = None
    for a, perm in enumerate(order_idx):
        n = perm.size
        if counts is None or design != "paired":
            ia = idx[0] if design == "paired" else idx[a]
            counts = np.bincount((ia + n * np.arange(b)[:, None]).ravel(),
                                 minlength=b * n).reshape(b, n)  # (b, n) per item
            positions = np.tile(np.arange(n), b)
        out.append(np.repeat(positions, counts[:, perm].ravel()).reshape(b, n))
    return out


def pairwise(q: list[np.ndarray], order: int) -> np.ndarray:
    """(b, k, k) ratios of sorted samples q[a] (b, n_a), equal or unequal sizes."""
    if len({x.shape[1] for x in q}) == 1:
        return pairwise_sorted(np.stack(q, axis=1), order,
                               chunk_elements=DEFAULT_CHUNK_ELEMENTS)[0]
    return pairwise_ragged(q, order)[0]


def replicate_matrices(job, idx: list[np.ndarray]) -> np.ndarray:
    pos = resample_positions(job.order_idx, idx, job.design)
    q = [v[p] for v, p in zip(job.values, pos, strict=True)]
    return np.stack([pairwise(q, order) for order in job.orders])


def sorted_resamples(sorted_values, order_idx, idx: list[np.ndarray],
                     design: str) -> list[np.ndarray]:
    """Sorted bootstrap samples (one (b, n_a) array per model), without sorting."""
    return [v[p] for v, p in zip(sorted_values, resample_positions(order_idx, idx, design),
                                 strict=True)]
