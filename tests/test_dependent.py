"""Dependent items (METHOD.md 14): cluster bootstrap and repeated generations."""

import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import riskbench
from riskbench._samples import Samples
from riskbench.backends import ReplicateJob, Resampler, compute_batch
from riskbench.cli import main
from riskbench.dominance import common_scale
from riskbench.errors import DegenerateDataWarning, InputError

from oracle import replicate_loop

CLUSTERS = np.repeat(np.arange(6), [1, 2, 3, 4, 5, 5])  # 20 items in 6 clusters of unequal size


def test_cluster_counts_draw_whole_clusters():
    counts = Resampler((20, 20), "paired", 3, clusters=CLUSTERS).counts(0, 50)
    assert len(counts) == 1  # shared by the models (paired)
    for row in counts[0]:
        for c in range(6):
            assert len(set(row[CLUSTERS == c])) == 1  # all items of a cluster drawn together
        draws = [row[CLUSTERS == c][0] for c in range(6)]
        assert sum(draws) == 6  # six cluster draws per replicate
    again = Resampler((20, 20), "paired", 3, clusters=CLUSTERS).counts(0, 50)
    np.testing.assert_array_equal(again[0], counts[0])
    independent = Resampler((20, 20), "independent", 3, clusters=CLUSTERS).counts(0, 5)
    assert len(independent) == 2 and not np.array_equal(independent[0], independent[1])


def test_two_stage_counts():
    groups = np.repeat(np.arange(5), 3)  # 5 items x 3 generations
    counts = Resampler((15, 15), "paired", 1, groups=groups).counts(0, 40)
    assert len(counts) == 2  # second stage is each model's own
    for r in range(40):
        per_item = [np.add.reduceat(c[r], np.arange(0, 15, 3)) for c in counts]
        np.testing.assert_array_equal(per_item[0], per_item[1])  # stage 1 shared
        assert per_item[0].sum() == 15 and counts[0][r].sum() == 15


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("design", ["paired", "independent"])
def test_cluster_replicates_match_loop_on_every_engine(order, design):
    rng = np.random.default_rng(0)
    x = rng.normal(np.linspace(0, 0.5, 4)[:, None] + rng.normal(0, 1, 6)[CLUSTERS], 1, (4, 20))
    order_idx = [np.argsort(v, kind="stable") for v in x]
    scaled = common_scale([v[o] for v, o in zip(x, order_idx, strict=True)])
    job = ReplicateJob(tuple(scaled), tuple(order_idx), design, (order,), 7, CLUSTERS)
    counts = job.resampler().counts(0, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        oracle = replicate_loop(list(x), counts, order)
    for engine in ("numpy", "numba"):
        np.testing.assert_allclose(compute_batch(job, 0, 8, engine)[0], oracle, atol=1e-12)


def test_cluster_bootstrap_widens_the_sd_of_clustered_data():
    rng = np.random.default_rng(1)
    clusters = np.repeat(np.arange(20), 10)  # 200 items, 20 clusters of 10 alike items
    effect = rng.normal(0, 1, 20)[clusters]
    # model b gains or loses a whole cluster's worth: 20 independent units, not 200
    x = np.stack([effect + rng.normal(0, 0.3, 200),
                  effect + 0.8 * rng.normal(0, 1, 20)[clusters] + rng.normal(0, 0.3, 200)])
    plain = Samples(("a", "b"), tuple(x), True)
    grouped = Samples(("a", "b"), tuple(x), True, clusters=clusters)
    sd = [riskbench.bootstrap(s, order=1, n_resamples=200, seed=0).eps_matrix_sd[0, 1]
          for s in (plain, grouped)]
    assert sd[1] > 2 * sd[0]


def _clustered_frame():
    rows = []
    for model, shift in (("a", 0.0), ("b", 0.4)):
        for item in range(12):
            rows.append((model, item, f"passage{item // 4}", shift + item % 5))
    return pd.DataFrame(rows, columns=["model", "item", "passage", "value"])


def test_read_scores_with_clusters_and_ranking():
    table = riskbench.read_scores(_clustered_frame(), cluster="passage")
    assert table.item_clusters["7"] == "passage1"
    samples = table.samples()
    assert samples.clusters.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    ranking = riskbench.rank(table, n_resamples=50, seed=0)
    assert ranking.models[0] == "b"
    frame = _clustered_frame()
    frame.loc[13, "passage"] = "passage9"
    with pytest.raises(InputError) as info:
        riskbench.read_scores(frame, cluster="passage")
    assert str(info.value) == ("DataFrame: item '1' is in cluster 'passage0' at row 1 but in "
                               "'passage9' at row 13; an item belongs to one cluster")


def _repeated_frame(unbalanced=False):
    rows = []
    for model, shift in (("a", 0.0), ("b", 1.0)):
        for item in range(8):
            for gen in range(3 if not (unbalanced and model == "b" and item == 2) else 2):
                rows.append((model, item, gen, shift + item + 0.1 * gen))
    return pd.DataFrame(rows, columns=["model", "item", "sample", "value"])


def test_repeated_generations_mean_and_two_stage():
    averaged = riskbench.read_scores(_repeated_frame(), repeat="sample")
    assert len(averaged.to_frame()) == 16
    assert averaged.samples().values[0][0] == pytest.approx(0.1)  # mean of 0, .1, .2
    assert any("averaged per item first (3 to 3 per item)" in n for n in averaged.notes)
    staged = riskbench.read_scores(_repeated_frame(), repeat="sample", repeats="two-stage")
    samples = staged.samples()
    assert samples.groups.tolist() == np.repeat(np.arange(8), 3).tolist()
    assert samples.values[1].size == 24
    boot = riskbench.bootstrap(staged, n_resamples=30, seed=0)
    assert boot.eps_matrix[1, 0] == 0.0
    with pytest.raises(InputError) as info:
        riskbench.read_scores(_repeated_frame(unbalanced=True), repeat="sample",
                              repeats="two-stage").samples()
    assert str(info.value) == (
        "DataFrame: metric 'value': two-stage resampling needs the same number of generations of "
        "every item for every model, but 'b' has 2 of item '2' and others have 3; read with "
        "repeats='mean' to average them per item instead")


def test_cli_cluster_option(tmp_path):
    path = tmp_path / "s.csv"
    _clustered_frame().to_csv(path, index=False)
    result = CliRunner().invoke(main, ["rank", str(path), "--item-col", "item", "--cluster-col",
                                       "passage", "--n-resamples", "30", "--seed", "0", "--quiet"])
    assert result.exit_code == 0, result.output
