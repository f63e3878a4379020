"""The scenario plugins a process scans with: loaded at start-up, from the entry points.

:func:`load_at_startup` is a start-up hook (``vigilare.lifecycle``): the API and the worker run it
before they serve or take a job, so a broken plugin stops the process with a message naming it
instead of failing scans later. Scan jobs then
read the registry of their process; one that meets a load error anyway fails its scan (never
leaves it running).
"""

from __future__ import annotations

import logging

from vigilare import lifecycle
from vigilare.config import Settings
from vigilare.jobs import JobContext
from vigilare.scenarios.manager import PluginSelection, ScenarioRegistry, inspect_plugins

REGISTRY_KEY = "scenario_registry"

logger = logging.getLogger("vigilare.plugins")

_loaded: dict[PluginSelection, ScenarioRegistry] = {}


def plugin_selection(settings: Settings) -> PluginSelection:
    """VIGILARE_PLUGINS and VIGILARE_DISABLED_PLUGINS, as the loader applies them."""
    return PluginSelection.of(allowed=settings.allowed_plugin_names, blocked=settings.disabled_plugin_names)


def load_at_startup(settings: Settings) -> ScenarioRegistry:
    """Load the plugins afresh; raises :class:`~vigilare.scenarios.manager.PluginLoadError` naming
    the broken plugin. Later :func:`registry_for` calls of this process reuse the result."""
    selection = plugin_selection(settings)
    report = inspect_plugins(selection=selection)
    for name in report.unknown_names:
        logger.warning(
            "VIGILARE_PLUGINS / VIGILARE_DISABLED_PLUGINS name %r, but no installed scenario plugin has "
            "that name",
            name,
        )
    for plugin in report.plugins:
        if plugin.status in ("blocked", "not allowed"):
            logger.info("scenario plugin %s not loaded: %s", plugin.name, plugin.reason)
    report.raise_for_errors()
    for warning in report.warnings:
        logger.warning("%s", warning)
    registry = report.registry
    logger.info(
        "scenario plugins loaded: %s (%d scenarios)",
        ", ".join(plugin.name for plugin in registry.plugins),
        len(registry.scenarios),
    )
    _loaded[selection] = registry
    return registry


@lifecycle.on_startup
def _load_plugins(settings: Settings) -> None:
    load_at_startup(settings)


def registry_for(settings: Settings) -> ScenarioRegistry:
    """The registry loaded for this configuration (loaded now if start-up did not)."""
    registry = _loaded.get(plugin_selection(settings))
    return registry if registry is not None else load_at_startup(settings)


def scenario_registry(ctx: JobContext) -> ScenarioRegistry:
    """The process's registry; a test or embedding can put its own in ``ctx.extras``."""
    registry = ctx.extras.get(REGISTRY_KEY)
    if isinstance(registry, ScenarioRegistry):
        return registry
    return registry_for(ctx.settings)
