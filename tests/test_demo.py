"""The embedded demo data against the published AlpacaEval 2.0 leaderboard."""

from pathlib import Path

import pandas as pd
import pytest

import riskbench

REFERENCE = Path(__file__).parent / "reference" / "alpacaeval2_leaderboard.csv"


def test_mean_win_rates_equal_the_published_leaderboard():
    table = riskbench.load_demo(align="none")  # every row, as AlpacaEval averages them
    frame = table.to_frame()
    win = frame[frame["metric"] == "win"].groupby("model")["value"].agg(["mean", "size"])
    board = pd.read_csv(REFERENCE, index_col="model")
    assert len(board) == 47
    joined = board.join(win, how="left")
    assert joined["mean"].notna().all()
    assert (joined["size"] == joined["n_total"]).all()
    diff = (joined["mean"] * 100 - joined["win_rate"]).abs()
    assert diff.max() < 1e-6, diff.sort_values().tail()


def test_demo_shape_and_directions():
    table = riskbench.load_demo()
    assert len(table.models) == 48
    assert table.metrics == ("length", "offensive", "win")
    assert table.higher_is_better == {"length": False, "offensive": False, "win": True}
    assert table.dropped_items == {"length": 6, "offensive": 6, "win": 6}
    assert len(table.items("win")) == 799
    for excluded in ("NullModel", "gpt4_gamed", "gpt4_1106_preview", "claude-2.1_concise"):
        assert excluded not in table.models
    full = riskbench.load_demo(align="none")
    assert len(full.to_frame()) == 115902


@pytest.mark.parametrize("order", [1, 2])
def test_demo_ranking_top_is_stable(order):
    ranking = riskbench.rank(riskbench.load_demo(), metric="win", order=order, n_resamples=200,
                             seed=0)
    assert ranking.models[0] == "FuseChat-Gemma-2-9B-Instruct"
    assert ranking.group[0] == 1 and ranking.models[0] in ranking.best_set
    assert ranking.group.max() >= 5  # real separation, not one big tie
