"""Built-in scenarios are written exactly as a third-party plugin is: from Vigilare they import
``vigilare.plugin`` and nothing else. Like a plugin's own modules, a built-in scenario may import its
sibling helper modules (``compute`` reads its fleet rules from ``compute_fleets``), which obey the
same rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vigilare.scenarios.builtin

BUILTIN_DIR = Path(vigilare.scenarios.builtin.__file__).parent
BUILTIN_MODULES = sorted(path for path in BUILTIN_DIR.glob("*.py") if path.name != "__init__.py")


def vigilare_imports(path: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                imported.add("." * node.level + (node.module or ""))  # relative: always inside vigilare
            elif node.module:
                imported.add(node.module)
    return {name for name in imported if name.startswith((".", "vigilare"))}


@pytest.mark.parametrize("path", BUILTIN_MODULES, ids=[path.stem for path in BUILTIN_MODULES])
def test_a_builtin_scenario_imports_only_the_public_plugin_module(path: Path) -> None:
    siblings = {f"vigilare.scenarios.builtin.{module.stem}" for module in BUILTIN_MODULES}
    assert vigilare_imports(path) - siblings <= {"vigilare.plugin"}


def test_every_builtin_scenario_module_is_checked() -> None:
    assert {path.stem for path in BUILTIN_MODULES} >= {"iam", "exposure", "threat", "abuse", "billing"}
