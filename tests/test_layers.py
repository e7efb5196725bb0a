"""The package is a house of layers: each imports only those below it, none over 600 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kamabm"
#: Bottom to top; a module may import its own layer and those below it.
LAYERS = ("model", "names", "stats", "experiments", "analysis", "report", "diagnosis",
          ("app", "cli"))
MAX_LINES = 600
MAX_TOP_LEVEL = 12


def _layer(name: str) -> int | None:
    for rank, layer in enumerate(LAYERS):
        if name in (layer if isinstance(layer, tuple) else (layer,)):
            return rank
    return None


def _imported(tree: ast.AST) -> list[str]:
    """Every kamabm module a file imports, at any depth (imports inside functions too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            if node.module == "kamabm":
                found += [f"kamabm.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [name for name in found if name.startswith("kamabm.")]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE
                 or p.stem in ("names", "stats"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_a_module_imports_only_its_own_layer_and_those_below(path):
    own = _layer(path.relative_to(PACKAGE).parts[0].removesuffix(".py"))
    assert own is not None, f"{path} is in no layer"
    upward = [name for name in _imported(ast.parse(path.read_text(encoding="utf-8")))
              if (_layer(name.split(".")[1]) or 0) > own]
    assert not upward, f"{path.relative_to(PACKAGE)} imports a layer above it: {upward}"


def test_the_layer_test_sees_an_upward_import():
    tree = ast.parse("def f():\n    from kamabm.report.html import write_report\n")
    assert _imported(tree) == ["kamabm.report.html"]
    assert _layer("report") > _layer("analysis")


def test_no_module_is_over_600_lines_and_the_top_level_holds_a_dozen_at_most():
    long = {p.relative_to(PACKAGE).as_posix(): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long
    assert len(list(PACKAGE.glob("*.py"))) <= MAX_TOP_LEVEL
