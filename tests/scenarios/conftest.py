"""Installing throw-away scenario plugins for a test: a real ``*.dist-info`` on ``sys.path``.

The loader finds them through ``importlib.metadata`` exactly as it finds a pip-installed plugin,
so selection, import and error reporting are exercised on their real path.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.plugins import InstallPlugin


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    """A folder of installed test distributions; put it on PYTHONPATH for a subprocess."""
    site = tmp_path / "site-packages"
    site.mkdir()
    return site


@pytest.fixture
def install_plugin(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InstallPlugin]:
    modules: list[str] = []

    def install(
        name: str, source: str, *, distribution: str = "acme-scenarios", version: str = "1.2.3"
    ) -> str:
        module = f"acme_plugin_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        (plugin_site / f"{module}.py").write_text(textwrap.dedent(source))
        dist_info = plugin_site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir(exist_ok=True)
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
        )
        entry_points = dist_info / "entry_points.txt"
        existing = entry_points.read_text() if entry_points.exists() else "[vigilare.scenarios]\n"
        entry_points.write_text(f"{existing}{name} = {module}\n")
        modules.append(module)
        importlib.invalidate_caches()
        return module

    monkeypatch.syspath_prepend(str(plugin_site))
    yield install
    for module in modules:
        sys.modules.pop(module, None)
