"""Which plugins load: the block- and allow-lists are applied before import, every fault names its
plugin, and a broken plugin never takes the others down with it in the report."""

from __future__ import annotations

import sys

import pytest

from tests.support.plugins import BROKEN_ON_IMPORT, InstallPlugin, scenario_plugin
from vigilare.scenarios.manager import (
    DuplicateScenarioError,
    PluginLoadError,
    PluginSelection,
    inspect_plugins,
    load_registry,
)


def test_a_plugin_failing_on_import_names_itself_and_the_error(install_plugin: InstallPlugin) -> None:
    install_plugin("acme-broken", BROKEN_ON_IMPORT)
    with pytest.raises(PluginLoadError) as raised:
        load_registry()
    message = str(raised.value)
    assert raised.value.plugin == "acme-broken"
    assert "'acme-broken'" in message and "'acme-scenarios'" in message  # entry point and distribution
    assert "failed to import" in message and "ACME_LICENSE_KEY is not set" in message

    report = inspect_plugins()
    [broken] = [plugin for plugin in report.plugins if plugin.name == "acme-broken"]
    assert (broken.status, broken.version, broken.origin) == ("failed", "1.2.3", "acme-scenarios")
    assert "ACME_LICENSE_KEY" in broken.reason
    assert {"iam", "exposure"} <= set(report.registry.scenarios)  # the others still loaded


def test_the_block_list_switches_off_a_plugin_that_fails_on_import_without_importing_it(
    install_plugin: InstallPlugin,
) -> None:
    module = install_plugin("acme-broken", BROKEN_ON_IMPORT)
    registry = load_registry(blocked={"acme-broken"})
    assert {"iam", "exposure"} <= set(registry.scenarios)
    assert module not in sys.modules  # never imported

    report = inspect_plugins(selection=PluginSelection.of(blocked={"acme-broken"}))
    [blocked] = [plugin for plugin in report.plugins if plugin.name == "acme-broken"]
    assert blocked.status == "blocked" and "VIGILARE_DISABLED_PLUGINS" in blocked.reason
    assert blocked.version == "1.2.3" and blocked.origin == "acme-scenarios"
    assert report.errors == ()


def test_the_allow_list_loads_only_the_third_party_plugins_it_names(install_plugin: InstallPlugin) -> None:
    install_plugin("acme-wanted", scenario_plugin("acme-wanted"))
    unwanted = install_plugin("acme-unwanted", scenario_plugin("acme-unwanted"))
    broken = install_plugin("acme-broken", BROKEN_ON_IMPORT)

    report = inspect_plugins(selection=PluginSelection.of(allowed={"acme-wanted"}))
    assert report.errors == ()
    assert "acme-wanted" in report.registry.scenarios
    assert "acme-unwanted" not in report.registry.scenarios
    assert unwanted not in sys.modules and broken not in sys.modules
    # Built-ins are not third-party plugins: they load without being named.
    assert {"iam", "exposure", "threat"} <= set(report.registry.scenarios)
    status = {plugin.name: (plugin.status, plugin.reason) for plugin in report.plugins}
    assert status["acme-unwanted"] == ("not allowed", "VIGILARE_PLUGINS does not name it")
    assert status["acme-broken"][0] == "not allowed"
    assert status["acme-wanted"] == ("loaded", "")
    assert status["iam"] == ("loaded", "")


def test_the_block_list_wins_over_the_allow_list_and_applies_to_builtins() -> None:
    selection = PluginSelection.of(allowed={"example-imdsv1"}, blocked={"example-imdsv1", "exposure"})
    report = inspect_plugins(selection=selection)
    status = {plugin.name: plugin.status for plugin in report.plugins}
    assert status["exposure"] == "blocked" and "exposure" not in report.registry.scenarios
    assert "iam" in report.registry.scenarios
    if "example-imdsv1" in status:  # when the example plugin is installed
        assert status["example-imdsv1"] == "blocked"


def test_names_in_the_lists_that_no_plugin_has_are_reported() -> None:
    selection = PluginSelection.of(allowed={"builtin", "acme-typo"}, blocked={"exposure", "acme-gone"})
    assert inspect_plugins(selection=selection).unknown_names == ("acme-gone", "acme-typo")


def test_a_hook_vigilare_does_not_define_fails_its_plugin(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "acme-typo",
        """
        from vigilare.plugin import hookimpl

        @hookimpl
        def vigilare_scenario():
            return []
        """,
    )
    with pytest.raises(PluginLoadError, match=r"'acme-typo' implements hooks .*vigilare_scenario\b"):
        load_registry()


def test_a_hook_with_arguments_the_spec_lacks_fails_its_plugin(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "acme-args",
        """
        from vigilare.plugin import hookimpl

        @hookimpl
        def vigilare_scenarios(config):
            return []
        """,
    )
    with pytest.raises(PluginLoadError, match=r"'acme-args' has an invalid hook"):
        load_registry()


def test_a_hook_that_raises_fails_its_plugin(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "acme-raises",
        """
        from vigilare.plugin import hookimpl

        @hookimpl
        def vigilare_scenarios():
            raise KeyError("config")
        """,
    )
    with pytest.raises(PluginLoadError, match=r"'acme-raises': vigilare_scenarios\(\) raised KeyError"):
        load_registry()


def test_two_third_party_plugins_with_one_scenario_id_the_second_is_refused(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin("acme-first", scenario_plugin("acme-shared"))
    install_plugin("acme-second", scenario_plugin("acme-shared"), distribution="other-vendor")
    with pytest.raises(DuplicateScenarioError) as raised:
        load_registry()
    assert raised.value.plugin == "acme-second"
    assert "'acme-shared'" in str(raised.value) and "'acme-first'" in str(raised.value)
    report = inspect_plugins()
    status = {plugin.name: plugin.status for plugin in report.plugins}
    assert status["acme-first"] == "loaded" and status["acme-second"] == "failed"


def test_a_scenario_needing_the_collector_of_a_broken_plugin_fails_in_turn(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(
        "acme-collector",
        """
        from vigilare.plugin import Collector, hookimpl

        async def fetch(ctx):
            return []

        @hookimpl
        def vigilare_collectors():
            return [Collector(key="acme.things", fetch=fetch)]

        @hookimpl
        def vigilare_scenarios():
            return ["not a scenario class"]
        """,
    )
    install_plugin("acme-reader", scenario_plugin("acme-reader").replace('"iam.users"', '"acme.things"'))
    report = inspect_plugins()
    status = {plugin.name: (plugin.status, plugin.reason) for plugin in report.plugins}
    assert status["acme-collector"][0] == "failed"
    assert "not a Scenario subclass" in status["acme-collector"][1]
    assert status["acme-reader"][0] == "failed" and "acme.things" in status["acme-reader"][1]
    assert "acme.things" not in report.registry.collectors
    with pytest.raises(PluginLoadError, match=r"2 scenario plugins failed to load \('acme-collector', "):
        report.raise_for_errors()
