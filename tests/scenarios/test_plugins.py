"""Plugin loading: built-ins through the entry-point group, conflicts refused loudly."""

from __future__ import annotations

import types
from collections.abc import Sequence

import pytest

from vigilare.plugin import CollectedData, Collector, Finding, Scenario, hookimpl
from vigilare.scenarios.manager import (
    DuplicateScenarioError,
    PluginLoadError,
    PluginSource,
    list_plugins,
    load_registry,
)


def plugin_module(
    name: str, *, scenarios: Sequence[type[Scenario]] = (), collectors: Sequence[Collector] = ()
) -> object:
    module = types.ModuleType(name)

    @hookimpl
    def vigilare_scenarios() -> list[type[Scenario]]:
        return list(scenarios)

    @hookimpl
    def vigilare_collectors() -> list[Collector]:
        return list(collectors)

    module.vigilare_scenarios = vigilare_scenarios  # type: ignore[attr-defined]
    module.vigilare_collectors = vigilare_collectors  # type: ignore[attr-defined]
    return module


def third_party(
    name: str, *, scenarios: Sequence[type[Scenario]] = (), collectors: Sequence[Collector] = ()
) -> PluginSource:
    module = plugin_module(name, scenarios=scenarios, collectors=collectors)
    return PluginSource(name=name, plugin=module, origin="acme-vigilare-extras", version="1.2.3")


class FakeIam(Scenario):
    id = "iam"
    title = "A third party trying to replace the built-in iam scenario"

    async def detect(self, data: CollectedData) -> list[Finding]:
        return []


class NeedsUnknownData(Scenario):
    id = "needs-unknown"
    title = "Requires data nobody collects"
    requires = ("nobody.collects.this",)

    async def detect(self, data: CollectedData) -> list[Finding]:
        return []


async def _fetch_nothing(ctx: object) -> None:
    return None


def test_builtins_are_loaded_through_the_entry_point_group() -> None:
    registry = load_registry()
    assert {"iam", "exposure"} <= set(registry.scenarios)
    builtins = {plugin.name: plugin for plugin in registry.plugins if plugin.origin == "builtin"}
    assert builtins["iam"].scenario_ids == ("iam",)
    assert builtins["exposure"].scenario_ids == ("exposure",)
    assert "iam.credential_report" in builtins["aws-collectors"].collector_keys
    for scenario in registry.scenarios.values():
        assert set(scenario.requires) <= set(registry.collectors)


def test_list_plugins_reports_name_version_origin_and_scenarios() -> None:
    plugins = {plugin.name: plugin for plugin in list_plugins()}
    assert plugins["iam"].origin == "builtin"
    assert plugins["iam"].version  # the installed vigilare version
    assert plugins["exposure"].scenario_ids == ("exposure",)


def test_a_third_party_scenario_reusing_a_builtin_id_is_refused_naming_both() -> None:
    with pytest.raises(DuplicateScenarioError) as raised:
        load_registry(extra_plugins=[third_party("acme", scenarios=[FakeIam])])
    message = str(raised.value)
    assert "'iam'" in message
    assert "acme-vigilare-extras" in message and "'acme'" in message  # the newcomer
    assert "built-in plugin 'iam'" in message and "IamScenario" in message  # the owner


def test_a_third_party_collector_reusing_a_builtin_data_key_is_refused() -> None:
    clash = Collector(key="iam.users", fetch=_fetch_nothing)
    with pytest.raises(PluginLoadError, match=r"'iam.users'.*built-in plugin 'aws-collectors'"):
        load_registry(extra_plugins=[third_party("acme", collectors=[clash])])


def test_a_scenario_requiring_data_no_collector_provides_is_refused() -> None:
    with pytest.raises(PluginLoadError, match=r"nobody\.collects\.this"):
        load_registry(extra_plugins=[third_party("acme", scenarios=[NeedsUnknownData])])


def test_a_third_party_may_bring_its_own_collector() -> None:
    class UsesOwnData(NeedsUnknownData):
        id = "uses-own-data"

    own = Collector(key="nobody.collects.this", fetch=_fetch_nothing)
    registry = load_registry(extra_plugins=[third_party("acme", scenarios=[UsesOwnData], collectors=[own])])
    assert registry.scenarios["uses-own-data"] is UsesOwnData
    [acme] = [plugin for plugin in registry.plugins if plugin.name == "acme"]
    assert (acme.origin, acme.version, acme.scenario_ids) == (
        "acme-vigilare-extras",
        "1.2.3",
        ("uses-own-data",),
    )


def test_a_blocked_plugin_is_not_loaded() -> None:
    registry = load_registry(blocked={"exposure"})
    assert "exposure" not in registry.scenarios and "iam" in registry.scenarios
