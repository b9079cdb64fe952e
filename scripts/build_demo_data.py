"""Build riskbench's embedded demo table from the AlpacaEval extraction in ../shared/data.

Run from the repository root:  python scripts/build_demo_data.py ../shared/data/alpaca_eval
Writes src/riskbench/data/alpacaeval2_demo.csv.gz and tests/reference/alpacaeval2_leaderboard.csv.
Only numbers are copied (no instruction or output texts). This script is the derivation record;
riskbench never reads ../shared at run time.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pandas as pd

# Adversarial or degenerate entries named in the source's SOURCE.md: the constant-output
# "cheating" NullModel, the length-gamed gpt4_gamed, prompt-engineered *_concise / *_verbose
# variants, and the baseline gpt4_1106_preview compared with itself (value = 0.5 everywhere).
EXCLUDED = {"NullModel", "gpt4_gamed", "gpt4_1106_preview"}


def excluded(model: str) -> bool:
    return model in EXCLUDED or model.endswith("_concise") or model.endswith("_verbose")


def main(src: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    win = pd.read_csv(src / "ae2_weighted_gpt4_turbo.csv.gz", dtype={"value": str})
    models = sorted(m for m in win["model"].unique() if not excluded(m))
    win = win[win["model"].isin(models)]
    lengths = pd.read_csv(src / "ae_output_lengths_all_models.csv.gz", dtype={"value": str})
    lengths = lengths[(lengths["metric"] == "output_len_chars") & lengths["model"].isin(models)]
    offensive = pd.read_csv(src / "derived_output_offensive_prob_all_models.csv.gz",
                            dtype={"value": str})
    offensive = offensive[offensive["model"].isin(models)]
    parts = [
        win.assign(metric="win")[["model", "sample_id", "metric", "value"]],
        offensive.assign(metric="offensive")[["model", "sample_id", "metric", "value"]],
        lengths.assign(metric="length")[["model", "sample_id", "metric", "value"]],
    ]
    table = pd.concat(parts).sort_values(["metric", "model", "sample_id"], kind="stable")
    for metric, sub in table.groupby("metric"):
        assert set(sub["model"]) == set(models), metric
    out = root / "src/riskbench/data/alpacaeval2_demo.csv.gz"
    with gzip.GzipFile(out, "wb", mtime=0) as fh:  # mtime=0: byte-identical rebuilds
        fh.write(table.to_csv(index=False, lineterminator="\n").encode())
    board = pd.read_csv(src / "reference_leaderboard_ae2_weighted_alpaca_eval_gpt4_turbo.csv",
                        index_col=0)
    board = board.loc[[m for m in models if m in board.index], ["win_rate", "n_total"]]
    board.index.name = "model"
    board.to_csv(root / "tests/reference/alpacaeval2_leaderboard.csv")
    print(f"{len(models)} models, {len(table)} rows -> {out} ({out.stat().st_size} bytes); "
          f"{len(board)} leaderboard rows")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/alpaca_eval"))
