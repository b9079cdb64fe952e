"""Replicate batches as tasks on a running dask.distributed cluster.

Why Dask rather than Ray: it is pure Python, installs from PyPI without a native runtime, starts a
local cluster in-process or in processes with no external service, and its futures API maps
one-to-one onto "compute replicates start..stop". Every task rebuilds its indices from the seed
(``Resampler``), so only the small ``ReplicateJob`` travels, once per worker.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from distributed import get_client

from riskbench.backends import ReplicateJob, assemble_rows, compute_batch, resolve, row_blocks
from riskbench.errors import InputError

#: From this many models on, each batch of replicates is also split along the pairs axis:
#: one task per block of rows i of the pairs i < j, so that a cluster shares the O(k^2)
#: work of a batch (a 1,000-model batch would otherwise be one task on one worker).
PAIRS_AXIS_MODELS = 200


def run(job: ReplicateJob, batches: list[tuple[int, int]], *,
        pairs_axis: bool | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, reps)`` for each batch, computed on the connected cluster.

    ``pairs_axis``: split every batch into blocks of pairs too (default: from
    :data:`PAIRS_AXIS_MODELS` models on), about two blocks per worker thread; the blocks are
    assembled in order into the same matrices the local engines return.
    """
    try:
        client = get_client()
    except ValueError:
        raise InputError(
            "backend='dask' runs the bootstrap on a running dask.distributed cluster, and none "
            "is connected: start one first, e.g. `from dask.distributed import Client; "
            "client = Client()` (a local cluster) or `Client('tcp://scheduler:8786')`"
        ) from None
    engine = resolve("auto")  # the workers use the engine this process would use locally
    shared = client.scatter(job, broadcast=True)
    k = len(job.values)
    if pairs_axis is None:
        pairs_axis = k >= PAIRS_AXIS_MODELS
    if not pairs_axis:
        futures = [client.submit(compute_batch, shared, start, stop, engine, pure=False)
                   for start, stop in batches]
        for (start, stop), future in zip(batches, futures, strict=True):
            yield start, stop, future.result()
        return
    slots = sum(client.nthreads().values()) or 1
    blocks = row_blocks(k, 2 * slots)
    futures = [[client.submit(compute_batch, shared, start, stop, engine, rows, pure=False)
                for rows in blocks] for start, stop in batches]
    for (start, stop), parts in zip(batches, futures, strict=True):
        yield start, stop, assemble_rows(list(zip(blocks, (f.result() for f in parts),
                                                  strict=True)), k)
