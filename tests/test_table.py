"""ScoreTable and read_scores: formats, and the exact message for each kind of bad input."""

import gzip
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import riskbench
from riskbench.errors import DataWarning, InputError

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
        "dropped 1 item(s) not scored for every model")
    assert table.dropped_items == {"acc": 1} and table.samples().aligned
    ragged = riskbench.read_scores(write(tmp_path, text), align="none")
    assert not ragged.samples().aligned and ragged.samples().sizes == (4, 3)


def test_on_missing_drop(tmp_path):
    text = GOOD + "a,3,acc,nan\n"
    with pytest.warns(DataWarning, match=r"dropped 1 row\(s\) with missing or NaN "
                                         r"'value' \(line 8\)"):
        table = riskbench.read_scores(write(tmp_path, text), on_missing="drop")
    assert table.dropped_rows == 1 and len(table.to_frame()) == 6


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
