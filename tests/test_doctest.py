"""Docstring examples are tests: every ``>>>`` example in src/riskbench runs under doctest.

Only modules whose source holds an example are imported (importing every module would load
torch and distributed for nothing). An example that cannot run here (a file the reader does not
have) carries ``# doctest: +SKIP``; the test counts those too, so skipping cannot become the
norm unnoticed.
"""

import doctest
import importlib
from pathlib import Path

import pytest

import riskbench

SRC = Path(riskbench.__file__).parent


def modules_with_examples() -> list[str]:
    names = []
    for path in sorted(SRC.rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(SRC.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("name", modules_with_examples())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran = 0
    for test in finder.find(module, name):
        if test.examples:
            result = runner.run(test, out=lambda text: print(text, end=""))
            assert result.failed == 0, f"{test.name}: {result.failed} example(s) failed"
            ran += result.attempted
    assert ran > 0, f"{name} has '>>>' in its source but doctest found no example"


def test_examples_mostly_run():
    examples = skipped = 0
    for name in modules_with_examples():
        for test in doctest.DocTestFinder().find(importlib.import_module(name), name):
            for example in test.examples:
                examples += 1
                skipped += bool(example.options.get(doctest.SKIP))
    assert examples >= 10 and skipped <= examples // 3, (examples, skipped)
