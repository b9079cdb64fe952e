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

from riskbench.backends import ReplicateJob, compute_batch, resolve
from riskbench.errors import InputError


def run(job: ReplicateJob, batches: list[tuple[int, int]]) -> Iterator[tuple[int, int,
                                                                          np.ndarray]]:
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
    futures = [client.submit(compute_batch, shared, start, stop, engine, pure=False)
               for start, stop in batches]
    for (start, stop), future in zip(batches, futures, strict=True):
        yield start, stop, future.result()
