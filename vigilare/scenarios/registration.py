"""Registering one plugin: its hooks called and checked, its scenario ids and data keys claimed.

Every fault raises :class:`PluginLoadError` naming the plugin at fault (and, for a conflict, the
plugin that got there first). :mod:`vigilare.scenarios.manager` drives this over all plugins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pluggy

from vigilare.plugin import Collector, EventHandler, Scenario
from vigilare.plugin.events import event_handler_error
from vigilare.plugin.model import emits_error

BUILTIN_ORIGIN = "builtin"
HOOK_NAMES = ("vigilare_collectors", "vigilare_event_handlers", "vigilare_scenarios")


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


def check_scenario_class(scenario: object, owner: str = "") -> type[Scenario]:
    """Refuse a scenario class the scanner could not run (no id, bad ``requires`` or ``emits``, no budget).

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
    emits_problem = emits_error(scenario)
    if emits_problem is not None:
        raise PluginLoadError(f"{prefix}{scenario.__qualname__}: {emits_problem}")
    return scenario


def check_event_handler_class(handler: object, owner: str = "") -> type[EventHandler]:
    """Refuse an event handler class Vigilare could not run (no id, scenario or sources, no budget)."""
    prefix = f"{owner}: " if owner else ""
    if not (isinstance(handler, type) and issubclass(handler, EventHandler)):
        raise PluginLoadError(f"{owner or 'a plugin'} returned {handler!r}, not an EventHandler subclass")
    problem = event_handler_error(handler)
    if problem is not None:
        raise PluginLoadError(f"{prefix}{handler.__qualname__} {problem}")
    return handler


@dataclass(slots=True)
class Contribution:
    source: PluginSource
    scenarios: list[type[Scenario]]
    collectors: list[Collector]
    event_handlers: list[type[EventHandler]] = field(default_factory=list)


def register_plugin(manager: pluggy.PluginManager, source: PluginSource) -> Contribution:
    """Register one plugin and call its hooks; a fault unregisters it and raises naming it."""
    _register(manager, source)
    try:
        collectors = _hook_result(manager, source, "vigilare_collectors")
        scenarios = _hook_result(manager, source, "vigilare_scenarios")
        handlers = _hook_result(manager, source, "vigilare_event_handlers")
        for collector in collectors:
            if not isinstance(collector, Collector):
                raise PluginLoadError(f"{source.describe()} returned {collector!r}, not a Collector")
        checked = [check_scenario_class(scenario, source.describe()) for scenario in scenarios]
        checked_handlers = [check_event_handler_class(handler, source.describe()) for handler in handlers]
    except PluginLoadError:
        manager.unregister(name=source.name)
        raise
    return Contribution(
        source=source, scenarios=checked, collectors=collectors, event_handlers=checked_handlers
    )


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
class Claims:
    """Who took which data key and scenario id so far in one load."""

    collector_owner: dict[str, PluginSource] = field(default_factory=dict)
    scenario_owner: dict[str, PluginSource] = field(default_factory=dict)
    scenario_class: dict[str, type[Scenario]] = field(default_factory=dict)
    handler_owner: dict[str, PluginSource] = field(default_factory=dict)

    def claim(self, contribution: Contribution) -> None:
        """Take the plugin's data keys, scenario ids and event handler ids, all or nothing; a name
        already taken raises."""
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
        handler_ids: set[str] = set()
        for handler in contribution.event_handlers:
            owner = self.handler_owner.get(handler.id) or (source if handler.id in handler_ids else None)
            if owner is not None:
                raise PluginLoadError(
                    f"{source.describe()} registers event handler id {handler.id!r}, already taken by "
                    f"{owner.describe()}"
                )
            handler_ids.add(handler.id)
        self.collector_owner.update(dict.fromkeys(keys, source))
        self.scenario_owner.update(dict.fromkeys(ids, source))
        self.scenario_class.update(ids)
        self.handler_owner.update(dict.fromkeys(handler_ids, source))

    def release(self, contribution: Contribution) -> None:
        for collector in contribution.collectors:
            self.collector_owner.pop(collector.key, None)
        for scenario in contribution.scenarios:
            self.scenario_owner.pop(scenario.id, None)
            self.scenario_class.pop(scenario.id, None)
        for handler in contribution.event_handlers:
            self.handler_owner.pop(handler.id, None)


def unmet_requirements(
    accepted: dict[str, Contribution], claims: Claims
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


def drop_orphan_handlers(accepted: dict[str, Contribution], claims: Claims) -> list[str]:
    """Leave out event handlers whose scenario no loaded plugin registers; say why for each.

    A handler reports for its scenario only, so without it the handler has nothing to do; its
    plugin's other registrations stay (a built-in adapter must not fail because a scenario of
    another plugin is switched off).
    """
    registered = {scenario.id for contribution in accepted.values() for scenario in contribution.scenarios}
    warnings: list[str] = []
    for contribution in accepted.values():
        for handler in list(contribution.event_handlers):
            if handler.scenario in registered:
                continue
            contribution.event_handlers.remove(handler)
            claims.handler_owner.pop(handler.id, None)
            warnings.append(
                f"event handler {handler.id!r} of {contribution.source.describe()} is not used: it reports "
                f"for scenario {handler.scenario!r}, which no loaded plugin registers"
            )
    return warnings
