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
from typing import Any, Literal

import pluggy

from vigilare.plugin import PROJECT_NAME, Collector, Scenario
from vigilare.scenarios import hookspecs

ENTRY_POINT_GROUP = "vigilare.scenarios"
BUILTIN_ORIGIN = "builtin"
ONLY_BUILTINS = "builtin"
"""An allow-list naming only this loads no third-party plugin (it is never reported as unknown)."""

PluginStatus = Literal["loaded", "blocked", "not allowed", "failed"]
HOOK_NAMES = ("vigilare_collectors", "vigilare_scenarios")


class PluginLoadError(Exception):
    """A plugin could not be loaded or conflicts with another one; the message names both sides.

    ``plugin`` is the name (entry-point name) of the plugin at fault.
    """

    def __init__(self, message: str, *, plugin: str = "") -> None:
        super().__init__(message)
        self.plugin = plugin


class DuplicateScenarioError(PluginLoadError):
    pass


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
        mentioned = set(self.blocked) | set(self.allowed or ()) - {ONLY_BUILTINS}
        return sorted(mentioned - set(found))


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
    accepted: dict[str, _Contribution] = {}
    claims = _Claims()
    for source in sources:
        try:
            contribution = _contribution(manager, source)
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

    for source, unmet in _unmet_requirements(accepted, claims):
        fail(source, unmet)

    scenarios = {
        scenario.id: scenario for contribution in accepted.values() for scenario in contribution.scenarios
    }
    collectors = {
        collector.key: collector
        for contribution in accepted.values()
        for collector in contribution.collectors
    }
    for contribution in accepted.values():
        source = contribution.source
        infos[source.name] = PluginInfo(
            name=source.name,
            version=source.version,
            origin=source.origin,
            scenario_ids=tuple(scenario.id for scenario in contribution.scenarios),
            collector_keys=tuple(collector.key for collector in contribution.collectors),
        )
    ordered = sorted(infos.values(), key=lambda info: (info.origin != BUILTIN_ORIGIN, info.name))
    registry = ScenarioRegistry(
        scenarios=MappingProxyType(scenarios),
        collectors=MappingProxyType(collectors),
        plugins=tuple(info for info in ordered if info.status == "loaded"),
    )
    return PluginReport(
        registry=registry,
        plugins=tuple(ordered),
        errors=tuple(errors),
        unknown_names=tuple(selection.unknown_names([entry.name for entry in found])),
    )


def check_scenario_class(scenario: object, owner: str = "") -> type[Scenario]:
    """Refuse a scenario class the scanner could not run (no id, bad ``requires``, no time budget).

    ``owner`` describes where it came from, for the message. Plugin loading and the
    ``vigilare.testing`` fixture both apply it.
    """
    prefix = f"{owner}: " if owner else ""
    if not (isinstance(scenario, type) and issubclass(scenario, Scenario)):
        raise PluginLoadError(f"{owner or 'a plugin'} returned {scenario!r}, not a Scenario subclass")
    scenario_id = getattr(scenario, "id", None)
    if not isinstance(scenario_id, str) or not scenario_id:
        raise PluginLoadError(f"{prefix}{scenario.__qualname__} has no string `id`")
    if not isinstance(scenario.requires, tuple) or not all(isinstance(k, str) for k in scenario.requires):
        raise PluginLoadError(f"{prefix}{scenario.__qualname__}.requires must be a tuple of str")
    if scenario.time_budget_seconds <= 0:
        raise PluginLoadError(f"{prefix}{scenario.__qualname__} needs a positive time budget")
    return scenario


@dataclass(slots=True)
class _Contribution:
    source: PluginSource
    scenarios: list[type[Scenario]]
    collectors: list[Collector]


def _contribution(manager: pluggy.PluginManager, source: PluginSource) -> _Contribution:
    """Register one plugin and call its hooks; a fault unregisters it and raises naming it."""
    _register(manager, source)
    try:
        collectors = _hook_result(manager, source, "vigilare_collectors")
        scenarios = _hook_result(manager, source, "vigilare_scenarios")
        for collector in collectors:
            if not isinstance(collector, Collector):
                raise PluginLoadError(f"{source.describe()} returned {collector!r}, not a Collector")
        checked = [check_scenario_class(scenario, source.describe()) for scenario in scenarios]
    except PluginLoadError:
        manager.unregister(name=source.name)
        raise
    return _Contribution(source=source, scenarios=checked, collectors=collectors)


def _register(manager: pluggy.PluginManager, source: PluginSource) -> None:
    try:
        manager.register(source.plugin, name=source.name)
    except ValueError as exc:
        raise PluginLoadError(f"cannot register {source.describe()}: {exc}") from exc
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(f"{source.describe()} has an invalid hook: {exc}") from exc
    unknown = sorted(
        caller.name
        for caller in manager.get_hookcallers(source.plugin) or []
        if not caller.has_spec()
        and any(impl.plugin is source.plugin and not impl.optionalhook for impl in caller.get_hookimpls())
    )
    if unknown:
        manager.unregister(name=source.name)
        raise PluginLoadError(
            f"{source.describe()} implements hooks Vigilare does not define: {', '.join(unknown)} "
            f"(Vigilare's hooks: {', '.join(HOOK_NAMES)})"
        )


def _hook_result(manager: pluggy.PluginManager, source: PluginSource, hook_name: str) -> list[Any]:
    """Call this plugin's own implementation of a hook, so every registration is attributed to it."""
    caller = getattr(manager.hook, hook_name)
    results: list[Any] = []
    for implementation in caller.get_hookimpls():
        if implementation.plugin_name != source.name:
            continue
        try:
            result = implementation.function()
        except Exception as exc:
            raise PluginLoadError(f"{source.describe()}: {hook_name}() raised {exc!r}") from exc
        if not isinstance(result, list | tuple):
            raise PluginLoadError(f"{source.describe()}: {hook_name}() must return a list, got {result!r}")
        results += list(result)
    return results


@dataclass(slots=True)
class _Claims:
    """Who took which data key and scenario id so far in one load."""

    collector_owner: dict[str, PluginSource] = field(default_factory=dict)
    scenario_owner: dict[str, PluginSource] = field(default_factory=dict)
    scenario_class: dict[str, type[Scenario]] = field(default_factory=dict)

    def claim(self, contribution: _Contribution) -> None:
        """Take the plugin's data keys and scenario ids, all or nothing; a name already taken raises."""
        source = contribution.source
        keys: dict[str, Collector] = {}
        for collector in contribution.collectors:
            owner = self.collector_owner.get(collector.key) or (source if collector.key in keys else None)
            if owner is not None:
                raise PluginLoadError(
                    f"{source.describe()} registers data key {collector.key!r}, already collected by "
                    f"{owner.describe()}"
                )
            keys[collector.key] = collector
        ids: dict[str, type[Scenario]] = {}
        for scenario in contribution.scenarios:
            holder = self.scenario_class.get(scenario.id) or ids.get(scenario.id)
            if holder is not None:
                owner = self.scenario_owner.get(scenario.id, source)
                raise DuplicateScenarioError(
                    f"{source.describe()} registers scenario id {scenario.id!r} "
                    f"({scenario.__module__}.{scenario.__qualname__}), already taken by "
                    f"{owner.describe()} ({holder.__module__}.{holder.__qualname__})"
                )
            ids[scenario.id] = scenario
        self.collector_owner.update(dict.fromkeys(keys, source))
        self.scenario_owner.update(dict.fromkeys(ids, source))
        self.scenario_class.update(ids)

    def release(self, contribution: _Contribution) -> None:
        for collector in contribution.collectors:
            self.collector_owner.pop(collector.key, None)
        for scenario in contribution.scenarios:
            self.scenario_owner.pop(scenario.id, None)
            self.scenario_class.pop(scenario.id, None)


def _unmet_requirements(
    accepted: dict[str, _Contribution], claims: _Claims
) -> list[tuple[PluginSource, PluginLoadError]]:
    """Drop plugins whose scenarios need data no remaining collector provides, until none is left."""
    failures: list[tuple[PluginSource, PluginLoadError]] = []
    while True:
        provided = {
            collector.key for contribution in accepted.values() for collector in contribution.collectors
        }
        broken = next(
            (
                (contribution, scenario, [key for key in scenario.requires if key not in provided])
                for contribution in accepted.values()
                for scenario in contribution.scenarios
                if any(key not in provided for key in scenario.requires)
            ),
            None,
        )
        if broken is None:
            return failures
        contribution, scenario, missing = broken
        source = contribution.source
        failures.append(
            (
                source,
                PluginLoadError(
                    f"scenario {scenario.id!r} of {source.describe()} requires data {missing}, which no "
                    "loaded collector provides",
                    plugin=source.name,
                ),
            )
        )
        del accepted[source.name]
        claims.release(contribution)
