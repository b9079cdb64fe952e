"""Backends for the bootstrap replicates: one interface, several engines.

Every engine computes, for a range of replicates, the (b, k, k) violation-ratio matrices of the
resampled data. Replicate r draws its indices from its own child seed (``Resampler``), so every
engine sees the same resamples and returns the same numbers (to rounding: numpy and numba sum in
different orders; within one engine results are bit-identical whatever the batch size).

- ``"numpy"``: the reference path (``riskbench.dominance``), also the oracle of the others;
- ``"numba"``: compiled kernels, parallel over replicates (extra ``riskbench[fast]``);
- ``"torch"``: the vectorised algorithm on a torch device, GPU when available
  (extra ``riskbench[torch]``);
- ``"dask"``: batches of replicates as tasks on a running ``dask.distributed`` cluster
  (extra ``riskbench[dask]``), each computed with the best local engine of the worker;
- ``"auto"`` (default): numba when it is installed, else numpy.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from riskbench.errors import InputError

__all__ = ["BACKENDS", "ReplicateJob", "Resampler", "available", "resolve", "run_replicates",
           "compute_batch"]

BACKENDS = ("auto", "numpy", "numba", "torch", "dask")


class Resampler:
    """Bootstrap indices, one independent stream per replicate.

    Replicate r draws from a ``numpy.random.Generator`` on a Philox counter-based bit generator
    whose 128-bit key comes from ``SeedSequence(seed)`` and whose counter starts at block
    (0, r, 0, 0): 2^64 blocks apart from any other replicate. Any replicate can therefore be
    drawn anywhere, in any order, by any engine or worker, with the same result.

    Parameters
    ----------
    sizes : tuple of int
        Number of items of each model.
    design : {"paired", "independent"}
        paired: one resample of item positions shared by all models (sizes must be equal);
        independent: each model resamples its own items, in model order, from the replicate's
        stream.
    seed : int
    """

    def __init__(self, sizes: tuple[int, ...], design: str, seed: int) -> None:
        self.sizes = tuple(int(n) for n in sizes)
        self.design = design
        self.seed = int(seed)
        self.key = np.random.SeedSequence(self.seed).generate_state(2, np.uint64)

    def rng(self, replicate: int) -> np.random.Generator:
        """The generator of one replicate (a fresh object; see :meth:`indices` for speed)."""
        return np.random.Generator(np.random.Philox(
            key=self.key, counter=np.array([0, replicate, 0, 0], dtype=np.uint64)))

    def indices(self, start: int, stop: int) -> list[np.ndarray]:
        """Indices of replicates start..stop-1 (read-only arrays).

        paired: one array of shape (b, n); independent: k arrays of shape (b, n_a). Recent
        batches are cached (up to 256 MiB), so tests of several metrics or orders with the same
        seed draw them once.
        """
        key = (self.sizes, self.design, self.seed, start, stop)
        cached = _CACHE.get(key)
        if cached is None:
            cached = self._draw(start, stop)
            for arr in cached:
                arr.flags.writeable = False
            _CACHE.put(key, cached)
        return cached

    def _draw(self, start: int, stop: int) -> list[np.ndarray]:
        bits = np.random.Philox(key=self.key)
        gen = np.random.Generator(bits)
        state = bits.state
        b = stop - start
        if self.design == "paired":
            n = self.sizes[0]
            out = [np.empty((b, n), dtype=np.int64)]
        else:
            out = [np.empty((b, n), dtype=np.int64) for n in self.sizes]
        for row, r in enumerate(range(start, stop)):
            # same as self.rng(r), without building new objects for every replicate
            state["state"]["counter"] = np.array([0, r, 0, 0], dtype=np.uint64)
            state["buffer_pos"] = 4
            state["has_uint32"] = 0
            bits.state = state
            for arr, n in zip(out, self.sizes, strict=False):
                arr[row] = gen.integers(0, n, size=n)
        return out


class _IndexCache:
    """Least-recently-used store of index batches, bounded in bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: OrderedDict = OrderedDict()
        self.size = 0

    def get(self, key):
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        nbytes = sum(a.nbytes for a in value)
        if nbytes > self.limit:
            return
        self.items[key] = value
        self.size += nbytes
        while self.size > self.limit:
            _, old = self.items.popitem(last=False)
            self.size -= sum(a.nbytes for a in old)


_CACHE = _IndexCache(256 * 2**20)


@dataclass(frozen=True, eq=False)
class ReplicateJob:
    """Everything a worker needs to compute any range of replicates.

    ``values[a]`` is model a's scores sorted ascending (and mapped onto [-1, 1]);
    ``order_idx[a]`` the argsort of its original scores (item of each sorted position).
    """

    values: tuple[np.ndarray, ...]
    order_idx: tuple[np.ndarray, ...]
    design: str
    orders: tuple[int, ...]
    seed: int

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(v.size for v in self.values)

    @property
    def equal_sizes(self) -> bool:
        return len(set(self.sizes)) == 1


def available(name: str) -> bool:
    """Whether the optional package behind a backend can be imported."""
    module = {"numba": "numba", "torch": "torch", "dask": "distributed"}.get(name)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


_EXTRAS = {"numba": "fast", "torch": "torch", "dask": "dask"}


def resolve(backend: object) -> str:
    """The engine a ``backend=`` value stands for; a missing package is an InputError."""
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got "
                         f"{backend!r}")
    if backend == "auto":
        return "numba" if available("numba") else "numpy"
    if not available(backend):
        raise InputError(f"backend={backend!r} needs an optional package that is not "
                         f"installed: pip install 'riskbench[{_EXTRAS[backend]}]'")
    return str(backend)


def compute_batch(job: ReplicateJob, start: int, stop: int, engine: str) -> np.ndarray:
    """(orders, b, k, k) violation-ratio matrices of replicates start..stop-1, local engine."""
    idx = Resampler(job.sizes, job.design, job.seed).indices(start, stop)
    if engine == "numba" and job.equal_sizes:
        from riskbench.backends._numba import replicate_matrices

        return replicate_matrices(job, idx)
    if engine == "torch" and job.equal_sizes:
        from riskbench.backends._torch import replicate_matrices

        return replicate_matrices(job, idx)
    from riskbench.backends._numpy import replicate_matrices

    return replicate_matrices(job, idx)


def run_replicates(job: ReplicateJob, batches: list[tuple[int, int]],
                   engine: str) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, reps)`` for each batch, in order; reps is (orders, b, k, k)."""
    if engine == "dask":
        from riskbench.backends._dask import run

        yield from run(job, batches)
        return
    for start, stop in batches:
        yield start, stop, compute_batch(job, start, stop, engine)
