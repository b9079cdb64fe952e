"""Backends for the bootstrap replicates: one interface, several engines.

Every engine computes, for a range of replicates, the (b, k, k) violation-ratio matrices of the
resampled data. Replicate r draws its indices from its own child seed (``Resampler``), so every
engine sees the same resamples and returns the same numbers (to rounding: numpy and numba sum in
different orders; within one engine results are bit-identical whatever the batch size).

- ``"numpy"``: the reference path (``riskbench.dominance``), also the oracle of the others;
- ``"numba"``: compiled kernels, parallel over replicates (a dependency of riskbench);
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
           "compute_batch", "row_blocks", "assemble_rows"]

BACKENDS = ("auto", "numpy", "numba", "torch", "dask")


class Resampler:
    """Bootstrap resamples, one independent stream per replicate.

    Replicate r draws from a ``numpy.random.Generator`` on a Philox counter-based bit generator
    whose 128-bit key comes from ``SeedSequence(seed)`` and whose counter starts at block
    (0, r, 0, 0): 2^64 blocks apart from any other replicate. Any replicate can therefore be
    drawn anywhere, in any order, by any engine or worker, with the same result.

    Parameters
    ----------
    sizes : tuple of int
        Number of values of each model.
    design : {"paired", "independent"}
        paired: one resample shared by all models (sizes must be equal); independent: each
        model resamples on its own, in model order, from the replicate's stream.
    seed : int
    clusters : array of int, optional
        Cluster code (0..C-1) of each item position: clusters are resampled, each drawn cluster
        bringing all its items (METHOD.md section 14). Equal sizes only.
    groups : array of int, optional
        Two-stage resampling of repeated generations: the item code (0..I-1) of each value, every
        item holding the same number m of values. Stage 1 draws I items (shared by all models in
        the paired design); stage 2 draws, for each model and each drawn item, m of its values.
    """

    def __init__(self, sizes: tuple[int, ...], design: str, seed: int, *,
                 clusters: np.ndarray | None = None, groups: np.ndarray | None = None) -> None:
        self.sizes = tuple(int(n) for n in sizes)
        self.design = design
        self.seed = int(seed)
        self.key = np.random.SeedSequence(self.seed).generate_state(2, np.uint64)
        self.clusters = None if clusters is None else np.asarray(clusters, dtype=np.int64)
        self.groups = None if groups is None else np.asarray(groups, dtype=np.int64)
        if self.groups is not None:  # members of each item, in value order: (I, m)
            order = np.argsort(self.groups, kind="stable")
            self.members = order.reshape(int(self.groups.max()) + 1, -1)

    @property
    def plain(self) -> bool:
        """Items resampled one by one (no clusters, no second stage)."""
        return self.clusters is None and self.groups is None

    def rng(self, replicate: int) -> np.random.Generator:
        """The generator of one replicate (a fresh object; :meth:`counts` reuses one)."""
        return np.random.Generator(np.random.Philox(
            key=self.key, counter=np.array([0, replicate, 0, 0], dtype=np.uint64)))

    def counts(self, start: int, stop: int) -> list[np.ndarray]:
        """How often each value is drawn in replicates start..stop-1 (read-only arrays).

        Plain and cluster resampling are drawn by a compiled copy of numpy's Philox stream
        and bounded integers when numba is installed (the same numbers, about 10 times
        faster); :meth:`draw_numpy` is the reference.

        One (b, n) array shared by all models (paired design, one stage), or one (b, n_a) array
        per model. Recent batches are cached (up to 64 MiB), so tests of several metrics or
        orders with the same seed draw them once.
        """
        key = (self.sizes, self.design, self.seed, start, stop,
               None if self.clusters is None else self.clusters.tobytes(),
               None if self.groups is None else self.groups.tobytes())
        cached = _CACHE.get(key)
        if cached is None:
            cached = self._draw(start, stop)
            for arr in cached:
                arr.flags.writeable = False
            _CACHE.put(key, cached)
        return cached

    def indices(self, start: int, stop: int) -> list[list[np.ndarray]]:
        """The drawn value positions of each replicate: ``[model or 0][replicate]`` arrays."""
        counts = self.counts(start, stop)
        return [[np.repeat(np.arange(c.shape[1]), row) for row in c] for c in counts]

    def _draw(self, start: int, stop: int) -> list[np.ndarray]:
        shared = self.design == "paired" and self.groups is None
        if self.groups is None and available("numba"):
            # the same numbers from a compiled copy of the Philox stream and numpy's bounded
            # integers (a test compares them), without a Python call per replicate
            from riskbench.backends._numba import draw_counts

            slots = self.sizes[:1] if shared else self.sizes
            return draw_counts(self.key, slots, start, stop, self.clusters)
        return self.draw_numpy(start, stop)

    def draw_numpy(self, start: int, stop: int) -> list[np.ndarray]:
        """The counts of replicates start..stop-1 drawn by numpy itself (the reference)."""
        shared = self.design == "paired" and self.groups is None
        bits = np.random.Philox(key=self.key)
        gen = np.random.Generator(bits)
        state = bits.state
        b = stop - start
        slots = 1 if shared else len(self.sizes)
        out = [np.zeros((b, self.sizes[a]), dtype=np.int64) for a in range(slots)]
        for row, r in enumerate(range(start, stop)):
            # same as self.rng(r), without building new objects for every replicate
            state["state"]["counter"] = np.array([0, r, 0, 0], dtype=np.uint64)
            state["buffer_pos"] = 4
            state["has_uint32"] = 0
            bits.state = state
            if self.groups is not None:
                self._two_stage(gen, [arr[row] for arr in out])
                continue
            for arr, n in zip(out, self.sizes, strict=False):
                if self.clusters is None:
                    arr[row] = np.bincount(gen.integers(0, n, size=n), minlength=n)
                else:
                    n_clusters = int(self.clusters.max()) + 1
                    drawn = np.bincount(gen.integers(0, n_clusters, size=n_clusters),
                                        minlength=n_clusters)
                    arr[row] = drawn[self.clusters]
        return out

    def _two_stage(self, gen: np.random.Generator, rows: list[np.ndarray]) -> None:
        n_items, m = self.members.shape
        items = gen.integers(0, n_items, size=n_items) if self.design == "paired" else None
        for row in rows:
            stage1 = items if items is not None else gen.integers(0, n_items, size=n_items)
            picks = gen.integers(0, m, size=(n_items, m))  # m draws within each drawn item
            row[:] = np.bincount(self.members[stage1[:, None], picks].ravel(),
                                 minlength=row.size)


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


# 64 MiB: W1's draws (12 x 5,000 x 8 metrics, B = 1000: 40 MB) stay cached for every test of a
# run; at 10^7 rows a replicate's draws take 4 MB and a larger store only held 256 MB of
# batches no later test asked for (redrawing costs about 1 ms per million draws)
_CACHE = _IndexCache(64 * 2**20)


@dataclass(frozen=True, eq=False)
class ReplicateJob:
    """Everything a worker needs to compute any range of replicates.

    ``values[a]`` is model a's scores sorted ascending (any finite values, unscaled);
    ``order_idx[a]`` the argsort of its original scores (item of each sorted position).
    """

    values: tuple[np.ndarray, ...]
    order_idx: tuple[np.ndarray, ...]
    design: str
    orders: tuple[int, ...]
    seed: int
    clusters: np.ndarray | None = None
    groups: np.ndarray | None = None

    def resampler(self) -> Resampler:
        """The job's Resampler (made once: every batch of a bootstrap asks for it)."""
        made = self.__dict__.get("_resampler")
        if made is None:
            made = Resampler(self.sizes, self.design, self.seed, clusters=self.clusters,
                             groups=self.groups)
            object.__setattr__(self, "_resampler", made)
        return made

    def prepared(self, key: str, make):
        """A value derived from the job's data, computed once per job (``make()``)."""
        cache = self.__dict__.setdefault("_prepared", {})
        if key not in cache:
            cache[key] = make()
        return cache[key]

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(v.size for v in self.values)

    @property
    def equal_sizes(self) -> bool:
        return len(set(self.sizes)) == 1


_MODULES = {"numba": "numba", "torch": "torch", "dask": "distributed"}  # backend -> package


def available(name: str) -> bool:
    """Whether the optional package behind a backend can be imported."""
    module = _MODULES.get(name)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def resolve(backend: object) -> str:
    """The engine a ``backend=`` value stands for; a missing package is an InputError."""
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got "
                         f"{backend!r}")
    if backend == "auto":
        return "numba" if available("numba") else "numpy"
    if backend in _MODULES:
        from riskbench._extras import require

        require(_MODULES[backend], needed_by=f"backend={backend!r}")
    return str(backend)


def compute_batch(job: ReplicateJob, start: int, stop: int, engine: str,
                  rows: tuple[int, int] | None = None) -> np.ndarray:
    """(orders, b, k, k) violation-ratio matrices of replicates start..stop-1, local engine.

    Engines get the draw counts of each value. The compiled engines need every model of a
    replicate to have the same number of draws (always so for plain and two-stage resampling,
    and for clusters in the paired design); otherwise the numpy engine integrates each pair
    on the union of its grids. ``rows = (i_lo, i_hi)``: only the pairs i < j with i in that
    range, as (orders, b, i_hi - i_lo, k) with NaN where j <= i (one block of the pairs axis;
    :func:`assemble_rows` puts blocks together).
    """
    counts = job.resampler().counts(start, stop)
    totals = np.stack([c.sum(axis=1) for c in counts])  # (slots, b)
    equal = job.equal_sizes and bool((totals == totals[0]).all())
    if engine == "numba" and equal:
        from riskbench.backends._numba import replicate_matrices

        return replicate_matrices(job, counts, rows)
    if engine == "torch" and equal and bool((totals == job.sizes[0]).all()):
        from riskbench.backends._torch import replicate_matrices

        out = replicate_matrices(job, counts)
    else:
        from riskbench.backends._numpy import replicate_matrices

        out = replicate_matrices(job, counts)
    if rows is None:
        return out
    block = out[:, :, rows[0]:rows[1], :].copy()
    k = out.shape[-1]
    block[:, :, ~(np.arange(k)[None, :] > np.arange(rows[0], rows[1])[:, None])] = np.nan
    return block


def row_blocks(k: int, parts: int) -> list[tuple[int, int]]:
    """Split the rows i of the pairs i < j into ``parts`` ranges with about equal numbers of
    pairs (row i holds k - 1 - i of them)."""
    pairs = np.cumsum(np.arange(k - 1, -1, -1))  # pairs in rows 0..i
    total = pairs[-1]
    cuts = [0] + [int(np.searchsorted(pairs, total * p / parts)) + 1 for p in range(1, parts)]
    cuts = sorted(set(min(c, k) for c in cuts)) + [k]
    return [(lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True) if hi > lo]


def assemble_rows(blocks: list[tuple[tuple[int, int], np.ndarray]], k: int) -> np.ndarray:
    """(orders, b, k, k) matrices from row blocks of the upper triangle: E[j, i] = 1 - E[i, j]
    (as the local kernels mirror), NaN diagonal."""
    first = blocks[0][1]
    out = np.empty(first.shape[:2] + (k, k))
    for (lo, hi), block in blocks:
        out[:, :, lo:hi, :] = block
    lower = np.tril(np.ones((k, k), dtype=bool), -1)
    out[..., lower] = 1.0 - np.swapaxes(out, -1, -2)[..., lower]
    out[..., np.arange(k), np.arange(k)] = np.nan
    return out


def run_replicates(job: ReplicateJob, batches: list[tuple[int, int]],
                   engine: str) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, reps)`` for each batch, in order; reps is (orders, b, k, k)."""
    if engine == "dask":
        from riskbench.backends._dask import run

        yield from run(job, batches)
        return
    for start, stop in batches:
        yield start, stop, compute_batch(job, start, stop, engine)
