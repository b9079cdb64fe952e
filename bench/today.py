"""Today's engine as a baseline in the same process: riskbench at commit c96a759 (main before
the speed work of issue 15), exported from this repository's history as the package
``riskbench_c96a759`` (imports renamed), so both versions run side by side on the same inputs.

    from today import load_today
    old = load_today()          # the module riskbench_c96a759
    old.relative_test(...)

Needs git and the repository history; the export goes to the temporary directory once.
"""

from __future__ import annotations

import importlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMIT = "c96a759"


def load_today(commit: str = COMMIT):
    name = f"riskbench_{commit}"
    base = Path(tempfile.gettempdir()) / f"riskbench-baseline-{commit}"
    package = base / name
    if not (package / "__init__.py").exists():
        blob = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src/riskbench"],
                              capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(base / "raw", filter="data")
        (base / "raw" / "src" / "riskbench").rename(package)
        pattern = re.compile(r"^(\s*)(from|import) riskbench(?=[.\s])", re.M)
        for path in package.rglob("*.py"):
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)} {name}", path.read_text())
            path.write_text(text)
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    return importlib.import_module(name)
