"""`core/` is the bottom layer: no module in it imports any other package of the app."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core"


def app_packages() -> set[str]:
    """Return every top-level module and package of the app except core itself."""
    names = {path.stem for path in ROOT.glob("*.py")}
    names |= {
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and not path.name.startswith(".") and any(path.glob("*.py"))
    }
    return names - {"core"}


def imported_names(path: Path) -> set[str]:
    """Return the top-level names a module imports, anywhere in it (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level > 1:  # climbs out of core/
                found.add("<above core>")
    return found


def test_the_app_packages_are_found():
    expected = {"app", "blueprints", "cli", "clients", "demo", "models", "services", "upstreams"}
    assert expected <= app_packages()


def test_core_imports_nothing_else_of_the_app():
    forbidden = app_packages() | {"<above core>"}
    modules = sorted(CORE.rglob("*.py"))
    assert modules
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_names(path) & forbidden)
        for path in modules
        if imported_names(path) & forbidden
    }
    assert wrong == {}
