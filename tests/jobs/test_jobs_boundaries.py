"""Who may import what, for the job layer: arq stays behind ``vigilare/jobs``, which knows no domain
(not even the AWS layer); accounts never imports scans (scans builds on accounts); no import hides
inside a function to dodge a cycle; and every module that defines a job is one the executors load."""

from __future__ import annotations

import ast
from pathlib import Path

import vigilare
from vigilare.jobs.registry import JOB_MODULES

ROOT = Path(vigilare.__file__).parent


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), filename=str(path))
    return found


MODULES = _modules()


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_only_the_jobs_package_imports_arq():
    importers = {
        module for module, tree in MODULES.items() if any(_within(name, "arq") for name in _imports(tree))
    }
    assert importers and all(_within(module, "vigilare.jobs") for module in importers), importers


def test_the_jobs_package_knows_no_domain():
    # Infrastructure, not domains: metrics imports nothing of Vigilare.
    # vigilare.outages tells an unreachable database or Redis from other failures (no domain).
    allowed = (
        "vigilare.jobs",
        "vigilare.config",
        "vigilare.db",
        "vigilare.ids",
        "vigilare.lifecycle",
        "vigilare.metrics",
        "vigilare.outages",
    )
    for module, tree in MODULES.items():
        if _within(module, "vigilare.jobs"):
            foreign = {
                name
                for name in _imports(tree)
                if _within(name, "vigilare") and name != "vigilare" and not name.startswith(allowed)
            }
            assert not foreign, (module, foreign)


def test_accounts_never_imports_scans():
    for module, tree in MODULES.items():
        if _within(module, "vigilare.accounts"):
            assert not any(_within(name, "vigilare.scans") for name in _imports(tree)), module


def test_no_function_level_imports_in_the_domains_that_had_a_cycle():
    for module, tree in MODULES.items():
        if not any(_within(module, p) for p in ("vigilare.accounts", "vigilare.scans", "vigilare.jobs")):
            continue
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                hidden = [n for n in ast.walk(function) if isinstance(n, ast.Import | ast.ImportFrom)]
                assert not hidden, f"{module}.{function.name} imports inside the function"


def test_every_module_that_defines_a_job_is_loaded_by_the_executors():
    def defines_a_job(tree: ast.Module) -> bool:
        for node in ast.walk(tree):
            if isinstance(node, ast.AsyncFunctionDef):
                for decorator in node.decorator_list:
                    call = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if isinstance(call, ast.Name) and call.id == "job":
                        return True
        return False

    defining = {module for module, tree in MODULES.items() if defines_a_job(tree)}
    assert defining == set(JOB_MODULES)
