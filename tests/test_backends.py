"""Every engine against the numpy reference and the loop oracle, on the same replicates."""

import warnings

import numpy as np
import pytest

import riskbench
from riskbench.backends import ReplicateJob, Resampler, compute_batch, resolve
from riskbench.dominance import common_scale
from riskbench.errors import DegenerateDataWarning, InputError
from riskbench.portfolio import dominance_counts, dominance_counts_naive, pooled_ecdf

from oracle import replicate_loop

pytest.importorskip("numba")


def _job(x, design, orders, seed=3):
    values = [np.asarray(v, float) for v in x]
    order_idx = [np.argsort(v, kind="stable") for v in values]
    scaled = common_scale([v[o] for v, o in zip(values, order_idx, strict=True)])
    return ReplicateJob(tuple(scaled), tuple(order_idx), design, orders, seed), values


def _data(kind, k=5, n=40, seed=0):
    rng = np.random.default_rng(seed)
    shift = np.linspace(0, 0.6, k)[:, None]
    if kind == "continuous":
        return rng.normal(shift, 1.0, (k, n))
    if kind == "likert":  # few levels: the histogram kernel
        return np.clip(np.round(3 + rng.normal(shift, 1.2, (k, n))), 1, 5)
    return (rng.uniform(size=(k, n)) < 0.4 + 0.3 * shift).astype(float)  # binary


@pytest.mark.parametrize("kind", ["continuous", "likert", "binary"])
@pytest.mark.parametrize("design", ["paired", "independent"])
def test_numba_matches_numpy_and_loop(kind, design):
    x = _data(kind)
    job, values = _job(x, design, (1, 2))
    fast = compute_batch(job, 0, 6, "numba")
    ref = compute_batch(job, 0, 6, "numpy")
    np.testing.assert_allclose(fast, ref, atol=1e-12)
    counts = Resampler(job.sizes, design, job.seed).counts(0, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        for u, order in enumerate((1, 2)):
            np.testing.assert_allclose(fast[u], replicate_loop(values, counts, order),
                                       atol=1e-12)


@pytest.mark.parametrize("orders", [(1,), (2,), (2, 1)])
def test_order_selection(orders):
    job, _ = _job(_data("continuous"), "paired", orders)
    both, _ = _job(_data("continuous"), "paired", (1, 2))
    out = compute_batch(job, 0, 3, "numba")
    ref = compute_batch(both, 0, 3, "numba")
    assert out.shape[0] == len(orders)
    for u, order in enumerate(orders):
        np.testing.assert_array_equal(out[u], ref[order - 1])


def test_one_signed_differences_are_exactly_zero_or_one():
    x = np.stack([np.arange(30.0), np.arange(30.0) + 5, np.arange(30.0)[::-1] * 2])
    job, _ = _job(x, "paired", (1, 2))
    out = compute_batch(job, 0, 20, "numba")
    assert set(np.unique(out[:, :, 0, 1])) <= {0.0, 1.0}
    assert (out[:, :, 1, 0] == 0.0).all()  # model 1 (shifted up) dominates in every replicate


@pytest.mark.parametrize("backend", ["numpy", "numba", "torch"])
def test_same_seed_same_numbers_for_any_batch(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    x = _data("continuous", k=6, n=50)
    runs = [riskbench.bootstrap(x, order=(1, 2), n_resamples=30, seed=5, batch=b,
                                backend=backend) for b in (1, 7, None)]
    for other in runs[1:]:
        for u in range(2):
            np.testing.assert_array_equal(other[u].eps_replicates, runs[0][u].eps_replicates)
            np.testing.assert_array_equal(other[u].eps_matrix_sd, runs[0][u].eps_matrix_sd)
            np.testing.assert_array_equal(other[u].equality_pvalue, runs[0][u].equality_pvalue)
    if backend != "numpy":  # the gate uses the same resamples whatever the engine
        base = riskbench.bootstrap(x, order=1, n_resamples=30, seed=5, backend="numpy")
        np.testing.assert_array_equal(runs[0][0].equality_pvalue, base.equality_pvalue)


@pytest.mark.parametrize("kind", ["continuous", "likert"])
def test_torch_cpu_matches_numpy(kind):
    pytest.importorskip("torch")
    x = _data(kind, k=6, n=60)
    for design in ("paired", "independent"):
        job, _ = _job(x, design, (1, 2))
        np.testing.assert_allclose(compute_batch(job, 0, 8, "torch"),
                                   compute_batch(job, 0, 8, "numpy"), atol=1e-12)


def test_ranking_identical_across_engines():
    table = riskbench.load_demo().select(models=riskbench.load_demo().models[:10])
    frames = {b: riskbench.rank(table, metric="win", n_resamples=60, seed=2,
                                backend=b).to_frame() for b in ("numpy", "numba")}
    np.testing.assert_allclose(frames["numba"]["eps_sd"], frames["numpy"]["eps_sd"],
                               atol=1e-12)
    assert frames["numba"]["model"].tolist() == frames["numpy"]["model"].tolist()


def test_numba_ec_counts_match_naive():
    rng = np.random.default_rng(4)
    for m, n_metrics, levels in [(300, 4, 3), (500, 8, 2), (257, 1, 50), (64, 3, 1000)]:
        ranks = pooled_ecdf(rng.integers(0, levels, (m, n_metrics)).astype(float))
        np.testing.assert_array_equal(dominance_counts(ranks, backend="numba"),
                                      dominance_counts_naive(ranks))



@pytest.mark.parametrize("bucket", [32, 64, 256])
def test_numba_ec_counts_with_rows_at_ties_and_buckets_together(bucket):
    """Metrics with few levels get checkpoint rows at their distinct ranks, the others every
    bucket positions; mixed in one portfolio (and with metric 0 tied or not), the counts are
    the naive ones."""
    from riskbench.backends._numba import _checkpoint_rows
    from riskbench.backends._numba import dominance_counts as compiled

    rng = np.random.default_rng(bucket)
    m = 1500
    columns = [rng.normal(size=m), rng.integers(0, 2, m), rng.integers(0, 5, m),
               rng.normal(size=m), np.round(rng.uniform(size=m), 1), rng.integers(0, 40, m)]
    for first in (0, 1):  # metric 0 continuous, then binary
        x = np.column_stack(columns[first:] + columns[:first]).astype(float)
        ranks = pooled_ecdf(x)
        row_of, bound, base = _checkpoint_rows(ranks, bucket)
        exact = [np.array_equal(bound[base[u - 1]:base[u]], np.r_[0, np.unique(ranks[:, u])])
                 for u in range(1, x.shape[1])]
        assert any(exact) and not all(exact)  # both kinds of rows are used
        np.testing.assert_array_equal(compiled(ranks, bucket), dominance_counts_naive(ranks))

def test_backend_errors():
    with pytest.raises(InputError) as info:
        resolve("cuda")
    assert str(info.value) == ("backend must be one of 'auto', 'numpy', 'numba', 'torch', "
                               "'dask'; got 'cuda'")
    assert resolve("auto") == "numba"


def test_dask_without_cluster_says_how_to_start_one():
    pytest.importorskip("distributed")
    with pytest.raises(InputError, match=r"backend='dask' runs the bootstrap on a running "
                                         r"dask.distributed cluster, and none is connected"):
        riskbench.bootstrap(np.arange(20.0).reshape(2, 10), n_resamples=4, seed=0,
                            backend="dask")


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_engines_agree_on_extreme_values(backend):
    """Huge, tiny and shared values: every engine gives the reference's numbers."""
    if backend == "torch":
        pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.normal(np.linspace(0, 1, 5)[:, None], 1.0, (5, 30))
    x[:, 3] = 1e16  # shared by every model
    x[1] *= 1e-300  # far below the others
    x[2] = x[2] * 1e250 + 1e300  # far above
    x[4] = x[0] + 1e-9  # close to model 0
    for design in ("paired", "independent"):
        job, _ = _job(x, design, (1, 2))
        np.testing.assert_allclose(compute_batch(job, 0, 6, backend),
                                   compute_batch(job, 0, 6, "numpy"), atol=1e-12)


@pytest.mark.parametrize("design", ["paired", "independent"])
@pytest.mark.parametrize("clustered", [False, True])
def test_compiled_draws_are_numpys_philox_streams(design, clustered):
    """The compiled Resampler draws the same counts as numpy's Generator on the same Philox
    streams: sizes 1 to 5,000 (powers of two, Lemire rejections), seeds up to 2^62."""
    from riskbench.backends._numba import draw_counts

    sizes = (20, 20, 20) if clustered else (1, 2, 3, 7, 64, 65, 1000, 4096, 5000)
    if design == "paired":
        sizes = (sizes[-1],) * 3
    clusters = np.repeat(np.arange(6), [1, 2, 3, 4, 5, 5]) if clustered else None
    for seed in (0, 5, 2**62):
        rs = Resampler(sizes, design, seed, clusters=clusters)
        ref = rs.draw_numpy(3, 40)
        slots = sizes[:1] if design == "paired" else sizes
        mine = draw_counts(rs.key, slots, 3, 40, rs.clusters)
        assert len(mine) == len(ref)
        for a, b in zip(mine, ref, strict=True):
            np.testing.assert_array_equal(a, b)


def test_compiled_kernels_are_cached_in_the_user_cache_dir(tmp_path):
    """Not next to the source (site-packages may be read-only): $XDG_CACHE_HOME/riskbench, and
    numba's own setting is left as it was for other packages."""
    import os
    import subprocess
    import sys

    code = ("import numba.core.config as c; before = c.CACHE_DIR; "
            "from riskbench.backends import _numba as k; import numpy as np; "
            "k.draw_counts(np.array([1, 2], dtype=np.uint64), (5,), 0, 2, None); "
            "print(k.cache_dir(), k.cached(), c.CACHE_DIR == before)")
    env = {key: v for key, v in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout.split()
    assert out == [str(tmp_path / "riskbench" / "numba"), "True", "True"]
    assert list((tmp_path / "riskbench" / "numba").rglob("_numba._draw_counts-*.nbi"))


@pytest.mark.parametrize("n_levels", [1, 2, 5, 13, 40])
def test_tied_kernel_cumulative_counts_are_the_histogram(n_levels):
    """The tied-score kernel's cumulative draws per level (four partial histograms, or one
    when levels are many for the items) equal bincount + cumsum, on both paths."""
    from riskbench.backends._numba import _cumulative_counts

    rng = np.random.default_rng(n_levels)
    for n in (1, 3, 7, 50, 203):
        level = rng.integers(0, n_levels, n).astype(np.int64)
        drawn = rng.multinomial(n, np.full(n, 1 / n)).astype(np.int64)
        out = np.empty(n_levels, np.int64)
        _cumulative_counts(level, drawn, np.empty((4, n_levels), np.int64), out)
        expected = np.cumsum(np.bincount(level, weights=drawn, minlength=n_levels))
        np.testing.assert_array_equal(out, expected.astype(np.int64))


def test_counting_orders_of_ranks_are_the_stable_argsort():
    from riskbench.backends._numba import _rank_orders, max_ranks

    rng = np.random.default_rng(6)
    for m, top in ((1, 1), (7, 3), (500, 2), (3000, 3000)):
        x = max_ranks(rng.integers(0, top + 1, (m, 3)))
        np.testing.assert_array_equal(x, pooled_ecdf(x))  # max-ranks already
        np.testing.assert_array_equal(_rank_orders(x), np.argsort(x, axis=0, kind="stable"))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_dominance_counts_of_any_numbers_match_the_oracle(backend):
    """Not only max-ranks: negative, out-of-range, tied and float values count the same."""
    rng = np.random.default_rng(11)
    cases = [rng.integers(-5, 100, (40, 3)), rng.integers(0, 4, (300, 4)),
             rng.integers(1, 41, (40, 2)), rng.normal(size=(70, 3)).round(1),
             rng.integers(0, 1000, (1, 3)), np.zeros((5, 1), np.int64)]
    for x in cases:
        np.testing.assert_array_equal(dominance_counts(x, backend=backend),
                                      dominance_counts_naive(x))
