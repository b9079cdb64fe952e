"""Power planning by simulation (riskbench.power)."""

import warnings

import numpy as np
import pytest

from riskbench.errors import DegenerateDataWarning, InputError
from riskbench.power import DEFAULT_SIZES, PowerAnalysis, power

FAST = {"n_datasets": 60, "n_resamples": 100}


def _pilot(seed=0, n=120):
    rng = np.random.default_rng(seed)
    return {"strong": rng.normal(0.8, 1.0, n), "middle": rng.normal(0.1, 1.0, n),
            "weak": rng.normal(-0.2, 1.3, n)}


def test_power_grows_with_the_number_of_items():
    result = power(effect=0.3, order=1, sizes=[20, 80, 320], seed=1, **FAST)
    assert isinstance(result, PowerAnalysis)
    assert result.sizes == (20, 80, 320)
    assert result.power[0] < result.power[1] < result.power[2]
    # the equality gate costs some power: both tests must reject (about 0.9 x 0.9 here)
    assert result.power[2] > 0.7
    np.testing.assert_allclose(result.se, np.sqrt(result.power * (1 - result.power) / 60))
    assert result.source == "effect" and result.pair == ("a", "b") and result.h1
    assert result.statistic == -1.0  # N(0.3, 1) dominates N(0, 1): Delta = 0 - 1


def test_power_grows_with_the_effect():
    small = power(effect=0.05, order=2, sizes=[100], seed=2, **FAST)
    large = power(effect=0.5, order=2, sizes=[100], seed=2, **FAST)
    assert large.power[0] > small.power[0] + 0.5


def test_required_n_is_the_first_size_reaching_the_target():
    result = power(effect=0.3, order=1, sizes=[20, 80, 640], target=0.8, seed=1, **FAST)
    first = [n for n, p in zip(result.sizes, result.power, strict=True) if p >= 0.8][0]
    assert result.required_n == first
    # a very large effect needs few items; a tiny one is out of reach at these sizes
    assert power(effect=2.0, order=1, sizes=[20, 80], seed=1, **FAST).required_n == 20
    assert power(effect=0.02, order=1, sizes=[20, 40], seed=1, **FAST).required_n is None


def test_a_size_is_estimated_independently_of_the_others():
    alone = power(effect=0.3, order=2, sizes=[80], seed=5, **FAST)
    among = power(effect=0.3, order=2, sizes=[20, 80], seed=5, **FAST)
    assert alone.power[0] == among.power[1]
    again = power(effect=0.3, order=2, sizes=[20, 80], seed=5, **FAST)
    np.testing.assert_array_equal(again.power, among.power)


def test_pilot_scores_default_to_the_best_model_against_the_runner_up():
    result = power(_pilot(), order=2, sizes=[30, 300], seed=3, **FAST)
    assert result.pair == ("strong", "middle") and result.source == "pilot"
    assert result.models == ("strong", "middle", "weak")
    assert result.statistic < 0 and result.h1
    assert result.power[1] >= result.power[0]
    frame = result.to_frame()
    assert list(frame.columns) == ["n", "power", "se", "reaches_target"]
    assert frame["n"].tolist() == [30, 300]


def test_pilot_absolute_test_with_a_named_pair_and_the_independent_design():
    result = power(_pilot(), test="absolute", order=1, pair=("strong", "weak"),
                   design="independent", sizes=[200], seed=4, **FAST)
    assert result.pair == ("strong", "weak") and result.eps0 == 0.25
    assert result.design == "independent" and result.power[0] > 0.5


def test_a_pair_in_the_null_warns_that_no_size_can_reach_the_target():
    rng = np.random.default_rng(0)
    same = {"a": rng.normal(size=200), "b": rng.normal(size=200)}
    with pytest.warns(DegenerateDataWarning,
                      match=r"in the null hypothesis for '[ab]' against '[ab]' \(E = "):
        result = power(same, test="absolute", order=1, sizes=[100], seed=0, **FAST)
    assert not result.h1 and result.required_n is None


def test_progress_is_reported_per_dataset():
    calls = []
    power(effect=0.5, sizes=[20, 40], n_datasets=10, n_resamples=20, seed=0,
          progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (20, 20) and len(calls) == 20


def test_default_sizes():
    assert DEFAULT_SIZES == (50, 100, 200, 500, 1000, 2000, 5000)


@pytest.mark.parametrize("kwargs,message", [
    ({}, "power needs pilot scores (pilot=) or an effect size (effect=), exactly one of them"),
    ({"pilot": {"a": [1.0, 2.0], "b": [2.0, 3.0]}, "effect": 0.5},
     "power needs pilot scores (pilot=) or an effect size (effect=), exactly one of them"),
    ({"effect": 0.0}, "effect must be a positive number (the shift between two normal models, "
                      "in standard deviations); got 0.0"),
    ({"effect": float("nan")}, "effect must be a positive number"),
    ({"effect": True}, "effect must be a positive number"),
    ({"effect": 0.5, "test": "score"}, "test must be one of 'relative', 'absolute'; got 'score'"),
    ({"effect": 0.5, "order": 3}, "order must be 1 (first-order dominance"),
    ({"effect": 0.5, "alpha": 0.7}, "alpha must be a number in (0, 0.5); got 0.7"),
    ({"effect": 0.5, "target": 1.0}, "target must be a number in (0, 1); got 1.0"),
    ({"effect": 0.5, "sizes": []}, "sizes must be a non-empty list of integers >= 2 (items per "
                                   "model); got []"),
    ({"effect": 0.5, "sizes": [100, 1]}, "sizes must be a non-empty list of integers >= 2"),
    ({"effect": 0.5, "sizes": [10.5]}, "sizes must be a non-empty list of integers >= 2"),
    ({"effect": 0.5, "sizes": 100}, "sizes must be a non-empty list of integers >= 2"),
    ({"effect": 0.5, "n_datasets": 5}, "n_datasets must be an integer >= 10; got 5"),
    ({"effect": 0.5, "n_resamples": 1}, "n_resamples must be an integer >= 2; got 1"),
    ({"effect": 0.5, "seed": -1}, "seed must be a non-negative integer or None; got -1"),
    ({"effect": 0.5, "eps0": 0.7}, "eps0 must be a number in (0, 0.5]; got 0.7"),
    ({"effect": 0.5, "design": "both"}, "design must be one of 'paired', 'independent'; "
                                        "got 'both'"),
    ({"effect": 0.5, "pair": ("x", "y")}, "with an effect size the models are 'a' (shifted) and "
                                          "'b'; pair must be ('a', 'b') or None"),
    ({"pilot": {"a": [1.0, 2.0]}}, "need at least 2 models to compare; got 1 (a)"),
    ({"pilot": {"a": [1.0, 2.0], "b": [3.0]}, "design": "independent"},
     "each pilot model needs at least 2 scores to resample; 'b' has 1"),
    ({"pilot": {"a": [1.0, 2.0], "b": [3.0, 4.0, 5.0]}},
     "the paired design needs every model scored on the same items"),
    ({"pilot": {"a": [1.0, 2.0], "b": [3.0, 4.0]}, "pair": ("a", "c")},
     "pair must name two different models (better, worse) among a, b; got ('a', 'c')"),
    ({"pilot": {"a": [1.0, 2.0], "b": [3.0, 4.0]}, "pair": ("a", "a")},
     "pair must name two different models"),
])
def test_bad_input_is_an_input_error_with_a_clear_message(kwargs, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        with pytest.raises(InputError) as info:
            power(**kwargs)
    assert message in str(info.value)


def test_result_is_frozen():
    result = power(effect=1.0, sizes=[10], n_datasets=10, n_resamples=20, seed=0)
    with pytest.raises(AttributeError):
        result.required_n = 5


# ----------------------------------------------------------------------------- command line

def _cli(*args):
    from click.testing import CliRunner

    from riskbench.cli import main

    return CliRunner().invoke(main, ["power", *args])


def test_cli_plans_from_an_effect_size_as_json():
    import json

    res = _cli("--effect", "0.5", "--order", "1", "--sizes", "20,200", "--n-datasets", "40",
               "--n-resamples", "100", "--seed", "3", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [row["n"] for row in out["power"]] == [20, 200]
    assert out["pair"] == ["a", "b"] and out["seed"] == 3 and out["h1"]
    assert out["power"][1]["power"] > out["power"][0]["power"]
    same = power(effect=0.5, order=1, sizes=[20, 200], n_datasets=40, n_resamples=100, seed=3)
    assert [row["power"] for row in out["power"]] == list(same.power)
    assert out["required_n"] == same.required_n


def test_cli_plans_from_pilot_scores_in_a_file(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["model,sample_id,value"]
    for model, shift in (("big", 0.6), ("small", 0.0)):
        rows += [f"{model},q{t},{v:.6f}" for t, v in enumerate(rng.normal(shift, 1.0, 80))]
    path = tmp_path / "pilot.csv"
    path.write_text("\n".join(rows) + "\n")
    res = _cli(str(path), "--sizes", "30,120", "--n-datasets", "30", "--n-resamples", "100")
    assert res.exit_code == 0, res.output
    assert "big" in res.output and "small" in res.output and "items" in res.output
    # the heading on one line, not wrapped to the table's width; what was simulated, and how
    # each dataset was tested, said in words
    assert "Power of the relative test (second order) to find 'big' better than 'small'\n" \
        in res.output
    flat = " ".join(res.output.split())
    assert "Truth simulated from: the pilot's scores of all 2 models (each dataset draws n " \
        "items per model from them with replacement, paired)" in flat
    assert "alpha = 0.05, Bonferroni over the 2 ordered pairs of the 2 models" in flat


def test_cli_bad_pair_is_an_input_error():
    res = _cli("--effect", "0.5", "--pair", "only-one", "--sizes", "20")
    assert res.exit_code == 2 and "--pair expects two model names" in res.output


def test_a_pair_that_is_not_a_pair_is_an_input_error():
    # found by the hostile-input suite: pair=0.0 with an effect size raised a TypeError
    with pytest.raises(InputError, match="pair must be"):
        power(effect=1.0, pair=0.0, sizes=[10])


@pytest.mark.parametrize("sizes, words", [
    ("20,400", "The smallest size tried that reaches power 0.8: 400 items. Truth"),
    ("400,800", "The smallest size tried that reaches power 0.8: 400 items (the smallest tried: "
                "fewer may do)."),
    ("10,20", "No size tried reaches power 0.8."),
])
def test_cli_says_which_sizes_were_tried(sizes, words):
    # a clear effect: power 1 at 400 items, none at 10 or 20 (30 datasets each)
    res = _cli("--effect", "1.0", "--order", "1", "--sizes", sizes, "--n-datasets", "30",
               "--n-resamples", "100")
    assert res.exit_code == 0, res.output
    assert words in " ".join(res.output.split())
