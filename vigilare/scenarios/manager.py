"""Loads scenario plugins from the ``vigilare.scenarios`` entry-point group (built-ins included).

Built-in scenarios and collectors are entry points of the ``vigilare`` distribution itself, so they
take the very path a third-party plugin takes. Conflicts are refused loudly at load time: a scan
must never silently run someone else's detector under a built-in's id.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import MappingProxyType
from typing import Any

import pluggy

from vigilare.plugin import PROJECT_NAME, Collector, Scenario
from vigilare.scenarios import hookspecs
from vigilare.scenarios.model import emits_error

ENTRY_POINT_GROUP = "vigilare.scenarios"
BUILTIN_ORIGIN = "builtin"


class PluginLoadError(Exception):
    """A plugin could not be loaded or conflicts with another one; the message names both sides."""


class DuplicateScenarioError(PluginLoadError):
    pass


@dataclass(frozen=True, slots=True)
class PluginSource:
    """A plugin object to register, with where it came from (an entry point, or a test)."""

    name: str
    plugin: object
    origin: str
    version: str

    @property
    def is_builtin(self) -> bool:
        return self.origin == BUILTIN_ORIGIN

    def describe(self) -> str:
        kind = "built-in plugin" if self.is_builtin else f"plugin from distribution {self.origin!r}"
        return f"{kind} {self.name!r}"


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One loaded plugin, as ``vigilare plugins`` shows it."""

    name: str
    version: str
    origin: str
    scenario_ids: tuple[str, ...]
    collector_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScenarioRegistry:
    """Everything the loaded plugins registered."""

    scenarios: Mapping[str, type[Scenario]]
    collectors: Mapping[str, Collector]
    plugins: tuple[PluginInfo, ...] = field(default=())

    def select(self, scenario_ids: Iterable[str] | None = None) -> list[type[Scenario]]:
        """The scenarios to run: all of them, or the named ones (an unknown id is a KeyError)."""
        if scenario_ids is None:
            return list(self.scenarios.values())
        return [self.scenarios[scenario_id] for scenario_id in scenario_ids]


def entry_point_sources(group: str = ENTRY_POINT_GROUP) -> list[PluginSource]:
    """Import every plugin of the entry-point group; an import failure names the plugin."""
    sources = []
    for entry_point in metadata.entry_points(group=group):
        distribution = entry_point.dist
        dist_name = distribution.metadata["Name"] if distribution is not None else "unknown"
        version = distribution.version if distribution is not None else "unknown"
        origin = BUILTIN_ORIGIN if dist_name == PROJECT_NAME else dist_name
        try:
            plugin = entry_point.load()
        except Exception as exc:
            raise PluginLoadError(
                f"scenario plugin {entry_point.name!r} ({entry_point.value}) from {dist_name!r} "
                f"failed to import: {exc!r}"
            ) from exc
        sources.append(PluginSource(name=entry_point.name, plugin=plugin, origin=origin, version=version))
    return sources


def load_registry(
    *,
    group: str = ENTRY_POINT_GROUP,
    extra_plugins: Sequence[PluginSource] = (),
    blocked: Collection[str] = (),
) -> ScenarioRegistry:
    """Load the entry-point plugins (minus ``blocked`` plugin names) plus ``extra_plugins``."""
    sources = [source for source in entry_point_sources(group) if source.name not in blocked]
    sources += list(extra_plugins)
    # Built-ins first, so a conflict is always reported against the built-in that owns the name.
    sources.sort(key=lambda source: (not source.is_builtin, source.name))
    manager = _plugin_manager(sources)
    by_name = {source.name: source for source in sources}

    scenarios: dict[str, type[Scenario]] = {}
    scenario_owner: dict[str, PluginSource] = {}
    collectors: dict[str, Collector] = {}
    collector_owner: dict[str, PluginSource] = {}
    registered: dict[str, tuple[list[str], list[str]]] = {source.name: ([], []) for source in sources}

    for source, result in _hook_results(manager, "vigilare_collectors", by_name):
        for collector in result:
            if not isinstance(collector, Collector):
                raise PluginLoadError(f"{source.describe()} returned {collector!r}, not a Collector")
            if collector.key in collectors:
                raise PluginLoadError(
                    f"{source.describe()} registers data key {collector.key!r}, already collected by "
                    f"{collector_owner[collector.key].describe()}"
                )
            collectors[collector.key] = collector
            collector_owner[collector.key] = source
            registered[source.name][1].append(collector.key)

    for source, result in _hook_results(manager, "vigilare_scenarios", by_name):
        for scenario in result:
            _check_scenario_class(scenario, source)
            if scenario.id in scenarios:
                raise DuplicateScenarioError(
                    f"{source.describe()} registers scenario id {scenario.id!r} "
                    f"({scenario.__module__}.{scenario.__qualname__}), already taken by "
                    f"{scenario_owner[scenario.id].describe()} "
                    f"({scenarios[scenario.id].__module__}.{scenarios[scenario.id].__qualname__})"
                )
            scenarios[scenario.id] = scenario
            scenario_owner[scenario.id] = source
            registered[source.name][0].append(scenario.id)

    for scenario_id, scenario in scenarios.items():
        missing = [key for key in scenario.requires if key not in collectors]
        if missing:
            raise PluginLoadError(
                f"scenario {scenario_id!r} of {scenario_owner[scenario_id].describe()} requires data "
                f"{missing}, which no loaded collector provides"
            )

    plugins = tuple(
        PluginInfo(
            name=source.name,
            version=source.version,
            origin=source.origin,
            scenario_ids=tuple(registered[source.name][0]),
            collector_keys=tuple(registered[source.name][1]),
        )
        for source in sources
    )
    return ScenarioRegistry(
        scenarios=MappingProxyType(scenarios), collectors=MappingProxyType(collectors), plugins=plugins
    )


def list_plugins(*, group: str = ENTRY_POINT_GROUP) -> list[PluginInfo]:
    """Name, version, origin (``builtin`` or the distribution name) and scenario ids of each plugin."""
    return list(load_registry(group=group).plugins)


def _plugin_manager(sources: Sequence[PluginSource]) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for source in sources:
        try:
            manager.register(source.plugin, name=source.name)
        except ValueError as exc:
            raise PluginLoadError(f"cannot register {source.describe()}: {exc}") from exc
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"{source.describe()} has an invalid hook: {exc}") from exc
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(f"a plugin implements a hook Vigilare does not define: {exc}") from exc
    return manager


def _hook_results(
    manager: pluggy.PluginManager, hook_name: str, by_name: Mapping[str, PluginSource]
) -> list[tuple[PluginSource, list[Any]]]:
    """Call each plugin's implementation separately, so every registration is attributed to its plugin."""
    caller = getattr(manager.hook, hook_name)
    results = []
    for implementation in caller.get_hookimpls():
        source = by_name[implementation.plugin_name]
        result = implementation.function()
        if not isinstance(result, list | tuple):
            raise PluginLoadError(f"{source.describe()}: {hook_name}() must return a list, got {result!r}")
        results.append((source, list(result)))
    results.sort(key=lambda item: (not item[0].is_builtin, item[0].name))
    return results


def _check_scenario_class(scenario: object, source: PluginSource) -> None:
    if not (isinstance(scenario, type) and issubclass(scenario, Scenario)):
        raise PluginLoadError(f"{source.describe()} returned {scenario!r}, not a Scenario subclass")
    scenario_id = getattr(scenario, "id", None)
    if not isinstance(scenario_id, str) or not scenario_id:
        raise PluginLoadError(f"{source.describe()}: {scenario.__qualname__} has no string `id`")
    if not isinstance(scenario.requires, tuple) or not all(isinstance(k, str) for k in scenario.requires):
        raise PluginLoadError(f"{source.describe()}: {scenario.__qualname__}.requires must be a tuple of str")
    if scenario.time_budget_seconds <= 0:
        raise PluginLoadError(f"{source.describe()}: {scenario.__qualname__} needs a positive time budget")
    emits_problem = emits_error(scenario)
    if emits_problem is not None:
        raise PluginLoadError(f"{source.describe()}: {scenario.__qualname__}: {emits_problem}")
