"""The distributed path on a real local Dask cluster, started by the test."""

import numpy as np
import pytest

import riskbench

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=50)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_dask_results_identical_to_local(client):
    rng = np.random.default_rng(0)
    x = rng.normal(np.linspace(0, 0.5, 6)[:, None], 1.0, (6, 120))
    local = riskbench.bootstrap(x, order=(1, 2), n_resamples=48, seed=9, batch=8)
    remote = riskbench.bootstrap(x, order=(1, 2), n_resamples=48, seed=9, batch=8,
                                 backend="dask")
    for a, b in zip(local, remote, strict=True):
        np.testing.assert_array_equal(a.eps_replicates, b.eps_replicates)
        np.testing.assert_array_equal(a.eps_matrix_sd, b.eps_matrix_sd)
        np.testing.assert_array_equal(a.equality_pvalue, b.equality_pvalue)
    assert len(client.scheduler_info()["workers"]) == 2


def test_dask_ranking_matches_local(client):
    table = riskbench.load_demo().select(models=riskbench.load_demo().models[:8])
    local = riskbench.rank(table, n_resamples=40, seed=1).to_frame()
    remote = riskbench.rank(table, n_resamples=40, seed=1, backend="dask").to_frame()
    assert local.equals(remote)


@pytest.mark.parametrize("kind", ["continuous", "likert"])
def test_pairs_axis_gives_the_local_numbers(client, kind):
    """Each batch split into blocks of pairs (the path for 1,000+ models, forced here on a
    small problem) is assembled into the same matrices as the local engines."""
    from riskbench.backends import ReplicateJob, compute_batch
    from riskbench.backends._dask import run

    rng = np.random.default_rng(3)
    x = rng.normal(np.linspace(0, 0.5, 9)[:, None], 1.0, (9, 80))
    if kind == "likert":
        x = np.clip(np.round(3 + x), 1, 5)
    order_idx = [np.argsort(v, kind="stable") for v in x]
    job = ReplicateJob(tuple(v[o] for v, o in zip(x, order_idx, strict=True)),
                       tuple(order_idx), "paired", (1, 2), 4)
    batches = [(0, 5), (5, 12)]
    for (start, stop, reps) in run(job, batches, pairs_axis=True):
        np.testing.assert_array_equal(reps, compute_batch(job, start, stop, "numba"))
    for engine in ("numpy", "numba"):  # one block of rows, any engine
        block = compute_batch(job, 0, 5, engine, rows=(2, 6))
        full = compute_batch(job, 0, 5, engine)
        upper = np.triu(np.ones((9, 9), dtype=bool), 1)[2:6]
        np.testing.assert_array_equal(block[:, :, upper], full[:, :, 2:6][:, :, upper])
        assert np.isnan(block[:, :, ~upper]).all()
