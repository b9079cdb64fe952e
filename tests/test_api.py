"""Package-level contracts: the curated public API and the layering of the numeric core."""

import ast
import inspect
from importlib import resources
from pathlib import Path

import riskbench

SRC = Path(riskbench.__file__).parent
NUMERIC_CORE = ("dominance.py", "inference.py", "ranking.py", "risk.py", "_samples.py",
                "errors.py", "portfolio.py", "agreement.py", "selection.py", "multivariate.py")
ALLOWED_TOP = {"numpy", "scipy", "riskbench", "__future__", "math", "warnings", "secrets",
               "collections", "dataclasses", "typing", "fractions", "re",
               "os", "concurrent", "threading",  # stdlib: cores, threads (and their
                                                 # reused buffers) for the OT pairs
               "hashlib", "weakref",  # what is computed once per (unchanged) input
               "contextlib"}  # scoped warning filters


def test_all_is_curated_and_complete():
    assert len(riskbench.__all__) == len(set(riskbench.__all__))
    for name in riskbench.__all__:
        assert hasattr(riskbench, name), name
    public = {n for n in dir(riskbench) if not n.startswith("_")}
    submodules = {n for n in public if inspect.ismodule(getattr(riskbench, n))}
    assert public - submodules == set(riskbench.__all__) - {"__version__"}


def test_numeric_core_imports_only_numpy_and_scipy():
    for name in NUMERIC_CORE:
        tree = ast.parse((SRC / name).read_text())
        for node in tree.body:  # module level only: pandas may be imported lazily in to_frame
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert roots <= ALLOWED_TOP, f"{name} imports {roots - ALLOWED_TOP}"
            if "riskbench" in roots and isinstance(node, ast.ImportFrom):
                assert node.module.split(".")[1] not in ("table", "cli", "demo"), name


def test_package_ships_typing_marker_and_demo_data():
    files = resources.files("riskbench")
    assert (files / "py.typed").is_file()
    assert (files / "data" / "alpacaeval2_demo.csv.gz").is_file()
    assert (files / "data" / "SOURCE.md").is_file()


def test_readme_opens_with_two_setup_commands_and_ci_runs_the_test_one():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2
    assert "riskbench demo" in block[0] and "pytest" in block[1]
    assert block[1] in (root / ".ci" / "run").read_text()


def test_import_stays_light():
    # every CLI call pays the import: scipy.stats (~1 s) and scipy.integrate are loaded only
    # where used (Kendall tau, the calibration's exact truths)
    import subprocess
    import sys

    code = ("import sys, riskbench; "
            "print(sorted(m for m in ('scipy.stats', 'scipy.integrate', 'scipy.optimize', "
            "'matplotlib', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bare_import_loads_nothing_heavy_and_names_resolve_on_use():
    # issue 15: `import riskbench` <= 0.5 s; names are imported on first use (PEP 562)
    import subprocess
    import sys

    code = ("import sys, riskbench; heavy = ('numpy', 'pandas', 'scipy', 'numba', 'pyarrow', "
            "'rich'); print(sorted(m for m in heavy if m in sys.modules)); "
            "print(riskbench.rank.__module__, riskbench.power.__module__, "
            "type(riskbench.dominance).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.splitlines() == ["[]", "riskbench.ranking riskbench.power module"]
    try:
        riskbench.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert str(exc) == "module 'riskbench' has no attribute 'no_such_name'"
    else:  # pragma: no cover
        raise AssertionError("no AttributeError")
