"""Missing optional packages: every command and API entry point that needs one fails with the
exact ``pip install "riskbench[...]"`` line (CLI exit 2), never a traceback.

Each case runs in a fresh interpreter whose import system refuses the package (a meta-path
finder raising ModuleNotFoundError, as Python does when a package is not installed), so the
real riskbench code paths run; nothing of riskbench is mocked.
"""

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from riskbench._extras import EXTRAS, install_line

ROOT = Path(__file__).resolve().parents[1]

# Prepended to every child program: refuse the top-level packages named in argv[1].
REFUSE = textwrap.dedent("""
    import sys

    class _Refuse:
        def __init__(self, names):
            self.names = set(names)

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.names:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _Refuse(sys.argv[1].split(",")))
    """)

# Helpers of the child program: run the CLI in-process, or call an API entry point.
CHILD = textwrap.dedent("""
    import contextlib, io, json, pathlib
    results = {}

    def cli(key, *args):
        from riskbench.cli import main
        out, err = io.StringIO(), io.StringIO()
        code = None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args), prog_name="riskbench")
            except SystemExit as exc:
                code = exc.code
        results[key] = {"code": code, "stderr": err.getvalue(), "stdout": out.getvalue()}

    def api(key, call):
        try:
            call()
        except Exception as exc:
            results[key] = {"type": type(exc).__name__, "message": str(exc),
                            "extra": getattr(exc, "extra", "-")}
        else:
            results[key] = {"type": None}
    """)


def run_hidden(modules: str, body: str, tmp_path: Path) -> dict:
    program = REFUSE + CHILD + textwrap.dedent(body) + "\nprint(json.dumps(results))\n"
    out = subprocess.run([sys.executable, "-c", program, modules], capture_output=True,
                         text=True, cwd=tmp_path, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def table_csv(tmp_path: Path) -> Path:
    path = tmp_path / "s.csv"
    path.write_text("model,sample_id,metric,value\n" + "".join(
        f"{m},{i},acc,{(i * 7 + shift) % 10 / 10}\n" for m, shift in (("a", 3), ("b", 0))
        for i in range(30)))
    return path


def generations(tmp_path: Path) -> Path:
    path = tmp_path / "g.jsonl"
    path.write_text("".join(json.dumps({
        "model": m, "item": i, "prompt": "Answer in French, please.",
        "response": "Bonjour, je suis un modèle." if m == "a" else "Hello there.",
        "instruction_id_list": ["language:response_language"],
        "kwargs": [{"language": "fr"}]}) + "\n" for m in ("a", "b") for i in range(3)))
    return path


def assert_refused(result: dict, module: str) -> None:
    """A CLI result: exit 2, one line naming the install command, no traceback."""
    assert result["code"] == 2, result
    assert install_line(module) in result["stderr"], result["stderr"]
    assert "Traceback" not in result["stderr"] and "internal error" not in result["stderr"]


def test_extras_named_in_messages_exist_in_pyproject():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for module, (extra, dist) in EXTRAS.items():
        if extra is None:
            continue
        assert any(req.split(">")[0].split("=")[0].strip() == dist for req in extras[extra]), \
            (module, extra)
    assert install_line("matplotlib") == 'pip install "riskbench[report]"'


def test_report_without_matplotlib(tmp_path):
    scores = table_csv(tmp_path)
    out = run_hidden("matplotlib", f"""
        import riskbench
        table = riskbench.read_scores({str(scores)!r})
        ranking = riskbench.rank(table, n_resamples=20, seed=0, backend="numpy")  # no JIT
        cli("report", "report", {str(scores)!r}, "-o", "r.html", "--n-resamples", "20")
        from riskbench.report import render_report, write_report
        api("render", lambda: render_report(ranking))
        api("write", lambda: write_report("w.html", ranking))
        api("plots", lambda: __import__("riskbench.report.plots"))
        api("notebook", lambda: ranking._repr_html_())  # tables only: no matplotlib needed
        results["files"] = sorted(p.name for p in pathlib.Path(".").iterdir())
        results["loaded"] = "matplotlib" in sys.modules
        """, tmp_path)
    assert_refused(out["report"], "matplotlib")
    assert "the HTML report needs matplotlib, which is not installed" in out["report"]["stderr"]
    for key, what in (("render", "the HTML report"), ("write", "the HTML report"),
                      ("plots", "riskbench.report.plots")):
        assert out[key]["type"] == "MissingExtraError" and out[key]["extra"] == "report"
        assert out[key]["message"] == (f"{what} needs matplotlib, which is not installed: "
                                       'pip install "riskbench[report]"')
    assert out["notebook"]["type"] is None
    assert out["files"] == ["s.csv"] and out["loaded"] is False  # no report file left behind


def test_report_entry_point_without_matplotlib(tmp_path):
    # the installed command as a user runs it (python -m riskbench.cli), demo data
    program = REFUSE + textwrap.dedent("""
        import runpy
        sys.argv = ["riskbench", "report", "-o", "report.html", "--n-resamples", "20"]
        runpy.run_module("riskbench.cli", run_name="__main__")
        """)
    out = subprocess.run([sys.executable, "-c", program, "matplotlib"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=300, check=False)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == ("error: the HTML report needs matplotlib, which is not "
                                  'installed: pip install "riskbench[report]"')
    assert list(tmp_path.iterdir()) == []


BACKENDS = {"torch": "torch", "dask": "distributed", "numba": "numba"}


def test_backends_without_their_packages(tmp_path):
    # one interpreter without torch, distributed and numba: each backend names its own line
    scores = table_csv(tmp_path)
    calls = "".join(f"""
cli("cli rank {b}", "rank", {str(scores)!r}, "--backend", {b!r}, "--n-resamples", "20")
cli("cli select {b}", "select", {str(scores)!r}, "--backend", {b!r}, "--n-resamples", "20")
api("rank {b}", lambda: riskbench.rank(table, backend={b!r}, n_resamples=20))
api("bootstrap {b}", lambda: riskbench.bootstrap(table.samples(), backend={b!r}, n_resamples=20))
""" for b in BACKENDS)
    out = run_hidden(",".join(BACKENDS.values()), f"""
import riskbench
table = riskbench.read_scores({str(scores)!r})
{calls}
api("auto", lambda: riskbench.rank(table, n_resamples=20, seed=0))
""", tmp_path)
    for backend, module in BACKENDS.items():
        assert_refused(out[f"cli rank {backend}"], module)
        assert_refused(out[f"cli select {backend}"], module)
        for key in (f"rank {backend}", f"bootstrap {backend}"):
            assert out[key]["type"] == "MissingExtraError", out[key]
            assert out[key]["message"] == (f"backend={backend!r} needs {module}, which is not "
                                           f"installed: {install_line(module)}")
    assert out["auto"]["type"] is None  # auto falls back to numpy without numba


def test_scorers_without_their_packages(tmp_path):
    gens = generations(tmp_path)
    out = run_hidden("profanity_check,langdetect,tiktoken", f"""
        cli("toxicity", "score", {str(gens)!r}, "--scorer", "toxicity", "-o", "t.csv")
        cli("ifeval", "score", {str(gens)!r}, "--scorer", "ifeval", "-o", "i.csv")
        cli("length", "score", {str(gens)!r}, "--scorer", "length", "-o", "l.csv", "--json")
        from riskbench.scorers import score
        from riskbench.scorers.ifeval import score_ifeval
        from riskbench.scorers.toxicity import toxicity_scores
        api("score", lambda: score({str(gens)!r}, scorers=["length", "toxicity"]))
        api("toxicity_scores", lambda: toxicity_scores(["hello"]))
        api("score_ifeval", lambda: score_ifeval([{{
            "prompt": "p", "response": "Bonjour", "instruction_id_list":
            ["language:response_language"], "kwargs": [{{"language": "fr"}}]}}]))
        results["files"] = sorted(p.name for p in pathlib.Path(".").iterdir())
        """, tmp_path)
    assert_refused(out["toxicity"], "profanity_check")
    assert "the toxicity scorer (alt-profanity-check ships its model) needs " \
           "alt-profanity-check, which is not installed" in out["toxicity"]["stderr"]
    assert_refused(out["ifeval"], "langdetect")
    assert "the ifeval scorer (its language checks) needs langdetect" in out["ifeval"]["stderr"]
    assert out["length"]["code"] == 0  # length needs neither; tiktoken's absence is a note
    notes = json.loads(out["length"]["stdout"])["notes"]
    assert notes == ["length_tokens skipped: tokens are counted by tiktoken, and tiktoken is "
                     'not installed: pip install "riskbench[tokens]"']
    for key, extra in (("score", "scorers"), ("toxicity_scores", "scorers"),
                       ("score_ifeval", "scorers")):
        assert out[key]["type"] == "MissingExtraError" and out[key]["extra"] == extra, out[key]
        assert 'pip install "riskbench[scorers]"' in out[key]["message"]
    assert out["files"] == ["g.jsonl", "l.csv"]


def test_installed_but_broken_package_is_named(tmp_path):
    # a package that is present but fails to import (here: one of its own dependencies is
    # refused) must not be reported as "not installed"
    out = run_hidden("pyparsing", """
        from riskbench._extras import require
        api("broken", lambda: require("matplotlib", needed_by="the HTML report"))
        """, tmp_path)
    assert out["broken"]["type"] == "MissingExtraError"
    assert out["broken"]["message"].startswith(
        "the HTML report needs matplotlib, which is installed but fails to import "
        "(ModuleNotFoundError: No module named 'pyparsing')")
