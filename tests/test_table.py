"""ScoreTable and read_scores: formats, and the exact message for each kind of bad input."""

import gzip
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import riskbench
from riskbench.errors import DataWarning, InputError
from riskbench.table import UNUSED_COLUMN

GOOD = """model,sample_id,metric,value
a,1,acc,1
a,2,acc,0
a,10,acc,1
b,1,acc,0
b,2,acc,0
b,10,acc,1
"""


def write(tmp_path, text, name="scores.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(source, **kwargs):
    with pytest.raises(InputError) as info:
        riskbench.read_scores(source, **kwargs)
    return str(info.value)


def cli_error_of(source, **kwargs):
    """The message as the CLI shows it: options spelled as flags."""
    with pytest.raises(InputError) as info:
        riskbench.read_scores(source, **kwargs)
    return info.value.cli_message()


# ----------------------------------------------------------------------------- formats

def test_same_table_from_every_format(tmp_path):
    csv = write(tmp_path, GOOD)
    frame = pd.read_csv(csv)
    gz = tmp_path / "scores.csv.gz"
    gz.write_bytes(gzip.compress(GOOD.encode()))
    pq = tmp_path / "scores.parquet"
    frame.to_parquet(pq)
    jl = tmp_path / "scores.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in frame.to_dict(orient="records")))
    tables = [riskbench.read_scores(s) for s in (csv, gz, pq, jl, frame)]
    expected = tables[0].to_frame()
    assert list(expected.columns) == ["model", "item", "metric", "value"]
    for t in tables[1:]:
        pd.testing.assert_frame_equal(t.to_frame(), expected)
    s = tables[0].samples()
    assert s.models == ("a", "b") and s.items == ("1", "2", "10")  # natural item order
    np.testing.assert_array_equal(s.values[0], [1, 0, 1])
    assert tables[0].checksum is not None and len(tables[0].checksum) == 64


def test_item_column_falls_back_to_item_and_round_trips(tmp_path):
    table = riskbench.read_scores(write(tmp_path, GOOD))
    path = tmp_path / "out.csv"
    table.to_frame().to_csv(path, index=False)
    again = riskbench.read_scores(path)
    pd.testing.assert_frame_equal(again.to_frame(), table.to_frame())


def test_single_metric_without_metric_column(tmp_path):
    text = "model,sample_id,score\na,1,0.5\na,2,0.7\nb,1,0.1\nb,2,0.2\n"
    table = riskbench.read_scores(write(tmp_path, text), value="score")
    assert table.metrics == ("score",)


def test_custom_columns_booleans_and_directions(tmp_path):
    text = "who,q,m,v\nx,1,tox,true\nx,2,tox,False\ny,1,tox,0.5\ny,2,tox,1e-3\n"
    table = riskbench.read_scores(write(tmp_path, text), model="who", item="q", metric="m",
                                  value="v", higher_is_better={"tox": False})
    assert table.higher_is_better == {"tox": False}
    s = table.samples("tox")
    np.testing.assert_allclose(s.values[0], [-1.0, -0.0])  # oriented: negated
    np.testing.assert_allclose(s.raw(0), [1.0, 0.0])


def test_align_intersect_and_none(tmp_path):
    text = GOOD + "a,3,acc,1\n"
    with pytest.warns(DataWarning) as record:
        table = riskbench.read_scores(write(tmp_path, text), align="intersect")
    assert str(record[0].message) == (
        f"{tmp_path / 'scores.csv'}: metric 'acc': kept the 3 items common to all models, "
        "dropped 1 item(s) not scored for every model (e.g. '3')")
    assert table.dropped_items == {"acc": 1} and table.samples().aligned
    ragged = riskbench.read_scores(write(tmp_path, text), align="none")
    assert not ragged.samples().aligned and ragged.samples().sizes == (4, 3)


def test_on_missing_drop(tmp_path):
    text = GOOD + "a,3,acc,nan\n"
    with pytest.warns(DataWarning, match=r"dropped 1 row\(s\) with missing or NaN "
                                         r"'value' \(line 8\)") as caught:
        table = riskbench.read_scores(write(tmp_path, text), on_missing="drop")
    assert table.dropped_rows == 1 and len(table.to_frame()) == 6
    assert caught[0].filename == __file__  # the caller's line, not riskbench's


# ----------------------------------------------------------------------------- bad input

def test_missing_column(tmp_path):
    path = write(tmp_path, "model,question,metric,value\na,1,acc,1\n")
    assert error_of(path) == (
        f"{path}: missing column(s) 'sample_id'; the file has columns 'model', 'question', "
        "'metric', 'value'. Name the right column(s) with item='<column>'")


def test_non_numeric_value(tmp_path):
    path = write(tmp_path, GOOD.replace("b,2,acc,0", "b,2,acc,zero"))
    assert error_of(path) == (
        f"{path}: field 'value' is not a number at line 6 ('zero'); fix those values or remove "
        "the rows, or skip them with strict=False")
    assert cli_error_of(path) == (
        f"{path}: field 'value' is not a number at line 6 ('zero'); fix those values or remove "
        "the rows, or skip them with --lenient")
    with pytest.warns(DataWarning, match="kept the 2 items common to all models"):
        table = riskbench.read_scores(path, strict=False, align="intersect")
    assert len(table.to_frame()) == 4 and table.dropped_items == {"acc": 1}
    skipped = table.read.by_reason()["bad row, skipped (lenient read)"]
    assert skipped["count"] == 1 and "line 6 ('zero')" in skipped["names"][0]


def test_nan_and_inf_values(tmp_path):
    path = write(tmp_path, GOOD.replace("a,2,acc,0", "a,2,acc,NaN").replace("b,10,acc,1",
                                                                            "b,10,acc,inf"))
    assert error_of(path) == (
        f"{path}: field 'value' has 1 missing or NaN value(s) at line 3; fix them, or drop "
        "those rows with on_missing='drop'")
    assert cli_error_of(path).endswith("drop those rows with --on-missing drop")
    with pytest.warns(DataWarning, match="dropped 1 row"):
        message = error_of(path, on_missing="drop", on_infinite="error")
    assert message == (
        f"{path}: field 'value' has 1 infinite value(s) at line 7; they are the worst or best "
        "outcome: keep them with on_infinite='keep' (portfolios use them as they are) or "
        "on_infinite='rank' (every statistic can use the metric on its pooled-rank scale)")


def test_empty_value_in_dataframe():
    frame = pd.DataFrame({"model": ["a", "a", "b", "b"], "item": [1, 2, 1, 2],
                          "value": [1.0, None, 0.0, 1.0]}, index=[10, 11, 12, 13])
    assert error_of(frame) == (
        "DataFrame: field 'value' has 1 missing or NaN value(s) at row 11; fix them, "
        "or drop those rows with on_missing='drop'")


def test_duplicated_rows(tmp_path):
    path = write(tmp_path, GOOD + "a,2,acc,1\n")
    assert error_of(path) == (
        f"{path}: 1 (model, item, metric) key(s) appear more than once, e.g. line 3, line 8 all "
        "give ('a', '2', 'acc'); keep one row per model, item and metric, or name the column that "
        "tells repeated generations apart with repeat=")
    assert cli_error_of(path).endswith("tells repeated generations apart with --repeat-col")


def test_different_item_sets(tmp_path):
    path = write(tmp_path, GOOD + "a,3,acc,1\na,4,acc,1\n")
    assert error_of(path) == (
        f"{path}: models have different item sets for metric 'acc': 'b' lacks 2 item(s) (e.g. "
        "'3', '4'). Pass align='intersect' to keep the 3 items common "
        "to all models, or align='none' with design='independent'")
    assert cli_error_of(path).endswith(
        "Pass --align intersect to keep the 3 items common to all models, or --align none with "
        "--design independent")


def test_metric_with_one_model(tmp_path):
    path = write(tmp_path, GOOD + "a,1,tox,0.1\n")
    assert error_of(path) == (
        f"{path}: metric 'tox' has scores for only one model ('a'); a comparison needs at least "
        "two: add another model's scores, or keep other metrics with metrics=[...]")


def test_model_missing_a_metric(tmp_path):
    path = write(tmp_path, GOOD + "c,1,acc,1\nc,2,acc,1\nc,10,acc,1\na,1,tox,0.1\nb,1,tox,0.2\n")
    assert error_of(path) == (
        f"{path}: model(s) 'c' have no rows for metric 'tox' while other models do; add their "
        "scores or remove them")


def test_empty_ids(tmp_path):
    path = write(tmp_path, GOOD.replace("b,1,acc,0", ",1,acc,0"))
    assert error_of(path) == (
        f"{path}: empty model field 'model' at line 5; every row needs a model, an item and a "
        "metric; or skip those rows with strict=False")


def test_file_problems(tmp_path):
    assert error_of(tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: no such file or directory"
    empty = write(tmp_path, "", "empty.csv")
    assert error_of(empty) == f"{empty}: the file is empty; it needs a header row and scores"
    header = write(tmp_path, "model,sample_id,metric,value\n", "header.csv")
    assert error_of(header) == (f"{header}: the table has no rows; it needs one row per model, "
                                "item and metric")
    odd = write(tmp_path, "x", "scores.xlsx")
    assert error_of(odd) == (
        f"{odd}: unsupported file type '.xlsx'; riskbench reads long tables (.csv, .csv.gz, .tsv, "
        ".tsv.gz, .parquet, .pq, .jsonl, .jsonl.gz, .ndjson), pandas DataFrames, and evaluation "
        "logs (lm_eval, helm, inspect, alpaca_eval, pairwise, eee; see riskbench.io)")
    assert error_of(tmp_path).startswith(
        f"{tmp_path}: no log riskbench recognises (looked at its 3 file(s): empty.csv, "
        "header.csv, scores.xlsx); supported formats: lm_eval (")


def test_bad_jsonl_line(tmp_path):
    path = write(tmp_path, '{"model": "a", "item": 1, "metric": "m", "value": 1}\n{"model": \n',
                 "scores.jsonl")
    assert error_of(path) == (f"{path}: line 2 is not valid JSON (Expecting value at "
                              "character 12); fix or remove that line")


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(GOOD.replace("a,1", "\xe9,1").encode("latin-1"))
    assert error_of(path) == f"{path}: is not UTF-8 text (line 2); re-save it as UTF-8"


def test_truncated_gzip(tmp_path):
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(GOOD.encode() * 50)[:60])
    assert error_of(path).startswith(f"{path}: cannot be read as .csv.gz (")


def test_bad_direction_spec(tmp_path):
    path = write(tmp_path, GOOD)
    assert error_of(path, higher_is_better={"tox": False}) == (
        f"{path}: higher_is_better names metric(s) 'tox' not in the table (metrics: acc)")


def test_bad_options():
    assert error_of(pd.DataFrame(), align="outer") == (
        "align must be one of 'error', 'intersect', 'none'; got 'outer'")
    assert error_of(42) == "scores must be a file path or a pandas DataFrame; got int"


def test_unknown_metric(tmp_path):
    table = riskbench.read_scores(write(tmp_path, GOOD))
    with pytest.raises(InputError) as info:
        table.samples("f1")
    assert str(info.value) == f"{tmp_path / 'scores.csv'}: no metric 'f1'; the table has: acc"


def test_no_warning_on_clean_input(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        riskbench.read_scores(write(tmp_path, GOOD))


def test_wide_table(tmp_path):
    path = write(tmp_path, "model,item,acc,toxicity\na,1,1,0.1\na,2,0,0.2\nb,1,1,x\nb,2,1,0.0\n",
                 "wide.csv")
    with pytest.raises(InputError) as info:
        riskbench.read_scores(path)
    assert str(info.value) == (f"{path}: field 'value' is not a number at line 4, column "
                               "'toxicity' ('x'); fix those values or remove the rows, or skip "
                               "them with strict=False")
    path.write_text("model,item,acc,toxicity\na,1,1,0.1\na,2,0,0.2\nb,1,1,0.3\nb,2,1,0.0\n")
    table = riskbench.read_scores(path, higher_is_better={"toxicity": False})
    assert table.metrics == ("acc", "toxicity")
    np.testing.assert_array_equal(table.samples("toxicity").raw(1), [0.3, 0.0])


# ----------------------------------------------------------------------------- several sources

def test_several_sources_make_one_table_and_errors_name_the_file(tmp_path):
    first = write(tmp_path, GOOD, "a.csv")
    second = write(tmp_path, "model,sample_id,metric,value\nc,1,acc,1\nc,2,acc,1\nc,10,acc,0\n",
                   "c.csv")
    table = riskbench.read_scores([first, second])
    assert table.models == ("a", "b", "c") and table.source == f"{first} + {second}"
    assert table.read.sources == (str(first), str(second)) and table.read.formats == ("table",)
    assert table.read.files == (str(first), str(second))
    assert len(table.checksum) == 64 and table.checksum != riskbench.read_scores(first).checksum
    second.write_text("model,sample_id,metric,value\nc,1,acc,1\nc,1,acc,0\nc,10,acc,0\n")
    assert error_of([first, second]) == (
        f"{first} + {second}: 1 (model, item, metric) key(s) appear more than once, e.g. "
        f"{second} line 2, {second} line 3 all give ('c', '1', 'acc'); keep one row per model, "
        "item and metric, or name the column that tells repeated generations apart with repeat=")


def test_model_names_rename_and_unknown_names_are_named(tmp_path):
    path = write(tmp_path, GOOD)
    table = riskbench.read_scores(path, model_names={"a": "alpha"})
    assert table.models == ("alpha", "b")
    assert error_of(path, model_names={"z": "zeta"}) == (
        f"{path}: cannot rename model(s) 'z': not in the table (models: a, b); give "
        "model_names={old: new} with a model the input has")
    assert cli_error_of(path, model_names={"z": "zeta"}).endswith(
        "give --model-name OLD=NEW with a model the input has")


# ----------------------------------------------------------------------------- directions

def test_unstated_directions_are_named_and_lower_looking_names_warn(tmp_path):
    text = GOOD + "".join(f"{m},{i},toxicity,0.{i}\n" for m in "ab" for i in (1, 2, 10))
    path = write(tmp_path, text)
    with pytest.warns(riskbench.errors.DirectionWarning) as record:
        table = riskbench.read_scores(path)
    assert str(record[0].message) == (
        "metric(s) 'toxicity' look lower-is-better by name, but no direction was stated, so "
        "higher is taken as better; say which way they go with higher_is_better={metric: False} "
        "(or higher_is_better={metric: True} to keep them as they are)")
    assert record[0].message.cli_message().startswith(
        "metric(s) 'toxicity' look lower-is-better by name, but no direction was stated, so "
        "higher is taken as better; say which way they go with --lower-is-better METRIC")
    assert table.read.assumed == ("acc", "toxicity")
    assert ("assumed higher is better (direction stated nowhere): acc, toxicity"
            in table.read.lines())
    assert not any("assumed" in n for n in table.notes)  # named once: in the read summary
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stated = riskbench.read_scores(path, higher_is_better={"toxicity": False, "acc": True})
    assert stated.read.directions == {"acc": (True, "user"), "toxicity": (False, "user")}
    assert not any("assumed" in n for n in stated.notes)


@pytest.mark.parametrize(("name", "lower"), [
    ("toxicity", True), ("polymer_tg_prediction/mae,none", True), ("wer", True),
    ("model_outputs/length_chars", True), ("val_loss", True), ("latency_ms", True),
    ("exact_match", False), ("harm_bench/harm_bench_score,test", False), ("terror", False),
    ("offensive", True), ("unsafe_rate", True), ("hallucination_rate", True),
    ("safety_score", False)])
def test_lower_looking_names(name, lower):
    from riskbench.table import looks_lower_is_better

    assert looks_lower_is_better(name) is lower


# ----------------------------------------------------------------------------- infinite values

INF = GOOD.replace("a,2,acc,0", "a,2,acc,-inf").replace("b,10,acc,1", "b,10,acc,inf")


def test_infinite_values_are_kept_and_raw_scale_statistics_refuse_them(tmp_path):
    path = write(tmp_path, INF)
    table = riskbench.read_scores(path, higher_is_better=True)
    assert table.infinite == {"acc": 2}
    assert np.isinf(table.to_frame()["value"]).sum() == 2
    with pytest.raises(InputError) as info:
        table.samples("acc")
    assert str(info.value) == (
        f"{path}: metric 'acc' has 2 infinite value(s) (first: model 'a', item '2', -inf), "
        "kept as the worst or best outcome; a statistic on the raw scale (dominance "
        "integrals, mean-risk scores, guardrails, plots of this metric) cannot use them. Rank "
        "it on its pooled-ECDF scale, where they stay the extreme outcomes: read with "
        "on_infinite='rank'; or rank a portfolio of several metrics (portfolio='ic' or ec, "
        "without metric=), which maps every metric that way")
    assert "read with --on-infinite rank; or rank a portfolio of several metrics (--portfolio " \
           "ic or ec, without --metric)" in info.value.cli_message()
    with pytest.raises(InputError, match="infinite value"):
        riskbench.rank(table, n_resamples=10, seed=0)


def test_infinite_values_in_a_portfolio_are_the_extreme_ranks(tmp_path):
    text = INF + "".join(f"{m},{i},f1,0.{i}\n" for m in "ab" for i in (1, 2, 10))
    table = riskbench.read_scores(write(tmp_path, text), higher_is_better=True)
    cube = table.cube()
    assert np.isinf(cube.values).sum() == 2
    portfolio = riskbench.build_portfolio(cube)
    scores = portfolio.samples()
    assert all(np.isfinite(v).all() for v in scores.values)
    ranking = riskbench.rank(table, n_resamples=20, seed=0)
    assert set(ranking.models) == {"a", "b"}


def test_on_infinite_rank_maps_the_metric_to_its_pooled_ecdf(tmp_path):
    table = riskbench.read_scores(write(tmp_path, INF), higher_is_better={"acc": False},
                                  on_infinite="rank")
    assert table.ranked == ("acc",)
    frame = table.to_frame().set_index(["model", "item"])["value"]
    # pooled values: 1, -inf, 1, 0, 0, inf -> right-continuous ranks / 6
    assert frame.to_dict() == {("a", "1"): 5 / 6, ("a", "2"): 1 / 6, ("a", "10"): 5 / 6,
                               ("b", "1"): 3 / 6, ("b", "2"): 3 / 6, ("b", "10"): 1.0}
    samples = table.samples("acc")  # lower is better: +inf is now the worst, -1.0
    np.testing.assert_allclose(samples.values[1], [-0.5, -0.5, -1.0])
    assert any("pooled ECDF (on_infinite='rank')" in n for n in table.notes)
    with pytest.raises(InputError, match="on_infinite must be one of 'keep', 'rank', 'error'"):
        riskbench.read_scores(write(tmp_path, INF), on_infinite="drop")


# ----------------------------------------------------------------------------- metric choice

def test_metrics_by_glob_or_substring_and_ambiguity(tmp_path):
    text = GOOD + "".join(f"{m},{i},{met},0.{i}\n" for met in ("f1_macro", "f1_micro")
                          for m in "ab" for i in (1, 2, 10))
    path = write(tmp_path, text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", riskbench.errors.DirectionWarning)
        assert riskbench.read_scores(path, metrics=["f1_*"]).metrics == ("f1_macro", "f1_micro")
        assert riskbench.read_scores(path, metrics=["micro"]).metrics == ("f1_micro",)
        table = riskbench.read_scores(path)
    assert table.read.by_reason() == {}
    assert table.samples("macro").metric == "f1_macro"
    with pytest.raises(InputError) as info:
        table.samples("f1")
    assert str(info.value) == (
        f"{path}: metric 'f1' matches 2 metrics (f1_macro, f1_micro); give one of them, or a "
        "pattern that matches only one (metric= takes a name, a glob or a unique substring)")
    assert error_of(path, metrics=["bleu"]) == (
        f"{path}: no metric(s) 'bleu'; the file has: acc, f1_macro, f1_micro")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", riskbench.errors.DirectionWarning)
        only = riskbench.read_scores(path, metrics=["acc"])
    assert only.read.by_reason()["metric not selected"] == {
        "count": 12, "unit": "values", "names": ["f1_macro", "f1_micro"]}


# ----------------------------------------------------------------------------- fuzzing

_cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3),
                   st.sampled_from(["", " ", "x", "inf", "-inf", "nan", "1e999", "true", None]))


@st.composite
def _frames(draw):
    rows = draw(st.integers(1, 24))
    return pd.DataFrame({
        "model": [draw(st.sampled_from(["a", "b", "c", "", None])) for _ in range(rows)],
        "item": [draw(st.sampled_from(["1", "2", "3", ""])) for _ in range(rows)],
        "metric": [draw(st.sampled_from(["m", "toxicity", "n"])) for _ in range(rows)],
        "value": [draw(_cells) for _ in range(rows)],
    })


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=st.lists(_frames(), min_size=1, max_size=3),
       on_infinite=st.sampled_from(["keep", "rank", "error"]), strict=st.booleans())
def test_fuzz_lenient_and_several_sources(frames, on_infinite, strict):
    """Only documented errors; what a table holds and what its summary says agree."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            table = riskbench.read_scores(frames, strict=strict, align="intersect",
                                          on_missing="drop", on_infinite=on_infinite)
        except InputError as exc:
            assert str(exc) and "\u2060" not in str(exc) and "\u2060" not in exc.cli_message()
            table = None
    assert all(issubclass(w.category, riskbench.RiskbenchWarning) for w in caught)
    assert all("\u2060" not in str(w.message) for w in caught)
    if table is None:
        return
    frame = table.to_frame()
    assert table.read.rows == len(frame) and set(table.read.metrics) == set(frame["metric"])
    assert not frame["value"].isna().any()
    for metric in table.metrics:
        infinite = np.isinf(frame.loc[frame["metric"] == metric, "value"]).sum()
        assert infinite == table.infinite.get(metric, 0) or metric in table.ranked
        if metric in table.ranked:
            assert infinite == 0
    bad = table.read.by_reason().get("bad row, skipped (lenient read)")
    assert bad is None or not strict


def test_align_intersect_names_the_dropped_items_and_counts_items_not_pairs():
    """The read account said '18 items (length, offensive, win)' for 6 items dropped from 3
    metrics: it counted (item, metric) pairs and named the metrics."""
    rows = [{"model": m, "item": f"q{t}", "metric": u, "value": float(t)}
            for m in ("a", "b") for t in range(10) for u in ("x", "y")
            if not (m == "b" and t in (3, 7)) and not (m == "a" and t == 5 and u == "y")]
    with pytest.warns(riskbench.errors.DataWarning) as caught:
        table = riskbench.read_scores(pd.DataFrame(rows), item="item", align="intersect")
    assert [str(w.message).split(": ", 1)[1] for w in caught] == [
        "metric 'x': kept the 8 items common to all models, dropped 2 item(s) not scored for "
        "every model (e.g. 'q3', 'q7')",
        "metric 'y': kept the 7 items common to all models, dropped 3 item(s) not scored for "
        "every model (e.g. 'q3', 'q5', 'q7')"]
    dropped = table.read.by_reason()["item not scored for every model (align intersect)"]
    assert dropped["count"] == 3 and dropped["unit"] == "items"
    assert dropped["names"] == ["q3", "q5 (from y)", "q7"]
    assert "3 items (q3, q5 (from y), q7)" in " ".join(table.read.lines())


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".tsv"])
def test_columns_no_role_names_are_counted_and_named(tmp_path, suffix):
    """A cluster column the user forgot to name was ignored while the account said
    'skipped: nothing'. Every read path (compact CSV and Parquet, the whole-frame path)
    names the columns it did not use; naming the column as a role removes it."""
    frame = pd.DataFrame({"model": ["a", "a", "b", "b"], "sample_id": ["1", "2", "1", "2"],
                          "passage": ["p", "q", "p", "q"], "note": ["x"] * 4,
                          "metric": ["acc"] * 4, "value": [1.0, 0.0, 0.5, 0.5]})
    path = tmp_path / f"scores{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    for table in (riskbench.read_scores(path), riskbench.read_scores(path, strict=False)):
        unused = table.read.by_reason()[UNUSED_COLUMN]
        assert unused == {"count": 2, "unit": "columns", "names": ["passage", "note"]}
    clustered = riskbench.read_scores(path, cluster="passage")
    assert clustered.read.by_reason()[UNUSED_COLUMN]["names"] == ["note"]
    assert "1 columns (note)" in " ".join(clustered.read.lines())
