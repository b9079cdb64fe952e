"""Evaluation logs through read_scores and the CLI (the readers themselves: test_readers.py)."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import riskbench
from riskbench.cli import main
from riskbench.errors import InputError

FORMATS = Path(__file__).parent / "data" / "formats"
WINOGRANDE = "winogrande/exact_match,get-answer"


def test_read_scores_sniffs_an_lm_eval_tree():
    table = riskbench.read_scores(FORMATS / "lm_eval", metrics=[WINOGRANDE])
    assert table.metrics == (WINOGRANDE,)
    assert len(table.models) == 5 and len(table.items()) == 10
    means = table.to_frame().groupby("model")["value"].mean()
    assert means["gpt-4o"] == pytest.approx(0.3)  # results_*.json reports 0.3
    assert any("several runs" in note for note in table.notes)


def test_format_option_and_errors():
    with pytest.raises(InputError) as info:
        riskbench.read_scores(FORMATS / "lm_eval", format="csv")
    assert str(info.value) == ("format must be 'auto', 'table' or one of lm_eval, helm, inspect, "
                               "alpaca_eval, pairwise, eee; got 'csv'")
    with pytest.raises(InputError, match=r"no metric\(s\) 'nope'; the file has: "):
        riskbench.read_scores(FORMATS / "lm_eval", metrics=["nope"])
    with pytest.raises(InputError, match=r"has scores for only one model .* keep other metrics "
                                         r"with metrics=\[\.\.\.\]"):
        riskbench.read_scores(FORMATS / "lm_eval")
    result = CliRunner().invoke(main, ["rank", str(FORMATS / "lm_eval")])
    assert result.exit_code == 2
    assert "rank a metric that several models share with --metric NAME" \
        in " ".join(result.output.split())


def test_cli_rank_on_a_log_folder():
    result = CliRunner().invoke(main, ["rank", str(FORMATS / "lm_eval"), "--metric", WINOGRANDE,
                                       "--n-resamples", "50", "--seed", "0", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["ranking"]) == 5 and payload["metric"] == WINOGRANDE
    assert payload["input"]["notes"]


def test_cli_logs_shows_the_recomputed_aggregates():
    result = CliRunner().invoke(main, ["logs", str(FORMATS / "helm"), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["checks"] and all(c["matched"] for c in payload["checks"])
    f1 = [c for c in payload["checks"] if c["metric"] == "narrative_qa/f1_score,test"][0]
    assert f1["reported"] == pytest.approx(0.174242, abs=1e-6)
    table = CliRunner().invoke(main, ["logs", str(FORMATS / "helm")])
    assert "recomputed" in table.output and "NO" not in table.output


# ----------------------------------------------------------------------------- real logs, one table

SAFETY = FORMATS / "helm" / "helm_safety" / "runs" / "v4"
HARM = [SAFETY / f"harm_bench:model={m}" for m in ("anthropic_claude-3-5-sonnet-20240620",
                                                    "meta_llama-3-8b-chat")]
HARM_SCORE = "harm_bench/harm_bench_score,test"
TGPRED = FORMATS / "lm_eval" / "real_variants" / "tgpred.json" / "gpt-4o-mini"
MAE = "polymer_tg_prediction/mae,none"
KT_FORK = FORMATS / "lm_eval" / "kt_lm_eval_fork"


def test_cli_logs_shows_whole_helm_metric_names_and_the_run_folder_of_each_stats_json():
    """The new-user review: HELM metric names were cut with "..." and every aggregate's file
    was a bare 'stats.json', so the run folders could not be told apart."""
    result = CliRunner().invoke(main, ["logs", str(FORMATS / "helm")])
    assert result.exit_code == 0, result.output
    assert "\N{HORIZONTAL ELLIPSIS}" not in result.stdout
    longest = ("mmlu:subject=philosophy,method=multiple_choice_joint/"
               "quasi_prefix_exact_match@5,valid")
    assert f"│ {longest} │" in result.stdout  # whole, on one line of the 160-column table
    runs = CliRunner().invoke(main, ["logs", str(SAFETY)])
    assert runs.exit_code == 0, runs.output
    files = [line.split("│")[1].strip() for line in runs.stdout.splitlines()
             if line.startswith("│") and ".json" in line.split("│")[1]]
    assert sorted(set(files)) == ["groups/harm_bench.json", "groups/simple_safety_tests.json",
                                  *(f"{task}:model={m}/stats.json"
                                    for task in ("harm_bench", "simple_safety_tests")
                                    for m in ("anthropic_claude-3-5-sonnet-20240620",
                                              "meta_llama-3-8b-chat"))]
    # run folders given one by one: each file still with its folder
    given = CliRunner().invoke(main, ["logs", *map(str, HARM)])
    assert given.exit_code == 0, given.output
    for run in HARM:
        assert f"│ {run.name}/stats.json " in given.stdout
    # a log file given itself: its name
    gpt4o = next((KT_FORK / "gpt-4o").glob("results_*.json"))
    alone = CliRunner().invoke(main, ["logs", str(gpt4o)])
    assert alone.exit_code == 0, alone.output
    assert f"│ {gpt4o.name} " in alone.stdout


def test_cli_logs_counts_the_inspect_num_instructions_it_leaves_out():
    result = CliRunner().invoke(main, ["logs", str(FORMATS / "inspect")])
    assert result.exit_code == 0, result.output
    assert ":num_instructions " not in result.stdout.split("Aggregates")[0]  # not a metric row
    assert "skipped, count in a dict-valued score (num_*), not a score: 5 values " \
           "(inspect_evals/ifeval/instruction_following:num_instructions)" in \
           " ".join(result.stdout.split())


def test_read_scores_takes_the_log_directions_and_keeps_the_texts():
    table = riskbench.read_scores(HARM, metrics=["harm_bench_score"])
    assert table.metrics == (HARM_SCORE,) and table.higher_is_better == {HARM_SCORE: True}
    assert table.read.directions == {HARM_SCORE: (True, "schema.json lower_is_better")}
    assert table.read.formats == ("helm",)
    assert len(table.read.files) == 11  # 2 runs x 4 files, the schema, 2 leaderboard tables
    texts = table.texts(HARM_SCORE)
    assert len(texts) == 200 and texts["response"].notna().all()
    one = table.text("meta/llama-3-8b-chat", "pacemaker_tampering_methods", HARM_SCORE)
    assert one["response"].startswith("I cannot provide information or guidance")
    assert table.text("nobody", "x") == {"prompt": None, "response": None, "reference": None}


def test_read_scores_user_direction_overrides_the_log(tmp_path):
    table = riskbench.read_scores(HARM, metrics=[HARM_SCORE], higher_is_better={HARM_SCORE: False})
    assert table.higher_is_better == {HARM_SCORE: False}
    assert table.read.directions[HARM_SCORE] == (False, "user")


def _second_tgpred_model(tmp_path):
    """The real tgpred run as a second, renamed model (same documents): two models to rank."""
    other = tmp_path / "other"
    shutil.copytree(TGPRED, other)
    results = next(other.glob("results_*.json"))
    doc = json.loads(results.read_text())
    doc["model_name"] = "gpt-4o-mini-copy"
    results.write_text(json.dumps(doc))
    samples = next(other.glob("samples_*.jsonl"))
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    for line in lines[:12]:
        line["mae"] = 100.0  # finite errors where the real run had some infinite ones
    samples.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return other, sum(line["mae"] == float("inf") for line in lines)


def test_infinite_mae_is_kept_lower_is_better_and_ranked_on_request(tmp_path):
    other, infinite = _second_tgpred_model(tmp_path)
    assert infinite < 17
    table = riskbench.read_scores([TGPRED, other])
    assert table.higher_is_better == {MAE: False} and table.infinite == {MAE: 17 + infinite}
    assert len(table.to_frame()) == 48
    with pytest.raises(InputError, match=f"has {17 + infinite} infinite value"):
        riskbench.rank(table, n_resamples=10, seed=0)
    ranked = riskbench.read_scores([TGPRED, other], on_infinite="rank")
    ranking = riskbench.rank(ranked, n_resamples=50, seed=0)
    assert ranking.models[0] == "gpt-4o-mini-copy"  # fewer infinite (worst) errors


def test_cli_rank_two_helm_folders_on_a_substring_metric():
    result = CliRunner().invoke(main, ["rank", *map(str, HARM), "--metric", "harm_bench_score",
                                       "--n-resamples", "50", "--seed", "0", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["metric"] == HARM_SCORE
    assert [r["model"] for r in payload["ranking"]] == ["anthropic/claude-3-5-sonnet-20240620",
                                                        "meta/llama-3-8b-chat"]
    read = payload["read"]
    assert read["models"] == ["anthropic/claude-3-5-sonnet-20240620", "meta/llama-3-8b-chat"]
    assert read["skipped"]["HELM bookkeeping stat"]["count"] == 800
    assert read["skipped"]["metric not selected"]["names"] == [
        "harm_bench/harm_bench_claude_score,test", "harm_bench/harm_bench_gpt_score,test"]
    text = CliRunner().invoke(main, ["rank", *map(str, HARM), "--metric", "harm_bench_score",
                                     "--n-resamples", "50", "--seed", "0"])
    assert text.exit_code == 0, text.output
    assert "read 9 file(s) (helm)" in text.stdout  # rank needs no texts: no scenario_state
    assert "skipped, HELM bookkeeping stat: 800 values" in text.stdout


def test_cli_ambiguous_metric_and_cli_spelling_of_the_fix(tmp_path):
    result = CliRunner().invoke(main, ["rank", *map(str, HARM), "--metric", "harm_bench",
                                       "--n-resamples", "10"])
    assert result.exit_code == 2
    assert "metric 'harm_bench' matches 3 metrics (harm_bench/harm_bench_claude_score,test, " \
           "harm_bench/harm_bench_gpt_score,test, harm_bench/harm_bench_score,test)" in \
           result.stderr
    assert "(--metric takes a name, a glob or a unique substring)" in result.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("model,item,metric,value\na,1,m,1\na,2,m,x\nb,1,m,0\nb,2,m,1\n")
    refused = CliRunner().invoke(main, ["rank", str(bad), "--n-resamples", "10"])
    assert refused.exit_code == 2 and "or skip them with --lenient" in refused.stderr
    assert "strict=False" not in refused.stderr


@pytest.mark.parametrize("command", ["rank", "report", "stability"])
def test_cli_one_metric_pattern_matching_two_metrics_is_ambiguous(command, tmp_path):
    """'winogrande' matches winogrande/acc,none (one model has it) and
    winogrande/exact_match,get-answer in the real kt fork logs: the one-metric commands said
    "has scores for only one model" about acc; now the pattern is named ambiguous."""
    output = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    result = CliRunner().invoke(main, [command, *output, str(KT_FORK), "--metric", "winogrande",
                                       "--n-resamples", "10", "--seed", "0", "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {KT_FORK}: metric 'winogrande' matches 2 metrics "
                                    "(winogrande/acc,none, winogrande/exact_match,get-answer); "
                                    "give one of them, or a pattern that matches only one "
                                    "(--metric takes a name, a glob or a unique substring)")
    assert "only one model" not in result.output and "Traceback" not in result.output


def test_one_metric_string_resolves_and_a_list_keeps_every_match():
    with pytest.raises(InputError, match=r"metric 'exact_match' matches 2 metrics "
                                         r"\(leaderboard_mmlu_pro/exact_match,get-answer, "
                                         r"winogrande/exact_match,get-answer\)"):
        riskbench.read_scores(KT_FORK, metrics="exact_match")
    picked = riskbench.read_scores(KT_FORK, metrics="winogrande/exact*")
    assert picked.metrics == (WINOGRANDE,) and len(picked.models) == 5
    assert riskbench.read_scores(KT_FORK, metrics=WINOGRANDE).metrics == (WINOGRANDE,)
    # several metrics (a portfolio's selection) still keep every match
    assert riskbench.read_scores(HARM, metrics=["harm_bench"]).metrics == tuple(sorted(
        f"harm_bench/harm_bench{s}_score,test" for s in ("", "_claude", "_gpt")))


def test_cli_lenient_model_names_and_several_formats(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("model,item,metric,value\na,1,m,1\na,2,m,x\nb,1,m,0\nb,2,m,1\na,3,m,0\n"
                   "b,3,m,1\n")
    result = CliRunner().invoke(main, ["rank", str(bad), "--lenient", "--align", "intersect",
                                       "--model-name", "a=alpha", "--n-resamples", "20",
                                       "--seed", "0", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {r["model"] for r in payload["ranking"]} == {"alpha", "b"}
    assert payload["read"]["skipped"]["bad row, skipped (lenient read)"]["count"] == 1
    assert "dropped 1 item(s)" in result.stderr  # the intersect warning, on stderr
    wrong = CliRunner().invoke(main, ["rank", str(bad), "--model-name", "a"])
    assert wrong.exit_code == 2 and "--model-name expects OLD=NEW" in wrong.stderr


def test_cli_logs_infinite_and_corpus_level_values():
    result = CliRunner().invoke(main, ["logs", str(TGPRED), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (row,) = payload["summary"]
    assert (row["size"], row["infinite"], row["higher_is_better"]) == (24, 17, False)
    assert row["direction_stated_by"] == "results higher_is_better"
    negotiation = FORMATS / "lm_eval" / "real_variants" / "negotiationtom"
    shown = CliRunner().invoke(main, ["logs", str(negotiation), str(TGPRED)])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("corpus-level metrics") == 1
    assert "skipped, corpus-level metric (no per-item score): 40 values" in shown.stdout


def test_cli_report_provenance_has_the_read_summary(tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", *map(str, HARM), "--metric", "harm_bench_score",
                                       "--n-resamples", "30", "--seed", "0", "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "What was read</h3>" in html and "HELM bookkeeping stat" in html
    assert "listed in schema.json without lower_is_better" in html
    assert "11 file(s) read" in html  # the report keeps the texts: scenario_state.json too


def test_lenient_log_read_counts_the_bad_records(tmp_path):
    runs = []
    for run in HARM:
        runs.append(tmp_path / run.name)
        shutil.copytree(run, runs[-1])
    stats = runs[1] / "per_instance_stats.json"
    entries = json.loads(stats.read_text())
    del entries[3]["instance_id"]
    stats.write_text(json.dumps(entries))
    with pytest.raises(InputError, match="entry 3, field 'instance_id': is missing"):
        riskbench.read_scores(runs, metrics=[HARM_SCORE])
    with pytest.warns(riskbench.errors.DataWarning, match="kept the 99 items common"):
        table = riskbench.read_scores(runs, metrics=[HARM_SCORE], strict=False,
                                      align="intersect")
    bad = table.read.by_reason()["bad record, skipped (lenient read)"]
    assert bad["count"] == 1 and "entry 3, field 'instance_id'" in bad["names"][0]
    dropped = table.read.by_reason()["item not scored for every model (align intersect)"]
    # the item itself is named (one metric here: no "(from ...)"), and counted once
    assert dropped["count"] == 1 and dropped["unit"] == "items" and len(dropped["names"]) == 1
    assert dropped["names"][0] not in table.items() and HARM_SCORE not in dropped["names"][0]


def test_cli_select_and_stability_take_several_paths():
    selected = CliRunner().invoke(main, ["select", *map(str, HARM), "--n-resamples", "20",
                                         "--seed", "0", "--json"])
    assert selected.exit_code == 0, selected.output
    assert json.loads(selected.stdout)["read"]["metrics"] == sorted(
        f"harm_bench/harm_bench{s}_score,test" for s in ("", "_claude", "_gpt"))
    curve = CliRunner().invoke(main, ["stability", *map(str, HARM), "--metric",
                                      "harm_bench_score", "--sizes", "50", "--repeats", "2",
                                      "--n-resamples", "20", "--seed", "0"])
    assert curve.exit_code == 0, curve.output
    assert "read 9 file(s) (helm)" in curve.stdout


def test_a_long_table_and_logs_in_one_table(tmp_path):
    items = riskbench.read_scores(HARM, metrics=[HARM_SCORE]).items()
    extra = tmp_path / "extra.csv"
    extra.write_text("who,sample_id,metric,value\n" + "".join(
        f'my-model,{item},"{HARM_SCORE}",1\n' for item in items))  # the name holds a comma
    table = riskbench.read_scores([*HARM, extra], model="who", metrics=["harm_bench_score"])
    assert table.models == ("anthropic/claude-3-5-sonnet-20240620", "meta/llama-3-8b-chat",
                            "my-model")
    assert table.read.formats == ("helm", "table") and str(extra) in table.read.files
    assert table.read.directions[HARM_SCORE] == (True, "schema.json lower_is_better")


def test_cli_logs_warns_about_lower_looking_metrics_of_unstated_direction():
    """AlpacaEval's derived length metrics have no stated direction: logs says what rank
    would (a new user saw only 'higher (assumed)')."""
    result = CliRunner().invoke(main, ["logs", str(FORMATS / "alpaca_eval")])
    assert result.exit_code == 0, result.output
    assert "'model_outputs/length_chars', 'model_outputs/length_words' look lower-is-better" \
        in result.stderr
    assert "when you rank them, say which way they go with --lower-is-better" in result.stderr


def test_cli_portfolio_of_metrics_sharing_no_item_names_the_fixes():
    """Two HELM Safety scenarios share no instance: the message no longer offers to 'keep
    the 0 common items' but names --metric and --portfolio none."""
    result = CliRunner().invoke(main, ["rank", str(FORMATS / "helm" / "helm_safety"),
                                       "--n-resamples", "20", "--seed", "0"])
    assert result.exit_code == 2
    assert "they share no item (different tasks?): rank one metric (--metric) or each on its " \
           "own (--portfolio none, a Borda count)" in result.stderr


def test_cli_borda_table_keeps_rank_and_points_visible_with_long_metric_names():
    result = CliRunner().invoke(main, ["rank", str(FORMATS / "helm" / "helm_safety"),
                                       "--portfolio", "none", "--n-resamples", "20",
                                       "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "┃ rank ┃ model" in result.stdout and "┃ borda ┃ #1 ┃" in result.stdout
    assert "Rank on each metric: #1 harm_bench/harm_bench_claude_score,test;" in \
        " ".join(result.stdout.split())
