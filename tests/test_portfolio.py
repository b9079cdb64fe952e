"""Portfolio: pooled ECDF, IC and EC aggregation against brute-force oracles (METHOD.md 9)."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import riskbench
from riskbench.errors import DataWarning, InputError
from riskbench.portfolio import (
    MetricCube,
    build_portfolio,
    dominance_counts,
    dominance_counts_naive,
    pooled_ecdf,
)


def cube_of(values, metrics=None):
    k, n, m = values.shape
    metrics = metrics or tuple(f"m{u}" for u in range(m))
    return MetricCube(tuple(f"model{a}" for a in range(k)), tuple(str(t) for t in range(n)),
                      metrics, values, dict.fromkeys(metrics, True))


def ecdf_loop(values):
    """F(s) = share of pooled values <= s, one value at a time."""
    flat = values.reshape(-1, values.shape[-1])
    out = np.empty(flat.shape)
    for p in range(flat.shape[0]):
        for u in range(flat.shape[1]):
            out[p, u] = sum(1 for q in range(flat.shape[0]) if flat[q, u] <= flat[p, u])
    return (out / flat.shape[0]).reshape(values.shape)


def ec_loop(values):
    flat = ecdf_loop(values).reshape(-1, values.shape[-1])
    m = flat.shape[0]
    counts = [sum(1 for q in range(m) if all(flat[q] <= flat[p])) for p in range(m)]
    return (np.array(counts) / m).reshape(values.shape[:2])


def ic_loop(values, weights):
    v = ecdf_loop(values)
    k, n, m = values.shape
    out = np.empty((k, n))
    for a in range(k):
        for t in range(n):
            out[a, t] = math.prod(v[a, t, u] ** weights[u] for u in range(m))
    return out


KINDS = {
    "continuous": lambda rng, shape: rng.normal(size=shape),
    "ties": lambda rng, shape: rng.integers(0, 3, size=shape).astype(float),
    "binary": lambda rng, shape: rng.integers(0, 2, size=shape).astype(float),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("shape", [(3, 5, 1), (4, 6, 2), (2, 9, 4), (5, 4, 3)])
def test_portfolios_match_loops(kind, shape):
    rng = np.random.default_rng(sum(shape))
    values = KINDS[kind](rng, shape)
    cube = cube_of(values)
    np.testing.assert_allclose(build_portfolio(cube, kind="ic").normalised, ecdf_loop(values))
    np.testing.assert_allclose(build_portfolio(cube, kind="ec").scores, ec_loop(values))
    weights = rng.uniform(0.1, 2.0, shape[2])
    named = dict(zip(cube.metrics, weights, strict=True))
    np.testing.assert_allclose(build_portfolio(cube, kind="ic", weights=named).scores,
                               ic_loop(values, weights / weights.sum()), rtol=1e-12)


def test_constant_metric_and_one_metric():
    rng = np.random.default_rng(1)
    values = np.stack([rng.normal(size=(3, 6)), np.ones((3, 6))], axis=-1)
    cube = cube_of(values)
    ic = build_portfolio(cube, kind="ic")
    np.testing.assert_allclose(ic.normalised[..., 1], 1.0)  # every value has the max rank
    np.testing.assert_allclose(ic.scores, np.sqrt(ic.normalised[..., 0]))
    ec = build_portfolio(cube, kind="ec")
    np.testing.assert_allclose(ec.scores, ic.normalised[..., 0])  # the constant adds nothing
    one = cube_of(values[..., :1])
    np.testing.assert_allclose(build_portfolio(one, kind="ic").scores,
                               build_portfolio(one, kind="ec").scores)


@given(st.integers(1, 400), st.integers(1, 6), st.sampled_from([2, 3, 5, 16, 64]),
       st.sampled_from([1, 7, 512]), st.integers(0, 2**32 - 1), st.sampled_from([2, 4, 1000]))
def test_dominance_counts_equal_naive(m, n_metrics, bucket, block, seed, levels):
    rng = np.random.default_rng(seed)
    ranks = pooled_ecdf(rng.integers(0, levels, size=(m, n_metrics)).astype(float))
    np.testing.assert_array_equal(dominance_counts(ranks, bucket=bucket, block=block),
                                  dominance_counts_naive(ranks))


def test_dominance_counts_larger_case():
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.normal(size=3000), rng.integers(0, 5, 3000),
                         rng.integers(0, 2, 3000), np.round(rng.uniform(size=3000), 1)])
    ranks = pooled_ecdf(x)
    np.testing.assert_array_equal(dominance_counts(ranks), dominance_counts_naive(ranks))



def test_pooled_ecdf_against_the_definition():
    """ranks[p, u] = #{q: values[q, u] <= values[p, u]}, by a plain loop: ties (including
    -0.0 and 0.0) share the maximum rank, infinities are the extremes."""
    rng = np.random.default_rng(8)
    x = np.column_stack([rng.normal(size=300), rng.integers(0, 4, 300).astype(float),
                         np.where(rng.random(300) < 0.5, -0.0, 0.0) + rng.integers(0, 2, 300),
                         rng.choice([-np.inf, 0.5, np.inf], 300)])
    ranks = pooled_ecdf(x)
    for u in range(x.shape[1]):
        for p in range(x.shape[0]):
            assert ranks[p, u] == sum(1 for q in range(x.shape[0]) if x[q, u] <= x[p, u])


def test_a_tables_cube_computes_its_ranks_once():
    """The IC and EC portfolios of one table cube share one pooled ECDF (its values are
    read-only); a cube built from a writeable array is ranked afresh every time."""
    from riskbench.portfolio import cube_ranks

    rng = np.random.default_rng(3)
    values = rng.integers(0, 5, (3, 20, 2)).astype(float)
    values[0, 0, 0] = -1.0  # the lowest: rank 1
    frame = pd.DataFrame([{"model": f"m{a}", "item": t, "metric": f"x{u}",
                           "value": values[a, t, u]}
                          for a in range(3) for t in range(20) for u in range(2)])
    cube = riskbench.read_scores(frame).cube()
    assert not cube.values.flags.writeable
    assert cube_ranks(cube) is cube_ranks(cube)
    np.testing.assert_array_equal(cube_ranks(cube), pooled_ecdf(cube.values.reshape(60, 2)))
    mine = cube_of(values.copy())
    first = cube_ranks(mine)
    mine.values[0, 0, 0] = 99.0
    assert first[0, 0] == 1 and cube_ranks(mine)[0, 0] == 60

def test_weights_errors():
    cube = cube_of(np.zeros((2, 3, 2)) + np.arange(3)[None, :, None])
    with pytest.raises(InputError, match=r"weights name metric\(s\) 'x' that are not in the "
                                         r"portfolio \(metrics: m0, m1\)"):
        build_portfolio(cube, weights={"x": 1})
    with pytest.raises(InputError, match="weight of metric 'm0' must be a finite number >= 0"):
        build_portfolio(cube, weights={"m0": -1})
    with pytest.raises(InputError, match="portfolio weights are all zero"):
        build_portfolio(cube, weights={"m0": 0, "m1": 0})
    with pytest.raises(InputError, match="weights apply to the independent-copula portfolio"):
        build_portfolio(cube, kind="ec", weights={"m0": 1})
    with pytest.raises(InputError, match="portfolio must be one of 'ic', 'ec'"):
        build_portfolio(cube, kind="mean")


def test_unnamed_metrics_weigh_one():
    cube = cube_of(np.random.default_rng(2).normal(size=(2, 4, 3)))
    p = build_portfolio(cube, weights={"m0": 2})
    np.testing.assert_allclose(p.weights, [0.5, 0.25, 0.25])


def test_cube_from_table_orients_and_checks_items():
    frame = pd.DataFrame({
        "model": ["a"] * 4 + ["b"] * 4,
        "item": ["1", "2", "1", "2"] * 2,
        "metric": ["q", "q", "tox", "tox"] * 2,
        "value": [1.0, 0.0, 0.2, 0.4, 0.5, 0.5, 0.1, 0.0],
    })
    table = riskbench.read_scores(frame, higher_is_better={"tox": False})
    cube = table.cube()
    assert cube.metrics == ("q", "tox") and cube.values.shape == (2, 2, 2)
    np.testing.assert_allclose(cube.values[0, :, 1], [-0.2, -0.4])
    ragged = pd.concat([frame, pd.DataFrame({"model": ["a", "b"], "item": ["3", "3"],
                                             "metric": ["q", "q"], "value": [1.0, 1.0]})])
    with pytest.raises(InputError) as info:
        riskbench.read_scores(ragged).cube()
    assert str(info.value) == (
        "DataFrame: the metrics have different item sets ('q': 3, 'tox': 2 items); a portfolio "
        "needs the same items for all metrics: read the scores with align='intersect' to keep "
        "the 2 common items, or rank one metric (metric=) or each on its own (portfolio=None, a "
        "Borda count)")
    assert "--align intersect to keep the 2 common items, or rank one metric (--metric)" in \
        info.value.cli_message()
    with pytest.warns(DataWarning, match="kept the 2 items all metrics share"):
        assert riskbench.read_scores(ragged, align="intersect").cube().values.shape == (2, 2, 2)


def test_rank_defaults_to_ic_portfolio_on_several_metrics():
    table = riskbench.load_demo()
    ranking = riskbench.rank(table, n_resamples=30, seed=0)
    assert ranking.portfolio is not None and ranking.portfolio.kind == "ic"
    assert ranking.metric == "portfolio:ic"
    assert ((ranking.mean > 0) & (ranking.mean <= 1)).all()
