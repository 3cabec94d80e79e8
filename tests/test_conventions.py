"""House rules for the test tree that a reviewer would otherwise have to remember.

One helper convention: a folder's constants, classes and plain functions live in its
`helpers.py`; its `conftest.py` holds fixtures only. Nothing imports a conftest: pytest loads
conftests itself (under a module name of its choosing), so importing one by hand can load it a
second time under another name, with its own copies of every constant and class.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def _python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in a module, relative ones with their dots."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append((node.lineno, base))
            # `from . import conftest` names the module in the alias, not in `module`.
            found += [(node.lineno, f"{base}.{alias.name}".lstrip(".") if node.module
                       else base + alias.name) for alias in node.names]
    return found


def _conftest_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(TESTS.parent)}:{line}: imports {name}"
            for line, name in _imported_modules(tree)
            if "conftest" in name.lstrip(".").split(".")]


def test_the_scanner_sees_every_spelling() -> None:
    """The check below would pass vacuously if it missed a form of import."""
    for source in ("from tests.sink.conftest import X", "from .conftest import X",
                   "from conftest import X", "import conftest", "from . import conftest",
                   "import tests.rules.conftest as c",
                   "def f():\n    from tests.sink.conftest import X"):
        names = [name for _line, name in _imported_modules(ast.parse(source))]
        assert any("conftest" in n.lstrip(".").split(".") for n in names), source
    names = [n for _l, n in _imported_modules(ast.parse("from tests.sink.helpers import X"))]
    assert not any("conftest" in n.split(".") for n in names)


def test_no_module_imports_from_a_conftest() -> None:
    offenders = [hit for path in _python_files() for hit in _conftest_imports(path)]
    assert not offenders, "import names from the folder's helpers.py instead:\n" + "\n".join(
        offenders)


@pytest.mark.parametrize("conftest", sorted(TESTS.rglob("conftest.py")),
                         ids=lambda p: str(p.relative_to(TESTS)))
def test_conftests_hold_fixtures_only(conftest: Path) -> None:
    """Every function at a conftest's top level is a fixture (or a pytest hook), and it binds
    no constants or classes: those belong in helpers.py, where tests can import them."""
    tree = ast.parse(conftest.read_text(encoding="utf-8"))
    problems = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            is_fixture = any("fixture" in ast.unparse(d) for d in node.decorator_list)
            if not (is_fixture or node.name.startswith("pytest_")):
                problems.append(f"function {node.name} (line {node.lineno})")
        elif isinstance(node, ast.ClassDef):
            problems.append(f"class {node.name} (line {node.lineno})")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            problems.append(f"{ast.unparse(node).split('=')[0].strip()} (line {node.lineno})")
    assert not problems, f"{conftest.name} defines non-fixtures; move them to helpers.py: " \
        f"{problems}"
