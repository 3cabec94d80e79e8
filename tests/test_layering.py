"""Import layering, read from the source (every import, including ones inside functions):

passback (code location, CLI) -> assets -> checks -> pipeline infrastructure; tooling apart.
- an asset module imports no asset module of another layer (extract, transform, sink);
- checks/ imports no asset module;
- pipeline/ imports no rule module (checks/) and no asset module;
- nothing below passback/ imports it, and no production module imports tooling/.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = "passback"
TOOLING = "tooling"
_LAYERS = {p.name for p in (ROOT / "assets").iterdir() if (p / "__init__.py").exists()}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module a file imports (relative imports resolved)."""
    found: set[str] = set()
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            # `from pkg import mod` names a module too
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _violations(module: str, imported: set[str]) -> list[str]:
    bad = [n for n in imported if _under(n, TOOLING)]
    if not _under(module, TOP):
        bad += [n for n in imported if _under(n, TOP)]
    if _under(module, "assets"):
        layer = module.split(".")[1] if module.count(".") >= 1 else None
        bad += [n for n in imported if _under(n, "assets") and n.count(".") >= 1
                and n.split(".")[1] != layer and n.split(".")[1] in _LAYERS]
    elif _under(module, "checks"):
        bad += [n for n in imported if _under(n, "assets")]
    elif _under(module, "pipeline"):
        bad += [n for n in imported if _under(n, "assets") or _under(n, "checks")]
    return sorted(bad)


MODULES = sorted(p for package in ("passback", "pipeline", "assets", "checks")
                 for p in (ROOT / package).rglob("*.py"))


def test_the_layers_are_the_expected_ones() -> None:
    assert sorted(_LAYERS) == ["extract", "sink", "transform"]
    assert len(MODULES) > 50


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sideways_imports(path: Path) -> None:
    module = _module_name(path)
    assert _violations(module, _imports(path)) == [], f"{module} imports across layers"


def test_the_rule_catches_what_it_should() -> None:
    assert _violations("assets.sink.sis_sync", {"assets.transform.passback_rules"})
    assert _violations("checks.asset_checks", {"assets.transform.candidates"})
    assert _violations("pipeline.report.data", {"checks.evaluate"})
    assert _violations("pipeline.orchestration", {"passback.definitions"})
    assert _violations("assets.sink.sis_sync", {"passback.summary"})
    assert _violations("pipeline.sink.run", {"tooling.sandbox"})
    assert _violations("passback.cli", {"tooling.demo"})
    assert not _violations("passback.run", {"passback.definitions", "assets.extract"})
    assert not _violations("assets.transform.quality_report", {"checks.report.data"})
