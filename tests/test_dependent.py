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


def _clustered_metrics():
    """3 models x 40 items in 8 clusters x 2 metrics, with strong cluster effects."""
    rng = np.random.default_rng(5)
    clusters = np.repeat(np.arange(8), [2, 3, 4, 5, 6, 6, 7, 7])
    effect = rng.normal(0, 2, (2, 8))
    rows = []
    for a, model in enumerate(("a", "b", "c")):
        for u, metric in enumerate(("quality", "safety")):
            values = effect[u][clusters] + 0.3 * a + rng.normal(0, 0.5, 40)
            rows += [{"model": model, "item": f"q{t}", "passage": f"p{clusters[t]}",
                      "metric": metric, "value": float(v)} for t, v in enumerate(values)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("portfolio", ["ic", "ec", None, "multivariate"])
def test_portfolios_resample_clusters(portfolio):
    """--cluster-col was silently dropped whenever several metrics were ranked together: the
    portfolio's samples had no clusters. Now every portfolio's bootstrap is the cluster
    bootstrap of its per-item scores, the same as passing those clusters by hand."""
    frame = _clustered_metrics()
    clustered = riskbench.read_scores(frame, item="item", cluster="passage")
    plain = riskbench.read_scores(frame.drop(columns="passage"), item="item")
    b = 30 if portfolio == "multivariate" else 200
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", riskbench.errors.RiskbenchWarning)
        with_clusters = riskbench.rank(clustered, portfolio=portfolio, n_resamples=b, seed=0)
        without = riskbench.rank(plain, portfolio=portfolio, n_resamples=b, seed=0)
    if portfolio is None:  # Borda: each metric's own ranking
        for m in ("quality", "safety"):
            assert not np.allclose(with_clusters.per_metric[m].test.pvalue,
                                   without.per_metric[m].test.pvalue, equal_nan=True)
        return
    assert not np.allclose(with_clusters.test.pvalue, without.test.pvalue, equal_nan=True)
    assert with_clusters.to_dict()["resampling"] == {"unit": "cluster", "clusters": 8}
    assert without.to_dict()["resampling"] == {"unit": "item"}
    assert with_clusters.bootstrap_words() == "paired cluster bootstrap (8 clusters of items)"
    if portfolio == "multivariate":
        return
    built = riskbench.portfolio.build_portfolio(clustered.cube(), kind=portfolio)
    codes = np.unique([clustered.item_clusters[i] for i in built.items], return_inverse=True)[1]
    np.testing.assert_array_equal(built.samples().clusters, codes)
    by_hand = Samples(built.models, tuple(built.scores), True, built.name, True, built.items,
                      codes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", riskbench.errors.RiskbenchWarning)
        expected = riskbench.rank(by_hand, n_resamples=b, seed=0)
    np.testing.assert_array_equal(with_clusters.test.sd, expected.test.sd)
    np.testing.assert_array_equal(with_clusters.test.pvalue, expected.test.pvalue)
