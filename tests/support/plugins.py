"""Throw-away scenario plugins for tests (installed by the `install_plugin` fixture of
tests/scenarios): sources of a working plugin and of one that fails on import."""

from __future__ import annotations

from collections.abc import Callable

InstallPlugin = Callable[..., str]
"""``install_plugin(entry_point_name, source, distribution=..., version=...) -> module name``."""


SCENARIO_PLUGIN = """
from vigilare.plugin import CollectedData, Finding, Scenario, hookimpl

class {cls}(Scenario):
    id = "{scenario_id}"
    title = "A test scenario"
    requires = ("iam.users",)

    async def detect(self, data: CollectedData) -> list[Finding]:
        return []

@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [{cls}]
"""


def scenario_plugin(scenario_id: str) -> str:
    """Source of a working plugin module registering one scenario with id ``scenario_id``."""
    cls = "".join(part.title() for part in scenario_id.split("-"))
    return SCENARIO_PLUGIN.format(cls=cls, scenario_id=scenario_id)


BROKEN_ON_IMPORT = """
raise RuntimeError("acme plugin cannot start: ACME_LICENSE_KEY is not set")
"""
