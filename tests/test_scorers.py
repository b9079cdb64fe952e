"""Scorers on real generations, the generations reader, and writing score tables."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import riskbench
from riskbench.cli import main
from riskbench.errors import InputError
from riskbench.scorers import read_generations, score
from riskbench.table import write_scores

DATA = Path(__file__).parent / "data" / "generations"
GENS = DATA / "ifeval_two_models.jsonl"

pytest.importorskip("profanity_check")


def test_length_and_toxicity_on_real_generations():
    table, notes = score(GENS, scorers=["length", "toxicity"], jobs=1)
    frame = table.to_frame()
    assert table.models == ("Qwen2.5-7B-Instruct", "gpt-4")
    assert table.higher_is_better["toxicity"] is False
    gens = [json.loads(line) for line in GENS.read_text().splitlines()]
    chars = {(g["model"], str(g["item"])): len(g["response"]) for g in gens}
    got = frame[frame["metric"] == "length_chars"]
    assert {(m, i): v for m, i, v in zip(got["model"], got["item"], got["value"],
                                          strict=True)} == chars
    tox = frame[frame["metric"] == "toxicity"]["value"]
    assert ((tox >= 0) & (tox <= 1)).all()
    assert any("alt-profanity-check" in n for n in notes)


def test_toxicity_separates_an_insult():
    from riskbench.scorers.toxicity import toxicity_scores

    low, high = toxicity_scores(["Thank you, that was helpful.", "You are a stupid idiot."])
    assert low < 0.2 < 0.8 < high


def test_local_only_models_say_so(tmp_path):
    from riskbench.scorers.toxicity import toxicity_scores

    with pytest.raises(InputError) as info:
        toxicity_scores(["x"], model=f"hf:{tmp_path / 'nope'}")
    assert str(info.value) == (
        f"toxicity model hf:{tmp_path / 'nope'}: no such file or folder; riskbench only uses "
        "models already on this machine (it never downloads): give the path of a local copy")
    with pytest.raises(InputError, match="unknown toxicity model 'perspective'"):
        toxicity_scores(["x"], model="perspective")


def test_generations_errors(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text('{"model": "a", "item": 1, "response": "x"}\n{"model": "a", "response": "y"}\n')
    with pytest.raises(InputError) as info:
        read_generations(path)
    assert str(info.value) == (f"{path}: line 2: missing field 'item' (or sample_id, key, id); "
                               "every generation needs an item id shared across models")
    path.write_text('{"model": "a", "item": 1, "response": "x"}\n'
                    '{"model": "a", "item": 1, "response": "y"}\n')
    with pytest.raises(InputError, match=r"line 2: model 'a' item '1' repeats line 1"):
        read_generations(path)
    path.write_text('{"model": "a", "item": 1, "response": "x"}\n{"model": "a", "item": \n')
    with pytest.raises(InputError) as info:
        read_generations(path)
    assert str(info.value) == (f"{path}: line 2 is not valid JSON (Expecting value at character "
                               "25); fix or remove that line")
    path.write_text('[1, 2]\n')
    with pytest.raises(InputError, match=r"line 1 is a JSON list, not an object"):
        read_generations(path)
    with pytest.raises(InputError, match=r"unknown scorer\(s\) 'bleu'; choose from ifeval, "
                                         r"toxicity, length"):
        score(GENS, scorers=["bleu"])


def test_write_scores_round_trips_directions(tmp_path):
    table, _ = score(GENS, scorers=["length", "toxicity"], jobs=1)
    out = write_scores(table, tmp_path / "s.parquet")
    again = riskbench.read_scores(out)
    assert again.higher_is_better == table.higher_is_better
    pd.testing.assert_frame_equal(again.to_frame(), table.to_frame())
    csv = write_scores(table, tmp_path / "s.csv")
    with pytest.warns(riskbench.errors.DirectionWarning, match="'toxicity' look lower-is-better"):
        from_csv = riskbench.read_scores(csv)
    assert from_csv.higher_is_better["toxicity"] is True  # CSV has no metadata
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "s.parquet"]


def test_write_is_atomic(tmp_path):
    table, _ = score(GENS, scorers=["length"], jobs=1)
    with pytest.raises(InputError, match="cannot write .xlsx"):
        write_scores(table, tmp_path / "s.xlsx")
    target = tmp_path / "s.parquet"
    target.write_bytes(b"old")

    class Boom(Exception):
        pass

    original = pd.DataFrame.to_csv

    def broken(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise Boom

    pd.DataFrame.to_csv = broken
    try:
        with pytest.raises(Boom):
            write_scores(table, tmp_path / "t.csv")
    finally:
        pd.DataFrame.to_csv = original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.parquet"]  # no partial file
    assert target.read_bytes() == b"old"


def test_cli_score_then_rank(tmp_path):
    out = tmp_path / "scores.parquet"
    runner = CliRunner()
    result = runner.invoke(main, ["score", str(GENS), "--scorer", "toxicity", "--scorer",
                                  "length", "-o", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "toxicity ↓" in result.output and out.is_file()
    ranked = runner.invoke(main, ["rank", str(out), "--n-resamples", "50", "--seed", "0",
                                  "--json", "--quiet"])
    assert ranked.exit_code == 0, ranked.output
    payload = json.loads(ranked.stdout)
    assert payload["portfolio"]["higher_is_better"]["toxicity"] is False
    assert {r["model"] for r in payload["ranking"]} == {"Qwen2.5-7B-Instruct", "gpt-4"}
    bad = runner.invoke(main, ["score", str(tmp_path / "missing.jsonl"), "--scorer", "length",
                               "-o", str(tmp_path / "x.parquet")])
    assert bad.exit_code == 2 and "no such generations file" in bad.output
    assert not (tmp_path / "x.parquet").exists()
    np.testing.assert_equal(len(list(tmp_path.iterdir())), 1)


def test_ifeval_matches_inspect_and_google_on_two_real_models():
    # Qwen2.5-7B's answers as scored by inspect_evals' IFEval scorer, GPT-4's by Google's
    # checker: per prompt, strict/loose all-followed and the number of instructions followed
    table, _ = score(GENS, scorers=["ifeval"], jobs=1)
    frame = table.to_frame()
    reference = json.loads((DATA / "ifeval_two_models_reference.json").read_text())
    for ref in reference:
        got = frame[(frame["model"] == ref["model"]) & (frame["item"] == str(ref["item"]))]
        got = got.set_index("metric")["value"]
        n = ref["num_instructions"]
        assert got["ifeval_prompt_strict"] == float(ref["prompt_strict"]), ref
        assert got["ifeval_prompt_loose"] == float(ref["prompt_loose"]), ref
        assert round(got["ifeval_strict"] * n) == ref["inst_strict"], ref
        assert round(got["ifeval_loose"] * n) == ref["inst_loose"], ref


def test_cli_ifeval_and_toxicity_end_to_end(tmp_path):
    out = tmp_path / "scores.parquet"
    runner = CliRunner()
    result = runner.invoke(main, ["score", str(GENS), "--scorer", "ifeval", "--scorer",
                                  "toxicity", "-o", str(out), "--jobs", "2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["metrics"]["ifeval_strict"] is True and summary["metrics"]["toxicity"] is False
    assert summary["means"]["ifeval_prompt_strict"] == {"Qwen2.5-7B-Instruct": 0.2, "gpt-4": 0.8}
    ranked = runner.invoke(main, ["rank", str(out), "--n-resamples", "50", "--seed", "0",
                                  "--quiet"])
    assert ranked.exit_code == 0, ranked.output
    assert "IC portfolio of ifeval_loose, ifeval_prompt_loose" in ranked.output


def test_generations_without_instructions_outside_ifeval(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text('{"model": "a", "item": 1, "prompt": "Say hi.", "response": "hi"}\n')
    with pytest.raises(InputError) as info:
        score(path, scorers=["ifeval"], jobs=1)
    assert str(info.value) == (
        f"{path}: line 1: no IFEval instructions: the prompt is not one of IFEval's 541 and the "
        "record has no instruction_id_list / kwargs; add them, or drop --scorer ifeval")
