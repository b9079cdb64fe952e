"""The reference engine: numpy only (``riskbench.dominance``)."""

from __future__ import annotations

import numpy as np

from riskbench.dominance import DEFAULT_CHUNK_ELEMENTS, pairwise_ragged, pairwise_sorted


def _slot(counts: list[np.ndarray], a: int) -> np.ndarray:
    """Model a's (b, n_a) counts: the shared array, or its own."""
    return counts[0] if len(counts) == 1 else counts[a]


def resample_positions(order_idx, counts: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Positions in each model's sorted sample that make up its sorted bootstrap resamples.

    The sorted resample of a sorted sample is that sample repeated by the resample's counts
    (METHOD.md section 5), so no replicate is ever sorted. ``order_idx[a]`` is the argsort of
    model a's scores and ``counts`` how often each value is drawn. Returns, per model, one array
    of positions per replicate: ``sorted_a[pos]`` is the sorted resample.
    """
    out = []
    for a, perm in enumerate(order_idx):
        rows = _slot(counts, a)[:, perm]  # (b, n_a) counts in sorted order
        positions = np.arange(perm.size)
        out.append([np.repeat(positions, row) for row in rows])
    return out


def pairwise(q: list[np.ndarray], order: int) -> np.ndarray:
    """(b, k, k) ratios of sorted samples q[a] (b, n_a), equal or unequal sizes."""
    if len({x.shape[1] for x in q}) == 1:
        return pairwise_sorted(np.stack(q, axis=1), order,
                               chunk_elements=DEFAULT_CHUNK_ELEMENTS)[0]
    return pairwise_ragged(q, order)[0]


def sorted_resamples(sorted_values, order_idx, counts: list[np.ndarray]) -> list[np.ndarray]:
    """Sorted bootstrap samples, one (b, m_a) array per model, when every replicate of a model
    has the same size m_a (always so except for clusters of unequal sizes)."""
    return [np.stack([v[p] for p in pos]) for v, pos in
            zip(sorted_values, resample_positions(order_idx, counts), strict=True)]


def replicate_matrices(job, counts: list[np.ndarray]) -> np.ndarray:
    positions = resample_positions(job.order_idx, counts)
    b = len(positions[0])
    sizes = {p.size for pos in positions for p in pos}
    if len(sizes) == 1:  # one grid for every replicate and model: vectorise over replicates
        q = [np.stack([v[p] for p in pos]) for v, pos in zip(job.values, positions,
                                                             strict=True)]
        return np.stack([pairwise(q, order) for order in job.orders])
    out = np.empty((len(job.orders), b, len(job.values), len(job.values)))
    for r in range(b):  # clusters of unequal sizes: each replicate on its own grid(s)
        q = [v[pos[r]][None] for v, pos in zip(job.values, positions, strict=True)]
        for u, order in enumerate(job.orders):
            out[u, r] = pairwise(q, order)[0]
    return out
