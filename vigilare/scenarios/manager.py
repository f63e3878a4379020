"""Loads scenario plugins from the ``vigilare.scenarios`` entry-point group (built-ins included).

Built-in scenarios and collectors are entry points of the ``vigilare`` distribution itself, so they
take the very path a third-party plugin takes. Which entry points may load is decided on their
names alone, *before* anything is imported (:class:`PluginSelection`): a plugin that fails on import
can always be switched off. Every other fault (import error, invalid hook, a scenario id or data key
already taken, data no collector provides) is pinned on the plugin that has it: a scan must never
silently run someone else's detector under a built-in's id.

:func:`inspect_plugins` reports every plugin found, loaded or not and why (``vigilare plugins``);
:func:`load_registry` is the same load for start-up: it raises on the first broken plugin.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import MappingProxyType
from typing import Literal

import pluggy

from vigilare.plugin import PROJECT_NAME, Collector, EventHandler, Scenario
from vigilare.scenarios import hookspecs
from vigilare.scenarios.registration import (
    BUILTIN_ORIGIN,
    Claims,
    Contribution,
    DuplicateScenarioError,
    PluginLoadError,
    PluginSource,
    check_event_handler_class,
    check_scenario_class,
    drop_orphan_handlers,
    register_plugin,
    unmet_requirements,
)

__all__ = [
    "BUILTIN_ORIGIN",
    "ENTRY_POINT_GROUP",
    "DuplicateScenarioError",
    "FoundEntryPoint",
    "PluginInfo",
    "PluginLoadError",
    "PluginReport",
    "PluginSelection",
    "PluginSource",
    "ScenarioRegistry",
    "check_event_handler_class",
    "check_scenario_class",
    "find_entry_points",
    "inspect_plugins",
    "list_plugins",
    "load_registry",
]

ENTRY_POINT_GROUP = "vigilare.scenarios"
ONLY_BUILTINS = "builtin"
"""An allow-list naming only this loads no third-party plugin (it is never reported as unknown)."""

PluginStatus = Literal["loaded", "blocked", "not allowed", "failed"]


@dataclass(frozen=True, slots=True)
class PluginSelection:
    """Which entry points may be imported, decided on their names before any import.

    ``blocked`` (``VIGILARE_DISABLED_PLUGINS``) wins over everything, built-ins included.
    ``allowed`` (``VIGILARE_PLUGINS``), when not None, is the list of *third-party* plugins to load:
    built-ins always load unless blocked, so an allow-list never has to repeat them.
    Plugins handed over directly (``extra_plugins``, tests) are not entry points and always load.
    """

    allowed: frozenset[str] | None = None
    blocked: frozenset[str] = frozenset()

    @classmethod
    def of(cls, *, allowed: Iterable[str] | None = None, blocked: Iterable[str] = ()) -> PluginSelection:
        return cls(allowed=None if allowed is None else frozenset(allowed), blocked=frozenset(blocked))

    def refusal(self, name: str, *, builtin: bool) -> tuple[PluginStatus, str] | None:
        """Why the entry point ``name`` must not be imported, or None when it may be."""
        if name in self.blocked:
            return "blocked", "named in VIGILARE_DISABLED_PLUGINS"
        if self.allowed is not None and not builtin and name not in self.allowed:
            return "not allowed", "VIGILARE_PLUGINS does not name it"
        return None

    def unknown_names(self, found: Collection[str]) -> list[str]:
        """Names the selection mentions that no installed entry point has (likely typos)."""
        mentioned = set(self.blocked) | (set(self.allowed or ()) - {ONLY_BUILTINS})
        return sorted(mentioned - set(found))


@dataclass(frozen=True, slots=True)
class FoundEntryPoint:
    """An installed entry point of the group, known from its distribution's metadata, not imported."""

    name: str
    value: str
    version: str
    origin: str
    distribution: str
    entry_point: metadata.EntryPoint

    @property
    def is_builtin(self) -> bool:
        return self.origin == BUILTIN_ORIGIN


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One plugin, as ``vigilare plugins`` shows it: what it registered, or why it did not load."""

    name: str
    version: str
    origin: str
    scenario_ids: tuple[str, ...] = ()
    collector_keys: tuple[str, ...] = ()
    event_handler_ids: tuple[str, ...] = ()
    status: PluginStatus = "loaded"
    reason: str = ""
    """Why a plugin is not loaded: the block- or allow-list, or the load error."""


@dataclass(frozen=True, slots=True)
class ScenarioRegistry:
    """Everything the loaded plugins registered."""

    scenarios: Mapping[str, type[Scenario]]
    collectors: Mapping[str, Collector]
    plugins: tuple[PluginInfo, ...] = field(default=())
    """The plugins that loaded (see :class:`PluginReport` for all of them)."""
    event_handlers: Mapping[str, type[EventHandler]] = field(default_factory=lambda: MappingProxyType({}))
    """Event handlers by id, built-ins first: every one whose ``matches`` accepts an event handles it."""

    def select(self, scenario_ids: Iterable[str] | None = None) -> list[type[Scenario]]:
        """The scenarios to run: all of them, or the named ones (an unknown id is a KeyError)."""
        if scenario_ids is None:
            return list(self.scenarios.values())
        return [self.scenarios[scenario_id] for scenario_id in scenario_ids]


@dataclass(frozen=True, slots=True)
class PluginReport:
    """Every plugin found, loaded or not, and the registry of those that loaded cleanly."""

    registry: ScenarioRegistry
    plugins: tuple[PluginInfo, ...]
    errors: tuple[PluginLoadError, ...]
    unknown_names: tuple[str, ...] = ()
    """Names in the allow- or block-list that no installed plugin has."""
    warnings: tuple[str, ...] = ()
    """What loaded but is not used, and why (an event handler whose scenario is not loaded)."""

    def raise_for_errors(self) -> None:
        """Raise the load error (one naming every broken plugin when there are several)."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            names = ", ".join(repr(error.plugin) for error in self.errors)
            details = "; ".join(str(error) for error in self.errors)
            raise PluginLoadError(
                f"{len(self.errors)} scenario plugins failed to load ({names}): {details}",
                plugin=self.errors[0].plugin,
            )


def find_entry_points(group: str = ENTRY_POINT_GROUP) -> list[FoundEntryPoint]:
    """The group's entry points with their distribution's name and version; nothing is imported."""
    found = []
    for entry_point in metadata.entry_points(group=group):
        distribution = entry_point.dist
        dist_name = distribution.metadata["Name"] if distribution is not None else "unknown"
        version = distribution.version if distribution is not None else "unknown"
        found.append(
            FoundEntryPoint(
                name=entry_point.name,
                value=entry_point.value,
                version=version,
                origin=BUILTIN_ORIGIN if dist_name == PROJECT_NAME else dist_name,
                distribution=dist_name,
                entry_point=entry_point,
            )
        )
    return found


def load_registry(
    *,
    group: str = ENTRY_POINT_GROUP,
    extra_plugins: Sequence[PluginSource] = (),
    blocked: Collection[str] = (),
    allowed: Collection[str] | None = None,
) -> ScenarioRegistry:
    """Load the selected entry-point plugins plus ``extra_plugins``; a broken plugin raises
    :class:`PluginLoadError` naming it (start-up uses this)."""
    report = inspect_plugins(
        group=group,
        extra_plugins=extra_plugins,
        selection=PluginSelection.of(allowed=allowed, blocked=blocked),
    )
    report.raise_for_errors()
    return report.registry


def list_plugins(
    *, group: str = ENTRY_POINT_GROUP, selection: PluginSelection | None = None
) -> list[PluginInfo]:
    """Every plugin found: name, version, origin (``builtin`` or the distribution), what it
    registered, and its status (never raises for a broken plugin: it is listed as failed)."""
    return list(inspect_plugins(group=group, selection=selection).plugins)


def inspect_plugins(
    *,
    group: str = ENTRY_POINT_GROUP,
    extra_plugins: Sequence[PluginSource] = (),
    selection: PluginSelection | None = None,
) -> PluginReport:
    """Load what the selection allows and report on every plugin found; never raises for a plugin.

    A broken plugin is left out entirely (none of its scenarios or collectors is registered) and
    listed as ``failed`` with its error; a scenario needing a collector of a left-out plugin fails
    its own plugin in turn.
    """
    selection = selection or PluginSelection()
    found = find_entry_points(group)
    infos: dict[str, PluginInfo] = {}
    errors: list[PluginLoadError] = []
    sources: list[PluginSource] = []

    def fail(source: PluginSource, error: PluginLoadError) -> None:
        error.plugin = error.plugin or source.name
        errors.append(error)
        infos[source.name] = PluginInfo(
            name=source.name, version=source.version, origin=source.origin, status="failed", reason=str(error)
        )

    for entry in found:
        source = PluginSource(name=entry.name, plugin=None, origin=entry.origin, version=entry.version)
        if entry.name in infos or any(existing.name == entry.name for existing in sources):
            fail(
                source,
                PluginLoadError(
                    f"scenario plugin {entry.name!r} ({entry.value}) from {entry.distribution!r}: another "
                    "installed plugin already has that entry-point name",
                    plugin=entry.name,
                ),
            )
            continue
        refusal = selection.refusal(entry.name, builtin=entry.is_builtin)
        if refusal is not None:
            status, reason = refusal
            infos[entry.name] = PluginInfo(
                name=entry.name, version=entry.version, origin=entry.origin, status=status, reason=reason
            )
            continue
        try:
            plugin = entry.entry_point.load()
        except Exception as exc:
            fail(
                source,
                PluginLoadError(
                    f"scenario plugin {entry.name!r} ({entry.value}) from {entry.distribution!r} "
                    f"failed to import: {exc!r}",
                    plugin=entry.name,
                ),
            )
            continue
        sources.append(
            PluginSource(name=entry.name, plugin=plugin, origin=entry.origin, version=entry.version)
        )
    sources += list(extra_plugins)
    # Built-ins first, so a conflict is always reported against the built-in that owns the name.
    sources.sort(key=lambda source: (not source.is_builtin, source.name))

    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    accepted: dict[str, Contribution] = {}
    claims = Claims()
    for source in sources:
        try:
            contribution = register_plugin(manager, source)
        except PluginLoadError as error:
            fail(source, error)
            continue
        try:
            claims.claim(contribution)
        except PluginLoadError as conflict:
            manager.unregister(name=source.name)
            fail(source, conflict)
            continue
        accepted[source.name] = contribution

    for source, unmet in unmet_requirements(accepted, claims):
        fail(source, unmet)
    warnings = drop_orphan_handlers(accepted, claims)

    scenarios = {
        scenario.id: scenario for contribution in accepted.values() for scenario in contribution.scenarios
    }
    collectors = {
        collector.key: collector
        for contribution in accepted.values()
        for collector in contribution.collectors
    }
    event_handlers = {
        handler.id: handler for contribution in accepted.values() for handler in contribution.event_handlers
    }
    for contribution in accepted.values():
        source = contribution.source
        infos[source.name] = PluginInfo(
            name=source.name,
            version=source.version,
            origin=source.origin,
            scenario_ids=tuple(scenario.id for scenario in contribution.scenarios),
            collector_keys=tuple(collector.key for collector in contribution.collectors),
            event_handler_ids=tuple(handler.id for handler in contribution.event_handlers),
        )
    ordered = sorted(infos.values(), key=lambda info: (info.origin != BUILTIN_ORIGIN, info.name))
    registry = ScenarioRegistry(
        scenarios=MappingProxyType(scenarios),
        collectors=MappingProxyType(collectors),
        plugins=tuple(info for info in ordered if info.status == "loaded"),
        event_handlers=MappingProxyType(event_handlers),
    )
    return PluginReport(
        registry=registry,
        plugins=tuple(ordered),
        errors=tuple(errors),
        unknown_names=tuple(selection.unknown_names([entry.name for entry in found])),
        warnings=tuple(warnings),
    )
