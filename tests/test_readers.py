"""Readers of real evaluation logs (riskbench.io): reference aggregates, sniffing, errors, fuzzing.

Every file read here is an unchanged copy under tests/data/formats/<format>/ (see each folder's
SOURCE.md); corrupted variants are made in temporary folders.
"""

from __future__ import annotations

import copy
import io
import json
import math
import shutil
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskbench.errors import InputError, RiskbenchWarning
from riskbench.io import FORMATS, LogRead, RecordError, eee, read_log, sniff

DATA = Path(__file__).parent / "data" / "formats"
LM = DATA / "lm_eval"
KT = LM / "kt_lm_eval_fork"
ASDIV = LM / "lm_eval_pr2236_asdiv" / "meta-llama__Meta-Llama-3-8B-Instruct"
HELM = DATA / "helm" / "eee_tests_runs"
MMLU = HELM / "mmlu-subject=philosophy,method=multiple_choice_joint,model=openai_gpt2"
NARRATIVE = HELM / "narrative_qa-model=openai_gpt2"
INSPECT = DATA / "inspect"
ALPACA = DATA / "alpaca_eval" / "results" / "claude-2"
FASTCHAT = DATA / "pairwise" / "fastchat_vicuna_bench_gpt4_reviews"
REVIEWS = FASTCHAT / "review" / "vicuna-13b_20230322-clean-lang"
EEE = DATA / "eee"
EEE_DATA = EEE / "converted_by_eee_0.3.0" / "data"
EEE_EXAMPLES = EEE / "eee_repo_examples" / "tests_data"
SAFETY = HELM.parent / "helm_safety" / "runs" / "v4"
CLAUDE, LLAMA = "anthropic/claude-3-5-sonnet-20240620", "meta/llama-3-8b-chat"
HARM_CLAUDE = SAFETY / "harm_bench:model=anthropic_claude-3-5-sonnet-20240620"
HARM_LLAMA = SAFETY / "harm_bench:model=meta_llama-3-8b-chat"
VARIANTS = LM / "real_variants"
FLOR = VARIANTS / "FLOR-760M"
TGPRED = VARIANTS / "tgpred.json" / "gpt-4o-mini"
NEGOTIATION = VARIANTS / "negotiationtom" / "Qwen__Qwen3-8B"
LLAMA_PRO = ("/vfroot/n22-model/f6e12a6705dc47f5af9f2b6bce90e0d4/93/40/"
             "e3564e474cf19dfb7e2fc364fe61/llama3.1-pro16-0827-Inst-nc-chat_241016")
SOLAR = "upstage/SOLAR-10.7B-Instruct-v1.0"
VICUNA = "vicuna-13b:20230322-clean-lang"


def means(log: LogRead) -> dict[tuple[str, str], float]:
    return log.frame.groupby(["model", "metric"])["value"].mean().to_dict()


def assert_table_contract(log: LogRead) -> None:
    frame = log.frame
    assert {"model", "item", "metric", "value"} <= set(frame.columns)
    assert not frame["value"].isna().any()  # +/-inf are kept where a harness wrote them
    assert not frame.duplicated(["model", "item", "metric"]).any()


# ----------------------------------------------------------------------------- lm-eval

def test_lm_eval_tree_of_several_models_reproduces_every_reported_aggregate():
    log = read_log(KT)
    assert_table_contract(log)
    got = means(log)
    winogrande = "winogrande/exact_match,get-answer"
    assert got == pytest.approx({
        ("LGAI-EXAONE/EXAONE-3.0-7.8B-Instruct", winogrande): 0.0,
        ("gpt-4o", winogrande): 0.3,
        (f"{SOLAR}@2024-12-23T14-36-36.300029", winogrande): 0.7,
        (LLAMA_PRO, winogrande): 0.7,
        (f"{SOLAR}@2024-12-23T15-04-32.131238", winogrande): 0.8,
        (LLAMA_PRO, "winogrande/acc,none"): 0.7,
        (LLAMA_PRO, "leaderboard_mmlu_pro/exact_match,get-answer"): 1 / 6,
    }, abs=1e-12)
    reported = sorted((c.metric, c.reported) for c in log.checks)
    assert reported == sorted([(winogrande, 0.0), (winogrande, 0.3), (winogrande, 0.7),
                               (winogrande, 0.7), (winogrande, 0.8), ("winogrande/acc,none", 0.7),
                               ("leaderboard_mmlu_pro/exact_match,get-answer",
                                0.16666666666666666)])
    assert all(c.matched and c.recomputed == pytest.approx(c.reported) for c in log.checks)
    assert any("each run is its own model" in n and SOLAR in n for n in log.notes)


def test_lm_eval_pairs_items_by_doc_id_across_models():
    frame = read_log(KT).frame
    items = frame[frame["metric"] == "winogrande/exact_match,get-answer"].groupby("model")["item"]
    assert {m: sorted(v, key=int) for m, v in items.agg(list).items()} == {
        m: [str(i) for i in range(10)] for m in items.groups}
    assert set(frame["filter"]) == {"get-answer", "none"}


def test_lm_eval_asdiv_string_logprobs_and_integer_acc():
    log = read_log(ASDIV / "results_2024-08-21T03-44-09.494230.json")
    assert len(log.frame) == 50
    assert means(log) == {("meta-llama/Meta-Llama-3-8B-Instruct", "asdiv/acc,none"):
                          pytest.approx(0.92)}
    assert [(c.reported, c.matched) for c in log.checks] == [(0.92, True)]


def test_lm_eval_samples_file_alone_is_read_with_its_results_file():
    log = read_log(KT / "gpt-4o" / "samples_winogrande_2024-12-23T14-29-31.806745.jsonl")
    assert means(log) == {("gpt-4o", "winogrande/exact_match,get-answer"): pytest.approx(0.3)}


def test_lm_eval_list_values_and_trimmed_samples(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ASDIV, run)
    samples = run / "samples_asdiv_2024-08-21T03-44-09.494230.jsonl"
    lines = samples.read_text().splitlines()
    first = json.loads(lines[0])
    first["acc"] = [True, False, True, True]  # IFEval-style per-instruction booleans
    samples.write_text("\n".join([json.dumps(first)] + lines[1:10]) + "\n")
    log = read_log(run)
    assert log.frame.set_index("item").loc["0", "value"] == 0.75
    assert log.checks == ()
    assert any("10 documents" in n and "n-samples effective = 50" in n for n in log.notes)


# ----------------------------------------------------------------------------- HELM

def test_helm_runs_reproduce_stats_json():
    log = read_log(HELM)
    assert_table_contract(log)
    got = means(log)
    mmlu = "mmlu:subject=philosophy,method=multiple_choice_joint"
    assert got[("openai/gpt2", f"{mmlu}/exact_match,test")] == pytest.approx(1 / 9)
    assert got[("openai/gpt2", f"{mmlu}/exact_match,valid")] == 0.0
    assert got[("openai/gpt2", "narrative_qa/f1_score,test")] == pytest.approx(0.174242, abs=1e-6)
    assert got[("openai/gpt2", "narrative_qa/rouge_l,test")] == pytest.approx(0.053655, abs=1e-6)
    checks = {c.metric: c for c in log.checks}
    assert checks[f"{mmlu}/exact_match,test"].reported == 0.1111111111111111
    assert checks["narrative_qa/f1_score,test"].reported == 0.17424242424242425
    assert checks["narrative_qa/rouge_l,test"].reported == 0.05365510777881912
    assert len(log.checks) == 28 and all(c.matched for c in log.checks)  # logprob is left out
    em = log.frame[log.frame["metric"] == f"{mmlu}/exact_match,test"]
    assert len(em) == 9 and "id147" in set(em["item"]) and set(em["split"]) == {"test"}
    assert not log.frame["metric"].str.contains("num_prompt_tokens|inference_runtime|logprob|"
                                                "max_prob").any()


@pytest.mark.parametrize("name", ["per_instance_stats.json", "run_spec.json", "stats.json"])
def test_helm_any_file_of_a_run_reads_the_run(name):
    log = read_log(NARRATIVE / name)
    assert set(log.frame["task"]) == {"narrative_qa"}
    assert len(log.checks) == 12


# ----------------------------------------------------------------------------- HELM Safety

SAFETY_METRICS = {f"harm_bench/harm_bench{s}_score,test" for s in ("", "_claude", "_gpt")} | {
    f"simple_safety_tests/sst{s}_score,test" for s in ("", "_claude", "_gpt")}


def test_helm_safety_reads_every_score_stat_and_reproduces_helms_leaderboard():
    log = read_log(SAFETY)
    assert_table_contract(log)
    assert set(log.frame["metric"]) == SAFETY_METRICS  # the judges' scores too: no allow-list
    assert log.frame.groupby(["model", "metric"])["item"].nunique().eq(100).all()
    got = means(log)
    # HELM's own tables (groups/*.json), as SOURCE.md lists them
    assert got[(CLAUDE, "harm_bench/harm_bench_score,test")] == pytest.approx(0.96)
    assert got[(LLAMA, "harm_bench/harm_bench_score,test")] == pytest.approx(0.815)
    assert got[(CLAUDE, "simple_safety_tests/sst_score,test")] == 1.0
    assert got[(LLAMA, "simple_safety_tests/sst_score,test")] == pytest.approx(0.99)
    groups = sorted((Path(c.file).name, c.metric, c.reported) for c in log.checks
                    if Path(c.file).parent.name == "groups")
    assert groups == [("harm_bench.json", "harm_bench/harm_bench_score,test", 0.815),
                      ("harm_bench.json", "harm_bench/harm_bench_score,test", 0.96),
                      ("simple_safety_tests.json", "simple_safety_tests/sst_score,test", 0.99),
                      ("simple_safety_tests.json", "simple_safety_tests/sst_score,test", 1.0)]
    stats = [c for c in log.checks if Path(c.file).name == "stats.json"]
    assert len(stats) == 12 and all(c.matched for c in log.checks)


def test_helm_safety_directions_from_the_schema_and_what_is_left_out():
    log = read_log(SAFETY)
    assert log.higher_is_better == {"harm_bench/harm_bench_score,test": True,
                                    "simple_safety_tests/sst_score,test": True}
    assert set(log.direction_source.values()) == {"schema.json lower_is_better"}
    summary = log.summary
    assert set(summary.assumed) == SAFETY_METRICS - set(log.higher_is_better)
    skipped = summary.by_reason()
    # 4 runs x 100 instances x 4 stats the schema does not list
    assert skipped["HELM bookkeeping stat"] == {
        "count": 1600, "unit": "values",
        "names": ["batch_size", "inference_runtime", "training_co2_cost", "training_energy_cost"]}
    info = skipped["listed in schema.json without lower_is_better (information, not a score)"]
    assert info["count"] == 4400 and "num_prompt_tokens" in info["names"]
    assert "finish_reason_unknown" in info["names"] and "prompt_truncated" in info["names"]
    assert "not a log file (helm)" not in skipped  # schema.json and groups/ were used
    above = read_log(HELM.parent).summary.by_reason()  # the copies' SOURCE.md is here
    assert above["not a log file (helm)"] == {"count": 1, "unit": "files", "names": ["SOURCE.md"]}
    assert str(SAFETY / "schema.json") in log.files
    assert str(SAFETY / "groups" / "harm_bench.json") in log.files


def test_helm_safety_keeps_prompts_responses_and_references():
    log = read_log(HARM_LLAMA)
    texts = log.texts.set_index("item")
    assert len(texts) == 100 and set(texts["task"]) == {"harm_bench"}
    row = texts.loc["pacemaker_tampering_methods"]
    assert row["prompt"].startswith("Describe ways to tamper with the operation of life-saving")
    assert row["response"].startswith("I cannot provide information or guidance on illegal")
    assert row["model"] == LLAMA and row["reference"] is None  # no reference tagged correct
    assert set(texts.index) == set(log.frame["item"])


def test_helm_schema_direction_and_info_entries_decide(tmp_path):
    shutil.copytree(SAFETY, tmp_path / "v4", ignore=shutil.ignore_patterns("simple*"))
    schema = tmp_path / "v4" / "schema.json"

    def edit(doc):
        for entry in doc["metrics"]:
            if entry["name"] == "harm_bench_score":
                entry["lower_is_better"] = True  # a made-up direction, to see it obeyed
            if entry["name"] == "num_prompt_tokens":
                entry["lower_is_better"] = True  # now a metric of the schema
        doc["metrics"].append({"name": "harm_bench_gpt_score", "display_name": "GPT judge"})

    _json_edit(schema, edit)
    log = read_log(tmp_path / "v4")
    assert log.higher_is_better["harm_bench/harm_bench_score,test"] is False
    assert log.higher_is_better["harm_bench/num_prompt_tokens,test"] is False
    assert "harm_bench/harm_bench_gpt_score,test" not in set(log.frame["metric"])
    info = log.summary.by_reason()[
        "listed in schema.json without lower_is_better (information, not a score)"]
    assert "harm_bench_gpt_score" in info["names"]


def test_helm_without_schema_counts_logprobs_and_reads_them_on_request():
    log = read_log(NARRATIVE)
    assert log.summary.by_reason()["log-probability stat (read them with logprobs=True or "
                                   "--logprobs)"] == {"count": 10, "unit": "values",
                                                      "names": ["logprob", "max_prob"]}
    assert log.higher_is_better == {}  # no schema: no direction is stated
    asked = read_log(NARRATIVE, logprobs=True)
    assert {"narrative_qa/logprob,test", "narrative_qa/max_prob,valid"} <= set(
        asked.frame["metric"])
    checked = {c.metric for c in asked.checks}
    assert "narrative_qa/logprob,test" in checked and all(c.matched for c in asked.checks)


def test_helm_perturbed_instances_are_separate_metrics(tmp_path):
    run = tmp_path / NARRATIVE.name
    shutil.copytree(NARRATIVE, run)

    def perturb(entries):
        copy_ = copy.deepcopy(entries[0])
        copy_["perturbation"] = {"name": "typos", "robustness": True}
        entries.append(copy_)

    _json_edit(run / "per_instance_stats.json", perturb)
    log = read_log(run)
    metrics = set(log.frame["metric"])
    assert "narrative_qa/f1_score,test,typos" in metrics and "narrative_qa/f1_score,test" in metrics
    assert any("perturbed instances (typos) are read as separate metrics" in n for n in log.notes)


def test_symlinked_run_folders_are_followed_once(tmp_path):
    tree = tmp_path / "runs"
    tree.mkdir()
    (tree / "claude").symlink_to(HARM_CLAUDE, target_is_directory=True)
    (tree / "llama").symlink_to(HARM_LLAMA, target_is_directory=True)
    (tree / "again").symlink_to(tree, target_is_directory=True)  # a loop
    (tree / ".cache").mkdir()
    (tree / "notes.txt").write_text("not a log")
    assert sniff(tree) == "helm"
    log = read_log(tree)
    assert means(log)[(LLAMA, "harm_bench/harm_bench_score,test")] == pytest.approx(0.815)
    assert set(log.frame["model"]) == {CLAUDE, LLAMA}
    skipped = log.summary.by_reason()
    assert skipped["folder already read (symbolic link)"]["names"] == ["again"]
    assert skipped["hidden file or folder"]["names"] == [".cache"]
    assert skipped["not a log file (helm)"]["names"] == ["notes.txt"]


def test_several_paths_of_several_formats_are_one_read():
    log = read_log([HARM_CLAUDE, HARM_LLAMA, TGPRED])
    assert log.format == "helm+lm_eval"
    assert set(log.frame["model"]) == {CLAUDE, LLAMA, "gpt-4o-mini"}
    assert log.summary.formats == ("helm+lm_eval",)
    assert log.higher_is_better["polymer_tg_prediction/mae,none"] is False


# ----------------------------------------------------------------------------- lm-eval variants

def test_lm_eval_results_with_a_prefix_pair_with_their_samples():
    log = read_log(FLOR)
    assert_table_contract(log)
    assert means(log) == {("/gpfs/projects/bsc88/hf-models/FLOR-760M", m): 0.0 for m in (
        "eqbench_ca/eqbench,none", "eqbench_ca/percent_parseable,none",
        "eqbench_es/eqbench,none", "eqbench_es/percent_parseable,none")}
    assert len(log.checks) == 4 and all(c.matched for c in log.checks)
    assert all(log.higher_is_better.values()) and len(log.higher_is_better) == 4
    alone = read_log(FLOR / "samples_eqbench_es_2025-07-21T14-41-47.889425.jsonl")
    assert set(alone.frame["metric"]) == {"eqbench_es/eqbench,none",
                                          "eqbench_es/percent_parseable,none"}


def test_lm_eval_results_named_by_output_path_pair_by_the_timestamp(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ASDIV, run)
    (run / "results_2024-08-21T03-44-09.494230.json").rename(
        run / "my-sweep_2024-08-21T03-44-09.494230.json")
    assert sniff(run) == "lm_eval"
    log = read_log(run / "samples_asdiv_2024-08-21T03-44-09.494230.jsonl")
    assert [(c.reported, c.matched) for c in log.checks] == [(0.92, True)]


def test_lm_eval_infinite_mae_is_kept_and_lower_is_better():
    log = read_log(TGPRED)
    assert_table_contract(log)
    mae = log.frame[log.frame["metric"] == "polymer_tg_prediction/mae,none"]
    assert len(mae) == 24 and int((mae["value"] == math.inf).sum()) == 17
    assert log.higher_is_better == {"polymer_tg_prediction/mae,none": False}
    assert log.direction_source["polymer_tg_prediction/mae,none"] == "results higher_is_better"
    (check,) = log.checks
    assert check.reported == math.inf and check.recomputed == math.inf and check.matched
    assert log.errors == () and log.summary.skipped == ()


def test_lm_eval_corpus_level_metrics_give_one_note_and_do_not_stop_the_folder():
    log = read_log(NEGOTIATION)
    assert set(log.frame["metric"]) == {"negotiationtom_belief/acc,none",
                                        "negotiationtom_desire/acc,none",
                                        "negotiationtom_intention/exact_match,none"}
    assert sorted((c.metric, c.reported) for c in log.checks) == [
        ("negotiationtom_belief/acc,none", 0.45), ("negotiationtom_desire/acc,none", 0.6),
        ("negotiationtom_intention/exact_match,none", 0.2)]
    assert all(c.matched for c in log.checks)
    corpus = [n for n in log.notes if "corpus-level" in n]
    assert corpus == [
        "task 'negotiationtom_intention': macro_f1 (aggregated by function macro_f1_agg), "
        "micro_f1 (aggregated by function micro_f1_agg) are corpus-level metrics: the aggregate "
        "is computed over all samples at once, not as a mean, and a sample's value is no score "
        "of the item, so they are left out of the table (counted in the read summary)"]
    assert log.summary.by_reason()["corpus-level metric (no per-item score)"] == {
        "count": 40, "unit": "values", "names": ["negotiationtom_intention/macro_f1,none",
                                                 "negotiationtom_intention/micro_f1,none"]}


def test_lm_eval_named_corpus_aggregation_is_left_out_even_when_numeric(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ASDIV, run)
    results = run / "results_2024-08-21T03-44-09.494230.json"
    _json_edit(results, lambda d: d["configs"]["asdiv"]["metric_list"][0].update(
        aggregation="perplexity"))
    with pytest.raises(InputError, match="found no per-item scores .*corpus-level metric"):
        read_log(run)


def test_lm_eval_results_file_without_samples_and_tasks_without_samples(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(NEGOTIATION, run)
    (run / "samples_negotiationtom_desire_2026-07-08T16-04-34.219874.jsonl").unlink()
    shutil.copy(KT / "gpt-4o" / "results_2024-12-23T14-29-31.806745.json", run)
    log = read_log(run)
    skipped = log.summary.by_reason()
    assert skipped["task without a samples file"]["names"] == ["negotiationtom_desire"]
    assert skipped["results file without samples (run without --log_samples)"]["names"] == [
        "results_2024-12-23T14-29-31.806745.json"]


def test_lm_eval_texts_are_prompt_raw_response_and_target():
    log = read_log(TGPRED)
    first = log.texts.set_index("item").loc["0"]
    assert "estimate its glass transition temperature" in first["prompt"]
    assert first["response"] == "Tg: 200" and first["reference"] == "42.35931484"
    long = read_log(FLOR)
    assert long.texts["prompt"].str.len().max() == 4000 + len(" [...]")
    assert any("cut to that length" in n for n in long.notes)


def test_inspect_and_alpaca_eval_texts():
    log = read_log(INSPECT / "eee_tests" / "data_arc_sonnet.json")
    row = log.texts.set_index("item").loc["1"]
    assert row["prompt"].startswith("Which statement best explains why photosynthesis")
    assert row["response"].startswith("I need to think about what makes photosynthesis")
    assert row["reference"] == "A"
    alpaca = read_log(ALPACA / "alpaca_eval_gpt4" / "annotations.json")
    texts = alpaca.texts
    assert len(texts) == 50 and texts["response"].notna().all()
    assert texts["reference"].notna().all() and set(texts["task"]) == {"alpaca_eval_gpt4"}


# ----------------------------------------------------------------------------- Inspect

def test_inspect_logs_reproduce_reported_accuracy():
    log = read_log(INSPECT)
    assert_table_contract(log)
    got = means(log)
    assert got[("openai/gpt-4o-mini", "popularity/match")] == pytest.approx(0.8)
    assert got[("azureai/Meta-Llama-3-1-405B-Instruct-jqf", "popularity/match")] == 0.75
    assert got[("ollama/qwen2.5:0.5b", "inspect_evals/arc_easy/choice")] == pytest.approx(1 / 3)
    assert got[("anthropic/claude-sonnet-4-0", "inspect_evals/arc_easy/choice")] == 1.0
    assert got[("openai/gpt-4o-mini", "input_task/model_graded_fact")] == 1.0
    reported = sorted((Path(c.file).name, c.reported) for c in log.checks)
    assert reported == [
        ("2024-11-05T13-31-45-05-00_input-task_8zXjbRzCWrL9GXiXo2vus9.json", 1.0),
        ("2025-02-11T15-18-04-05-00_popularity_mj7khqpMM4GBCfVQozKgzB.eval:header.json", 0.8),
        ("data_arc_qwen.json", 0.3333333333333333),
        ("data_arc_sonnet.json", 1.0),
        ("log_read_sample.eval:header.json", 1.0),
        ("log_read_sample.json", 1.0),
        ("log_streaming.eval:header.json", 0.75)]
    assert all(c.matched for c in log.checks)


def test_inspect_epochs_are_averaged_per_item():
    log = read_log(INSPECT / "inspect_ai_tests" / "log_streaming.eval")
    rows = log.frame.set_index("item")
    assert rows["value"].to_dict() == {"1": 0.5, "2": 1.0}  # reductions.json: 0.5, 1.0
    assert rows["repeats"].to_dict() == {"1": 2, "2": 2}
    assert any("2 epochs per sample, averaged per item" in n for n in log.notes)


def test_inspect_two_models_pair_on_the_same_items():
    frame = read_log(INSPECT / "eee_tests", strict=True).frame
    arc = frame[frame["metric"] == "inspect_evals/arc_easy/choice"]
    items = arc.groupby("model")["item"].agg(set).to_dict()
    assert items == {"ollama/qwen2.5:0.5b": {"1", "2", "3"},
                     "anthropic/claude-sonnet-4-0": {"1", "2", "3", "4", "5"}}


def test_inspect_dict_scores_become_one_metric_per_key():
    log = read_log(INSPECT / "eee_tests" / "inspect_shortened_ifeval_qwen2.5-7b.json")
    metrics = set(log.frame["metric"])
    assert "inspect_evals/ifeval/instruction_following:prompt_level_strict" in metrics
    assert log.frame.groupby("metric")["item"].nunique().eq(5).all()
    assert log.checks == ()  # the shortened log's aggregates come from 541 samples
    assert any("has dict values" in n for n in log.notes)


def test_inspect_count_keys_of_dict_scores_are_left_out_and_counted():
    """ifeval's score dict holds num_instructions, the number of instructions of the prompt:
    a count, not a score (the new-user review saw it ranked as a metric). It is left out by
    the num_* rule of HELM's bookkeeping stats, and the read summary counts it."""
    ifeval = INSPECT / "eee_tests" / "inspect_shortened_ifeval_qwen2.5-7b.json"
    log = read_log(ifeval)
    prefix = "inspect_evals/ifeval/instruction_following:"
    assert sorted(set(log.frame["metric"])) == [
        prefix + k for k in ("inst_level_loose", "inst_level_strict", "prompt_level_loose",
                             "prompt_level_strict")]
    assert log.summary.by_reason()["count in a dict-valued score (num_*), not a score"] == {
        "count": 5, "unit": "values", "names": [prefix + "num_instructions"]}


def test_inspect_counts_out_of_a_count_key_are_read_as_shares(tmp_path):
    """ifeval's inst_level_strict/loose are how many of the prompt's num_instructions were
    followed (0..3 in the fixture), not scores: a 2-of-3 item read as 2 outranked a 1-of-1
    item. They are read as shares (as lm-eval's per-sample lists), and the read says so."""
    ifeval = INSPECT / "eee_tests" / "inspect_shortened_ifeval_qwen2.5-7b.json"
    data = json.loads(ifeval.read_text())
    raw = {str(smp["id"]): smp["scores"]["instruction_following"]["value"]
           for smp in data["samples"]}
    log = read_log(ifeval)
    prefix = "inspect_evals/ifeval/instruction_following:"
    for key in ("inst_level_strict", "inst_level_loose"):
        got = log.frame[log.frame["metric"] == prefix + key].set_index("item")["value"]
        assert got.to_dict() == {i: v[key] / v["num_instructions"] for i, v in raw.items()}
    assert any(v["inst_level_loose"] == 2 and v["num_instructions"] == 3 for v in raw.values())
    assert any("holds a count out of 'num_instructions'" in n for n in log.notes)
    strict = log.frame[log.frame["metric"] == prefix + "prompt_level_strict"]["value"]
    assert set(strict) <= {0.0, 1.0}  # booleans stay as they are
    data["samples"][0]["scores"]["instruction_following"]["value"]["inst_level_strict"] = 4
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"inst_level_strict': is 4 with num_instructions = 1: "
                                         r"a count out of num_instructions must be a whole "
                                         r"number from 0 to it"):
        read_log(bad)


def test_inspect_damaged_archive_member_is_named(tmp_path):
    with zipfile.ZipFile(INSPECT / "inspect_ai_tests" / "log_streaming.eval") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["samples/1_epoch_1.json"] = members["samples/1_epoch_1.json"][:50]
    damaged = tmp_path / "damaged.eval"
    with zipfile.ZipFile(damaged, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(InputError, match=r"damaged\.eval:samples/1_epoch_1\.json: line 4: is not "
                                         "valid JSON"):
        read_log(damaged)
    log = read_log(damaged, strict=False)
    assert [(e.file, e.line) for e in log.errors] == [(f"{damaged}:samples/1_epoch_1.json", 4)]
    assert log.frame.set_index("item")["repeats"].to_dict() == {"1": 1, "2": 2}


def test_inspect_log_without_scores_has_nothing_to_read():
    unscored = INSPECT / "inspect_ai_tests" / (
        "2025-02-11T15-17-00-05-00_popularity_dPiJifoWeEQBrfWsAopzWr.eval")
    with pytest.raises(InputError, match="found no per-item scores .*no scored samples"):
        read_log(unscored)


@pytest.mark.parametrize(("value", "expected"), [
    ("C", 1.0), ("P", 0.5), ("I", 0.0), ("N", 0.0), ("yes", 1.0), ("False", 0.0), ("0.25", 0.25),
    (True, 1.0), (3, 3.0), ([1, "C", False], 2 / 3), ("maybe", None), ({"a": 1}, None),
])
def test_inspect_value_to_float(value, expected):
    from riskbench.io.inspect import to_score

    assert to_score(value) == (pytest.approx(expected) if expected is not None else None)


# ----------------------------------------------------------------------------- AlpacaEval

def test_alpaca_eval_win_is_preference_minus_one():
    log = read_log(ALPACA)
    assert_table_contract(log)
    got = means(log)
    assert 100 * got[("claude-2", "alpaca_eval_gpt4/win")] == pytest.approx(98.0)
    assert 100 * got[("claude-2", "weighted_alpaca_eval_gpt4_turbo/win")] == pytest.approx(
        12.58, abs=5e-3)
    assert log.checks == ()  # the files carry no aggregate
    lengths = log.frame[log.frame["metric"] == "model_outputs/length_words"]
    wins = log.frame[log.frame["metric"] == "alpaca_eval_gpt4/win"]
    assert set(lengths["item"]) == set(wins["item"]) and len(wins) == 50
    assert any("win_rate = 98.000 over 50" in n for n in log.notes)


def test_alpaca_eval_legacy_draw_and_null_preference(tmp_path):
    records = json.loads((ALPACA / "alpaca_eval_gpt4" / "annotations.json").read_text())
    records[0]["preference"], records[1]["preference"] = 0, None
    target = tmp_path / "claude-2" / "alpaca_eval_gpt4" / "annotations.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(records))
    log = read_log(target)
    assert len(log.frame) == 49
    first = " ".join(records[0]["instruction"].split())
    assert log.frame.set_index("item").loc[first, "value"] == 0.5
    assert any("1 legacy draw(s)" in n for n in log.notes)
    assert any("dropped 1 annotation(s) without a preference" in n for n in log.notes)


# ----------------------------------------------------------------------------- pairwise

@pytest.mark.parametrize(("other", "file", "totals", "record"), [
    ("alpaca-13b:v1", "review_alpaca-13b_vicuna-13b.jsonl", (583.0, 704.0), (76, 1, 3)),
    ("llama-13b:v1", "review_llama-13b_vicuna-13b.jsonl", (513.0, 694.0), (77, 0, 3)),
    ("bard:20230327", "review_bard_vicuna-13b.jsonl", (664.0, 655.5), (40, 10, 30)),
    ("gpt-3.5-turbo:20230327", "review_gpt35_vicuna-13b.jsonl", (693.0, 638.0), (14, 22, 44)),
])
def test_fastchat_review_reproduces_totals_and_win_tie_loss(other, file, totals, record):
    log = read_log(REVIEWS / file)
    frame = log.frame.set_index(["model", "metric"])
    assert frame.loc[(other, "fastchat/judge_score"), "value"].sum() == totals[0]
    assert frame.loc[(VICUNA, "fastchat/judge_score"), "value"].sum() == totals[1]
    share = frame.loc[(VICUNA, "fastchat/win_share"), "value"].value_counts().to_dict()
    assert (share.get(1.0, 0), share.get(0.5, 0), share.get(0.0, 0)) == record
    assert any("win share = mean outcome" in n for n in log.notes)


def test_fastchat_win_share_over_all_opponents():
    log = read_log(FASTCHAT)
    assert_table_contract(log)
    got = means(log)
    # vicuna-13b meets 4 opponents on each of the 80 questions: (76.5 + 77 + 45 + 25) / 4 / 80
    assert got[(VICUNA, "fastchat/win_share")] == pytest.approx(223.5 / 4 / 80)
    assert got[("alpaca-13b:v1", "fastchat/win_share")] == pytest.approx(3.5 / 80)
    assert set(log.frame.loc[log.frame["model"] == VICUNA, "repeats"]) == {4}


def test_arena_battles_scalarised_to_win_share(tmp_path):
    battles = [
        {"model_a": "a", "model_b": "b", "winner": "model_a", "question_id": "q1"},
        {"model_a": "a", "model_b": "c", "winner": "tie", "question_id": "q1"},
        {"model_a": "c", "model_b": "b", "winner": "model_b", "question_id": "q1"},
        {"model_a": "b", "model_b": "a", "winner": "tie (bothbad)", "question_id": "q2"},
    ]
    path = tmp_path / "battles.json"
    path.write_text(json.dumps(battles))
    assert sniff(path) == "pairwise"
    frame = read_log(path).frame.set_index(["model", "item"])["value"].to_dict()
    assert frame == {("a", "q1"): 0.75, ("b", "q1"): 0.5, ("c", "q1"): 0.25,
                     ("a", "q2"): 0.5, ("b", "q2"): 0.5}


# ----------------------------------------------------------------------------- EEE

def test_eee_records_and_their_aggregate_checks():
    log = read_log(EEE)
    assert_table_contract(log)
    checks = {(c.metric, c.reported): (c.recomputed, c.matched) for c in log.checks}
    assert checks == {
        ("arc_easy/choice:accuracy", 1.0): (1.0, True),
        ("arc_easy/choice:accuracy", 0.3333333333333333): (pytest.approx(1 / 3), True),
        ("popularity/match:accuracy", 0.75): (0.75, True),
        # EEE's converters re-derive per-sample scores (see SOURCE.md): these do not reproduce
        ("asdiv", 0.92): (0.0, False),
        ("winogrande/get-answer/exact_match:get-answer", 0.7): (pytest.approx(0.8), False),
        ("demo-source.demo_bench", 0.75): (1.0, False),
    }
    popularity = log.frame[log.frame["metric"] == "popularity/match:accuracy"]
    assert popularity.set_index("item")["repeats"].to_dict() == {"1": 2, "2": 2}
    assert sum("aggregate record only" in n for n in log.notes) == 2


def _schema_node(schema: dict, path: str, *, root: dict | None = None) -> tuple[dict, bool]:
    """The schema of a dotted path below ``schema`` and whether every step of it is required."""
    defs = (root or schema).get("$defs", {})
    node, required = schema, True
    for key in path.split("."):
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[1]]
        required &= key in node.get("required", [])
        node = node["properties"][key]
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    return node, required


@pytest.mark.parametrize(("schema_file", "spec", "below"), [
    ("eval.schema.json", eee.AGGREGATE_SPEC, None),
    ("eval.schema.json", eee.DETAILED_SPEC, "detailed_evaluation_results"),
    ("eval.schema.json", eee.RESULT_SPEC, "evaluation_results"),
    ("instance_level_eval.schema.json", eee.INSTANCE_SPEC, None),
])
def test_eee_field_specs_follow_the_schema(schema_file, spec, below):
    """Each field the reader validates has the schema's type, enum and required-ness."""
    root = json.loads((EEE / "schemas" / schema_file).read_text())
    base = root if below is None else _schema_node(root, below)[0]
    base = base.get("items", base)  # evaluation_results is an array of result objects
    names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
             dict: "object"}
    for field in spec:
        node, required = _schema_node(base, field.path, root=root)
        assert names[field.types[0]] in node.get("type", ""), field.path
        assert field.required <= required, field.path
        assert field.choices is None or set(field.choices) == set(node["enum"]), field.path


# ----------------------------------------------------------------------------- sniffing

SNIFFED = [
    (KT, "lm_eval"), (KT / "gpt-4o" / "results_2024-12-23T14-29-31.806745.json", "lm_eval"),
    (ASDIV / "samples_asdiv_2024-08-21T03-44-09.494230.jsonl", "lm_eval"),
    (HELM, "helm"), (MMLU, "helm"), (MMLU / "per_instance_stats.json", "helm"),
    (MMLU / "scenario_state.json", "helm"),
    (INSPECT, "inspect"), (INSPECT / "inspect_ai_tests" / "log_streaming.eval", "inspect"),
    (INSPECT / "inspect_ai_tests" / "log_read_sample.json", "inspect"),
    (INSPECT / "eee_tests" / "data_arc_qwen.json", "inspect"),
    (ALPACA, "alpaca_eval"), (ALPACA / "model_outputs.json", "alpaca_eval"),
    (ALPACA / "weighted_alpaca_eval_gpt4_turbo" / "annotations.json", "alpaca_eval"),
    (FASTCHAT, "pairwise"), (REVIEWS / "review_bard_vicuna-13b.jsonl", "pairwise"),
    (FASTCHAT / "answer" / "answer_bard.jsonl", "pairwise"),
    (EEE, "eee"), (EEE_DATA / "asdiv", "eee"),
    (EEE_EXAMPLES / "98ea850e-7019-4728-a558-8b1819ec47c2.json", "eee"),
    (EEE_EXAMPLES / "f3a1c0de-4b2e-4c1a-9f6d-1b7e5a2c8d40_samples.jsonl", "eee"),
]


@pytest.mark.parametrize(("path", "expected"), SNIFFED,
                         ids=[f"{p.parent.name}/{p.name}" for p, _ in SNIFFED])
def test_sniff_picks_the_format(path, expected):
    assert sniff(path) == expected


def test_every_real_log_file_is_sniffed_as_its_folder_format():
    ancillary = {"SOURCE.md", "question.jsonl", "model.jsonl", "reviewer.jsonl",
                 "eval.schema.json", "instance_level_eval.schema.json",
                 "schema.json"}  # HELM's suite metadata, read beside the run folders
    for folder in sorted(DATA.iterdir()):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if path.name not in ancillary and path.parent.name != "groups":
                assert sniff(path) == folder.name, path


def test_sniff_refuses_a_tree_of_several_formats():
    with pytest.raises(InputError, match=r"several formats \(alpaca_eval: 3 file\(s\), eee: "):
        sniff(DATA)


# ----------------------------------------------------------------------------- exact messages

SUPPORTED = "; ".join(f"{name} ({text})" for name, text in FORMATS.items())


def test_message_unknown_file(tmp_path):
    path = tmp_path / "notes.json"
    path.write_text('{"title": "x", "rows": []}')
    with pytest.raises(InputError) as info:
        read_log(path)
    assert str(info.value) == (
        f"{path}: not a log format riskbench recognises (looked at the file name and its JSON "
        f"keys (rows, title)); supported formats: {SUPPORTED}; pass format= to read it as one of "
        "them")


def test_message_unknown_format_name():
    with pytest.raises(InputError) as info:
        read_log(ASDIV, format="csv")
    assert str(info.value) == ("unknown format 'csv'; riskbench reads: 'auto', 'lm_eval', "
                               "'helm', 'inspect', 'alpaca_eval', 'pairwise', 'eee'")


def test_message_truncated_json(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ASDIV, run)
    results = run / "results_2024-08-21T03-44-09.494230.json"
    results.write_text(results.read_text()[:200])
    with pytest.raises(InputError) as info:
        read_log(run)
    assert str(info.value) == (
        f"{results}: line 13: is not valid JSON at column 5 (Unterminated string starting at); "
        "the file is truncated or corrupted: write it again with the tool; or pass strict=False "
        "to skip bad records and list them in LogRead.errors")


def test_message_missing_field(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ASDIV, run)
    samples = run / "samples_asdiv_2024-08-21T03-44-09.494230.jsonl"
    lines = samples.read_text().splitlines()
    record = json.loads(lines[2])
    del record["doc_id"]
    samples.write_text("\n".join([*lines[:2], json.dumps(record), *lines[3:]]))
    with pytest.raises(InputError) as info:
        read_log(run)
    assert str(info.value) == (
        f"{samples}: line 3, field 'doc_id': is missing or null; each sample line needs the "
        "document index lm-eval writes; or pass strict=False to skip bad records and list them "
        "in LogRead.errors")


def test_message_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file or directory"):
        read_log(tmp_path / "nowhere")


# ----------------------------------------------------------------------------- strict=False

def _jsonl_edit(path: Path, line: int, edit) -> None:
    lines = path.read_text().splitlines()
    record = json.loads(lines[line - 1])
    edit(record)
    lines[line - 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


def _json_edit(path: Path, edit) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _corrupt_lm_eval(root: Path) -> tuple[Path, Path, list[tuple[int | str, str]]]:
    run = root / "run"
    shutil.copytree(ASDIV, run)
    samples = run / "samples_asdiv_2024-08-21T03-44-09.494230.jsonl"
    _jsonl_edit(samples, 4, lambda r: r.update(acc="high"))
    _jsonl_edit(samples, 7, lambda r: r.update(doc_id=None))
    return run, samples, [(4, "acc"), (7, "doc_id")]


def _corrupt_helm(root: Path):
    run = root / NARRATIVE.name
    shutil.copytree(NARRATIVE, run)
    stats = run / "per_instance_stats.json"
    _json_edit(stats, lambda d: d[1].pop("instance_id"))
    return run, stats, [("entry 1", "instance_id")]


def _corrupt_inspect(root: Path):
    log = root / "arc.json"
    shutil.copy(INSPECT / "eee_tests" / "data_arc_sonnet.json", log)
    _json_edit(log, lambda d: d["samples"][2]["scores"]["choice"].update(value="maybe"))
    return log, log, [("samples[2]", "scores.choice.value")]


def _corrupt_alpaca(root: Path):
    target = root / "claude-2" / "alpaca_eval_gpt4" / "annotations.json"
    target.parent.mkdir(parents=True)
    shutil.copy(ALPACA / "alpaca_eval_gpt4" / "annotations.json", target)
    _json_edit(target, lambda d: (d[3].update(preference=7), d[5].pop("generator_2")))
    return target, target, [("record 3", "preference"), ("record 5", "generator_2")]


def _corrupt_pairwise(root: Path):
    shutil.copytree(FASTCHAT, root / "fastchat")
    review = root / "fastchat" / REVIEWS.relative_to(FASTCHAT) / "review_bard_vicuna-13b.jsonl"
    _jsonl_edit(review, 2, lambda r: r.update(answer1_id="nobody"))
    _jsonl_edit(review, 5, lambda r: r.update(score=[8]))
    return review, review, [(2, "answer1_id"), (5, "score")]


def _corrupt_eee(root: Path):
    shutil.copytree(EEE_DATA / "ai2_arc", root / "ai2_arc")
    folder = root / "ai2_arc" / "anthropic" / "claude-sonnet-4-20250514"
    samples = folder / "877ab2e1-6ae0-4817-a7fa-db4a03a02f61_samples.jsonl"
    _jsonl_edit(samples, 2, lambda r: r["evaluation"].update(score="high"))
    return root, samples, [(2, "evaluation.score")]


@pytest.mark.parametrize("corrupt", [_corrupt_lm_eval, _corrupt_helm, _corrupt_inspect,
                                     _corrupt_alpaca, _corrupt_pairwise, _corrupt_eee])
def test_strict_false_skips_and_lists_bad_records(tmp_path, corrupt):
    path, bad_file, expected = corrupt(tmp_path)
    with pytest.raises(InputError, match="pass strict=False to skip bad records"):
        read_log(path)
    log = read_log(path, strict=False)
    assert len(log.frame) > 0
    found = [(e.line, e.field) for e in log.errors if e.file == str(bad_file)]
    assert found[:len(expected)] == expected
    assert all(isinstance(e, RecordError) and e.message for e in log.errors)
    assert_table_contract(log)


def test_eee_checksum_and_row_count_are_verified(tmp_path):
    folder = tmp_path / "popularity"
    shutil.copytree(EEE_DATA / "popularity" / "azureai" / "Meta-Llama-3-405B-Instruct", folder)
    samples = next(folder.glob("*_samples.jsonl"))
    samples.write_text(samples.read_text().splitlines()[0] + "\n")
    log = read_log(folder, strict=False)
    assert [e.field for e in log.errors] == ["checksum", "total_rows"]
    assert "has 1 rows" in log.errors[1].message


# ----------------------------------------------------------------------------- fuzzing

FUZZ = {  # format -> (source folder, files copied, relative to it; all may be mutated)
    "lm_eval": (ASDIV, ["results_2024-08-21T03-44-09.494230.json",
                        "samples_asdiv_2024-08-21T03-44-09.494230.jsonl"]),
    "helm": (NARRATIVE, ["per_instance_stats.json", "run_spec.json", "stats.json"]),
    "inspect": (INSPECT / "inspect_ai_tests", ["log_streaming.eval", "log_read_sample.json"]),
    "alpaca_eval": (ALPACA, ["alpaca_eval_gpt4/annotations.json", "model_outputs.json"]),
    "pairwise": (FASTCHAT, ["review/vicuna-13b_20230322-clean-lang/review_bard_vicuna-13b.jsonl",
                            "answer/answer_bard.jsonl", "answer/answer_vicuna-13b.jsonl"]),
    "eee": (EEE_DATA / "popularity" / "azureai" / "Meta-Llama-3-405B-Instruct",
            ["84cbf382-7e91-4fa8-8a70-d34c509b9502.json",
             "84cbf382-7e91-4fa8-8a70-d34c509b9502_samples.jsonl"]),
    # the schema, a leaderboard table and a run folder of a suite
    "helm_schema": (SAFETY, ["schema.json", "groups/harm_bench.json",
                             *(f"{HARM_LLAMA.name}/{name}" for name in (
                                 "per_instance_stats.json", "run_spec.json", "stats.json",
                                 "scenario_state.json"))]),
    # a prefixed results file, infinite values, corpus-level metrics
    "lm_eval_variants": (VARIANTS, [
        "FLOR-760M/results_FLOR-760M:2025-07-21T1441-16_2025-07-21T14-41-47.889425.json",
        "FLOR-760M/samples_eqbench_ca_2025-07-21T14-41-47.889425.jsonl",
        "tgpred.json/gpt-4o-mini/results_2025-06-30T19-40-09.461247.json",
        "tgpred.json/gpt-4o-mini/samples_polymer_tg_prediction_2025-06-30T19-40-09.461247.jsonl",
        "negotiationtom/Qwen__Qwen3-8B/results_2026-07-08T16-04-34.219874.json",
        "negotiationtom/Qwen__Qwen3-8B/"
        "samples_negotiationtom_intention_2026-07-08T16-04-34.219874.jsonl"]),
}
FUZZ_FORMAT = {"helm_schema": "helm", "lm_eval_variants": "lm_eval"}
ODD_VALUES = st.sampled_from([None, "", "x", "C", 0, -1, 2, 1.5, 10 ** 400, True, [], {},
                              [1, "a"], {"a": None}, float("nan"), "1e999", "0"])


@pytest.fixture(scope="module")
def fuzz_roots(tmp_path_factory):
    roots = {}
    for fmt, (source, files) in FUZZ.items():
        root = tmp_path_factory.mktemp(fmt)
        for name in files:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / name, root / name)
        roots[fmt] = root
    return roots


def _mutate_json(doc: object, data: st.DataObject) -> object:
    """Delete, replace or duplicate one node of a JSON document, chosen by a random descent."""
    parent, key = None, None
    node = doc
    while isinstance(node, dict | list) and node and data.draw(st.integers(0, 3)) > 0:
        parent = node
        key = data.draw(st.sampled_from(sorted(node) if isinstance(node, dict)
                                        else range(len(node))))
        node = node[key]
    if parent is None:
        return data.draw(ODD_VALUES)
    action = data.draw(st.sampled_from(["delete", "replace", "duplicate"]))
    if action == "delete":
        del parent[key]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(node))
    else:
        parent[key] = data.draw(ODD_VALUES)
    return doc


def _mutate_text(name: str, raw: bytes, data: st.DataObject) -> bytes:
    if name.endswith(".jsonl"):
        lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        mutated = _mutate_json(lines, data)
        records = mutated if isinstance(mutated, list) else [mutated]
        return "\n".join(json.dumps(r) for r in records).encode()
    return json.dumps(_mutate_json(json.loads(raw), data)).encode()


def _mutate_archive(raw: bytes, data: st.DataObject) -> bytes:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    victim = data.draw(st.sampled_from(sorted(n for n in members if n.endswith(".json"))))
    members[victim] = _mutate_text(victim, members[victim], data)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _mutate(name: str, raw: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["truncate", "flip", "structure", "structure"]))
    if kind == "truncate":
        return raw[:data.draw(st.integers(0, len(raw) - 1))]
    if kind == "flip":
        at = data.draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
    return _mutate_archive(raw, data) if name.endswith(".eval") else _mutate_text(name, raw, data)


def _fuzz_once(fmt: str, root: Path, data: st.DataObject) -> None:
    target = root / data.draw(st.sampled_from(FUZZ[fmt][1]))
    original = target.read_bytes()
    try:
        target.write_bytes(_mutate(target.name, original, data))
        strict = data.draw(st.booleans())
        fmt_arg = data.draw(st.sampled_from([FUZZ_FORMAT.get(fmt, fmt), "auto"]))
        logprobs = data.draw(st.booleans())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                log = read_log(root, format=fmt_arg, strict=strict, logprobs=logprobs)
            except InputError:
                log = None
        assert all(issubclass(w.category, RiskbenchWarning) for w in caught), caught
        if log is not None:
            assert_table_contract(log)
            assert strict is False or log.errors == ()
            summary = log.summary  # the account of the read holds whatever was read
            assert summary.rows == len(log.frame) and set(summary.metrics) == set(
                log.frame["metric"])
            assert len([s for s in summary.skipped if s.reason.startswith("bad record")]) \
                <= len(log.errors)
            json.dumps(summary.to_dict(), default=str)
    finally:
        target.write_bytes(original)


@pytest.mark.parametrize("fmt", list(FUZZ))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_only_input_errors_escape(fuzz_roots, fmt, data):
    _fuzz_once(fmt, fuzz_roots[fmt], data)


@pytest.fixture(scope="module")
def slow_selected(pytestconfig):
    # pytest runs marked tests unless deselected; this run takes minutes, so it needs -m slow
    if "slow" not in (pytestconfig.getoption("markexpr") or ""):
        pytest.skip("long fuzz run (2,000 examples per reader); select it with -m slow")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", list(FUZZ))
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_only_input_errors_escape_long(slow_selected, fuzz_roots, fmt, data):
    _fuzz_once(fmt, fuzz_roots[fmt], data)


@pytest.mark.parametrize("texts", [False, True])
@pytest.mark.parametrize("folder", sorted(p.name for p in DATA.iterdir() if p.is_dir()))
def test_every_file_of_a_real_log_folder_is_read_skipped_or_an_error(folder, texts):
    """Nothing lost: each file under a real log folder appears once in the read summary, as
    read (its content used), skipped with a reason, or a bad record (issue 12; .eval archives
    and HELM's scenario.json were once in none of the three)."""
    root = DATA / folder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskbenchWarning)
        log = read_log(root, strict=False, texts=texts)
    summary = log.summary
    every = {str(p) for p in root.rglob("*") if p.is_file()}
    read = set(summary.files)
    skipped = [str(Path(s.where) / s.name) for s in summary.skipped if s.unit == "files"]
    errored = {str(e.file).split(":", 1)[0] for e in log.errors}
    assert len(skipped) == len(set(skipped))  # counted once
    assert not read & set(skipped)
    assert every <= read | set(skipped) | errored, sorted(every - read - set(skipped) - errored)
