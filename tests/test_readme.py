"""The README's examples are tests: every ``riskbench ...`` command of its bash blocks and
every Python block runs here, on small tables built from the README's own descriptions (and
real harness logs from tests/data), so a documented example can no longer crash or drift.

- Commands run through the real CLI (click's runner, in this process) from a folder holding the
  files they name; `--n-resamples` (and `power`'s `--n-datasets`) are appended to keep them
  short: click keeps the last value of an option, so the documented options are otherwise
  unchanged; a command without `--seed` gets `--seed 0`, so its promises do not depend on a
  fresh random seed. A `> FILE` redirection writes the output there.
- The demo's "real output" block is compared with a real run of the same command (full B):
  each line the README shows must appear, in order, in the output (`...` stands for text the
  README leaves out).
- The TOML block is the metric spec file the commands read, the CSV block is read as a table,
  and comments that list a frame's columns are checked against ``to_frame()``.
"""

from __future__ import annotations

import builtins
import functools
import inspect
import json
import re
import shlex
import shutil
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import riskbench
from riskbench.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DATA = ROOT / "tests" / "data"
FEW = "20"  # bootstrap replicates for the commands (the demo block runs with its own B)


def blocks(language: str) -> list[str]:
    return [body for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", README, re.S | re.M)
            if lang == language]


def commands() -> list[str]:
    """Every `riskbench ...` line of the bash blocks, continuation lines joined."""
    found = []
    for body in blocks("bash"):
        for line in body.replace("\\\n", " ").splitlines():
            if line.strip().startswith("riskbench "):
                found.append(" ".join(line.split()))
    return found


def demo_blocks() -> tuple[str, list[str]]:
    """The `$ riskbench ...` command of the real-output text blocks and the lines they show
    (a text block without `$` continues the output of the one before)."""
    command, shown = None, []
    for body in blocks("text"):
        lines = body.rstrip("\n").splitlines()
        if lines[0].startswith("$ "):
            assert command is None, "one real-output command is expected"
            command, lines = lines[0][2:], lines[1:]
        elif "," in lines[0] and " " not in lines[0]:
            continue  # a CSV example, read by test_csv_example_is_a_valid_table
        elif command is None:
            continue
        shown.extend(lines)
    assert command is not None
    return command, shown


# --- the files the README's commands name -------------------------------------------------

MODELS = ("baseline", "gpt-x", "llama-y", "mistral-z")


def write_fixtures(folder: Path) -> None:
    """scores.csv (accuracy, quality, toxicity; passage clusters; a 'baseline' model),
    pilot.csv, gens.csv (3 generations per item), metrics.toml (the README's block),
    generations.jsonl (real IFEval generations), lm-eval-output/ and helm/runs/v4/ (real logs).

    Where the README names a placeholder, a real log takes its name: the HELM Safety run
    folders of harm_bench are `harm_bench:model=a` (Claude 3.5 Sonnet) and `...=b` (Llama 3 8B
    chat), and the lm-eval run of gpt-4o is a model called `org/long-name` (its folder and the
    results' `model_name`).
    """
    rng = np.random.default_rng(14)
    rows = []
    for a, model in enumerate(MODELS):
        for i in range(60):
            passage = i // 3
            rows += [(model, i, passage, "accuracy", float(rng.random() < 0.45 + 0.12 * a)),
                     (model, i, passage, "quality", round(float(rng.normal(0.3 * a, 1)), 4)),
                     (model, i, passage, "toxicity",
                      round(float(rng.beta(2, 20 + 10 * a)), 4))]
    frame = pd.DataFrame(rows, columns=["model", "sample_id", "passage_id", "metric", "value"])
    frame.to_csv(folder / "scores.csv", index=False)
    frame[frame["metric"] == "accuracy"].to_csv(folder / "pilot.csv", index=False)
    gens = [(m, i, s, "accuracy", float(rng.random() < 0.4 + 0.15 * a))
            for a, m in enumerate(MODELS) for i in range(40) for s in range(3)]
    pd.DataFrame(gens, columns=["model", "sample_id", "sample", "metric", "value"]).to_csv(
        folder / "gens.csv", index=False)
    (toml,) = blocks("toml")
    (folder / "metrics.toml").write_text(toml)
    shutil.copy(DATA / "generations" / "ifeval_two_models.jsonl", folder / "generations.jsonl")
    logs = folder / "lm-eval-output"
    shutil.copytree(DATA / "formats" / "lm_eval" / "kt_lm_eval_fork", logs)
    # the README ranks the whole folder: keep the runs that share their metrics (the vfroot
    # model alone ran leaderboard_mmlu_pro and logged winogrande's acc, and a metric of one
    # model cannot be ranked)
    shutil.rmtree(next(logs.glob("__vfroot__*")))
    (logs / "gpt-4o").rename(logs / "org__long-name")
    for results in (logs / "org__long-name").glob("results_*.json"):  # the harness's own name
        results.write_text(results.read_text().replace('"model_name": "gpt-4o"',
                                                       '"model_name": "org/long-name"'))
    runs = folder / "helm" / "runs" / "v4"
    shutil.copytree(DATA / "formats" / "helm" / "helm_safety" / "runs" / "v4", runs)
    for old, new in (("anthropic_claude-3-5-sonnet-20240620", "a"), ("meta_llama-3-8b-chat", "b")):
        (runs / f"harm_bench:model={old}").rename(runs / f"harm_bench:model={new}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    write_fixtures(folder)
    return folder


# What some commands' README comments promise, checked on their output (all others: exit 0
# and no traceback). Keys are substrings of the command.
PROMISES = {
    "rank scores.csv --metric accuracy": ["R-SSD ranking of 4 models on 'accuracy'",
                                          "paired bootstrap"],
    "rank scores.csv --order 1 --test absolute": ["eps-FSD (eps0 = 0.25)", "holm", "seed 7"],
    "rank scores.csv --criterion tvar": ["tvar score ranking"],
    "rank scores.csv --lower-is-better toxicity": [
        "IC portfolio of accuracy, quality, toxicity"],
    "rank scores.csv --portfolio ec": ["EC portfolio"],
    "rank scores.csv --portfolio none": ["Borda count of 3 per-metric"],
    "rank scores.csv --portfolio multivariate": ["multivariate R-FSD", "joint distribution"],
    "rank scores.csv --metric-spec": ["IC portfolio"],
    "select scores.csv": ["Chosen model", "dominates"],
    "stability scores.csv": ["Ranking stability: Kendall tau-b"],
    "power pilot.csv": ["Power of the relative test"],
    "power --effect": ["Power of the relative test (first order)"],
    "rank scores.csv --cluster-col": ["R-SSD ranking of 4 models"],
    "rank gens.csv --repeat-col sample --generations two-stage": ["R-SSD ranking of 4 models"],
    "logs lm-eval-output/ helm/runs/v4/": ["Aggregates the harness reported", "harm_bench",
                                           "winogrande"],
    "rank helm/runs/v4/harm_bench:model=a": [
        "R-SSD ranking of 2 models on 'harm_bench/harm_bench_score,test'"],
    "rank lm-eval-output/ --lenient --model-name": ["short"],
    "rank scores.parquet": ["toxicity (lower is better", "length_chars (lower is better"],
}
FILES = {"report scores.csv": "report.html", "score generations.jsonl": "scores.parquet"}
ORDER = ("score generations.jsonl",)  # commands whose outputs later commands read: run first


def _key(command: str) -> tuple[int, str]:
    return (0 if any(k in command for k in ORDER) else 1, command)


@pytest.mark.parametrize("command", sorted(commands(), key=_key), ids=lambda c: c[:70])
def test_readme_command_runs(command, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    argv = shlex.split(command, comments=True)
    assert argv[0] == "riskbench"
    target = None
    if ">" in argv:
        at = argv.index(">")
        argv, target = argv[:at], argv[at + 1]
    name = argv[1]
    if name in ("rank", "select", "stability", "report"):
        argv += ["--n-resamples", FEW]
    elif name == "power":
        argv += ["--n-datasets", "10", "--n-resamples", "20"]
    if name in ("rank", "select", "stability", "report", "power") and "--seed" not in argv:
        argv += ["--seed", "0"]  # a fresh seed each run would make the promises a lottery
    result = CliRunner().invoke(main, argv[1:])
    output = result.stdout
    assert result.exit_code == 0, f"{command}\n{result.output}"
    assert "Traceback" not in result.output
    if target is not None:
        Path(target).write_text(output)
        json.loads(output, parse_constant=_strict)  # the README pipes it into a .json file
    flat = " ".join(output.split())
    for key, needles in PROMISES.items():
        if command.startswith(f"riskbench {key}"):
            for needle in needles:
                assert needle in flat, f"{command}: {needle!r} not in\n{output}"
    for key, written in FILES.items():
        if key in command:
            assert (workdir / written).stat().st_size > 0


def _strict(token: str):
    raise ValueError(f"JSON holds {token}, which JSON.parse rejects")


def test_every_readme_command_is_covered():
    found = commands()
    assert len(found) >= 20, found
    names = {shlex.split(c, comments=True)[1] for c in found}
    assert names >= {"rank", "select", "stability", "power", "report", "logs", "score"}
    for key in PROMISES:  # a promise about a command the README no longer has is stale
        assert any(c.startswith(f"riskbench {key}") for c in found), key


def test_demo_output_matches_the_readme():
    """The README's real output is the real output: same command, same numbers."""
    command, shown = demo_blocks()
    argv = shlex.split(command)
    result = CliRunner().invoke(main, argv[1:])
    assert result.exit_code == 0, result.output
    flat = " ".join((result.stdout + "\n" + result.stderr).split())  # warnings come last
    at = 0
    for line in shown:
        for fragment in line.split("..."):
            fragment = " ".join(fragment.split())
            if not fragment:
                continue
            found = flat.find(fragment, at)
            assert found >= 0, f"README line not in the output (in order): {line!r}\n" \
                               f"fragment {fragment!r}\noutput:\n{result.stdout}"
            at = found + len(fragment)


def test_csv_example_is_a_valid_table(tmp_path):
    (example,) = [b for b in blocks("text") if b.startswith("model,sample_id,metric,value")]
    path = tmp_path / "scores.csv"
    path.write_text("".join(line + "\n" for line in example.splitlines() if line != "..."))
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["model", "sample_id", "metric", "value"]
    table = riskbench.read_scores(path, align="none")
    assert table.models == ("gpt-x", "llama-y") and table.metrics == ("accuracy",)


# --- Python blocks -------------------------------------------------------------------------

def _few(func):
    """The real function with smaller defaults for its simulation sizes (the caller's own
    arguments always win)."""
    params = inspect.signature(func).parameters
    small = {k: v for k, v in (("n_datasets", 20), ("n_resamples", 100)) if k in params}
    if "n_datasets" not in small:
        return func

    @functools.wraps(func)
    def call(*args, **kwargs):
        return func(*args, **{**small, **kwargs})
    return call


def _quick_riskbench() -> types.ModuleType:
    """riskbench itself, but ``power`` simulates 20 datasets of B = 100 unless told otherwise."""
    module = types.ModuleType("riskbench")
    for name in dir(riskbench):
        value = getattr(riskbench, name)
        setattr(module, name, _few(value) if inspect.isfunction(value) else value)
    return module


def _namespace() -> dict:
    quick = _quick_riskbench()

    def importer(name, *args, **kwargs):
        if name == "riskbench":
            return quick
        return builtins.__import__(name, *args, **kwargs)
    return {"__builtins__": {**builtins.__dict__, "__import__": importer}}


def _statements(body: str) -> list[tuple[str, str]]:
    """(code, comment) of each top-level statement of a block."""
    import ast

    tree = ast.parse(body)
    lines = body.splitlines()
    out = []
    for node in tree.body:
        code = ast.get_source_segment(body, node)
        last = lines[node.end_lineno - 1]
        comment = last.split("#", 1)[1].strip() if "#" in last else ""
        out.append((code, comment))
    return out


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_readme_python_block_runs(index, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    namespace = _namespace()
    checked = 0
    for code, comment in _statements(blocks("python")[index]):
        frame = code.rstrip().endswith("to_frame()") and "=" not in code
        where = f"README.md python block {index}"
        try:
            value = eval(compile(code, where, "eval"), namespace) if frame else \
                exec(compile(code, where, "exec"), namespace)
        except Exception as exc:  # name the statement: the README is what is wrong
            raise AssertionError(f"README statement failed: {code}\n{exc!r}") from exc
        # "a, b, c, ..." names some of the frame's columns ("..." for the rest)
        columns = [c.strip() for c in comment.split(",") if c.strip() != "..."]
        if value is not None and len(columns) > 2 and all(re.fullmatch(r"\w[\w.]*", c)
                                                         for c in columns):
            assert set(columns) <= set(value.columns), (code, list(value.columns))
            checked += 1
    if "ranking" in namespace:
        k = len(namespace["ranking"].models)
        assert namespace["ranking"].decisions.shape == (k, k)  # "(k, k) bool"
        assert namespace["ranking"].decisions.dtype == bool
        assert namespace["ranking"].pvalues_adjusted.shape == (k, k)
        assert checked >= 1  # the to_frame() column list was checked
