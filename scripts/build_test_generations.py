"""Build tests/data/generations/ifeval_two_models.jsonl from real responses of two models.

Run from the repository root: python scripts/build_test_generations.py ../shared/data/formats
The five IFEval prompts kept in EEE's shortened Inspect log of Qwen2.5-7B-Instruct, answered by
Qwen2.5-7B-Instruct (that log) and by GPT-4 (IFEval's released responses); plus the reference
results for them: Inspect's own per-sample IFEval scores for Qwen, and Google's checker's results
(run by Podtech) for GPT-4. This script records the derivation; riskbench never reads ../shared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(formats: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    log = json.loads((formats / "inspect_ai/eee_tests/inspect_shortened_ifeval_qwen2.5-7b.json")
                     .read_text(encoding="utf-8"))
    inputs = {json.loads(line)["prompt"].strip(): json.loads(line)
              for line in (formats / "ifeval/input_data.jsonl").read_text().splitlines()}
    gpt4 = {json.loads(line)["prompt"].strip(): json.loads(line)["response"]
            for line in (formats / "ifeval/input_response_data_gpt4_20231107_145030.jsonl")
            .read_text(encoding="utf-8").splitlines()}
    strict = {json.loads(line)["prompt"].strip(): json.loads(line) for line in
              (formats / "ifeval/eval_results_podtech_540/eval_results_strict.jsonl")
              .read_text(encoding="utf-8").splitlines()}
    loose = {json.loads(line)["prompt"].strip(): json.loads(line) for line in
             (formats / "ifeval/eval_results_podtech_540/eval_results_loose.jsonl")
             .read_text(encoding="utf-8").splitlines()}
    rows, reference = [], []
    for sample in log["samples"]:
        prompt = sample["input"].strip()
        key = inputs[prompt]["key"]
        score = sample["scores"]["instruction_following"]["value"]
        rows.append({"model": "Qwen2.5-7B-Instruct", "item": key, "prompt": prompt,
                     "response": sample["output"]["completion"]})
        rows.append({"model": "gpt-4", "item": key, "prompt": prompt, "response": gpt4[prompt]})
        reference.append({"model": "Qwen2.5-7B-Instruct", "item": key, "source": "inspect_evals",
                          "prompt_strict": score["prompt_level_strict"],
                          "prompt_loose": score["prompt_level_loose"],
                          "inst_strict": score["inst_level_strict"],
                          "inst_loose": score["inst_level_loose"],
                          "num_instructions": score["num_instructions"]})
        s, lo = strict[prompt], loose[prompt]
        reference.append({"model": "gpt-4", "item": key, "source": "google checker (podtech run)",
                          "prompt_strict": s["follow_all_instructions"],
                          "prompt_loose": lo["follow_all_instructions"],
                          "inst_strict": sum(s["follow_instruction_list"]),
                          "inst_loose": sum(lo["follow_instruction_list"]),
                          "num_instructions": len(s["follow_instruction_list"])})
    out = root / "tests/data/generations"
    (out / "ifeval_two_models.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (out / "ifeval_two_models_reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"{len(rows)} generations, {len(reference)} reference rows -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/formats"))
