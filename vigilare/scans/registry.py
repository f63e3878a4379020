"""The scenario plugins a process scans with: loaded once from the entry points."""

from __future__ import annotations

import functools

from vigilare.config import Settings
from vigilare.jobs import JobContext
from vigilare.scenarios.manager import ScenarioRegistry, load_registry

REGISTRY_KEY = "scenario_registry"


@functools.cache
def _load(blocked: tuple[str, ...]) -> ScenarioRegistry:
    return load_registry(blocked=blocked)


def registry_for(settings: Settings) -> ScenarioRegistry:
    return _load(settings.disabled_plugin_names)


def scenario_registry(ctx: JobContext) -> ScenarioRegistry:
    """The process's registry; a test or embedding can put its own in ``ctx.extras``."""
    registry = ctx.extras.get(REGISTRY_KEY)
    if isinstance(registry, ScenarioRegistry):
        return registry
    return registry_for(ctx.settings)
