"""``vigilare.testing``: the pytest plugin scenario authors get with Vigilare, on the runner's path."""

from __future__ import annotations

import asyncio
from importlib import metadata

import pytest

import vigilare.testing
from vigilare.plugin import CollectedData, Finding, Scenario, Severity
from vigilare.scenarios.manager import PluginLoadError
from vigilare.testing import ACCOUNT_ID, COLLECTED_AT, RunScenario, ScenarioFailed, collected_data


class OpenPorts(Scenario):
    id = "open-ports"
    title = "Open ports"
    requires = ("ports",)
    emits = {"open": (Severity.HIGH, Severity.LOW)}

    async def detect(self, data: CollectedData) -> list[Finding]:
        return [
            self.finding(
                kind="open",
                severity=Severity.HIGH if port == 22 else Severity.LOW,
                title=f"Port open in {region}",
                description=f"seen at {data.collected_at.isoformat()} in {data.account_id}",
                resource="sg-1",  # one resource: the runner keeps the most severe finding
                region=region,
            )
            for region, port in data.regional_items("ports")
        ]


class Crashing(OpenPorts):
    id = "crashing"

    async def detect(self, data: CollectedData) -> list[Finding]:
        raise RuntimeError("plugin bug")


class Slow(OpenPorts):
    id = "slow"
    time_budget_seconds = 0.05

    async def detect(self, data: CollectedData) -> list[Finding]:
        await asyncio.sleep(5)
        return []


class Impostor(OpenPorts):
    id = "impostor"

    async def detect(self, data: CollectedData) -> list[Finding]:
        stolen = Finding(
            scenario="iam", kind="x", severity=Severity.LOW, title="t", description="d", resource="r"
        )
        return [stolen]


class Undeclared(OpenPorts):
    id = "undeclared"

    async def detect(self, data: CollectedData) -> list[Finding]:
        return [self.finding(kind="closed", severity=Severity.LOW, title="t", description="d", resource="r")]


class NoBudget(OpenPorts):
    id = "no-budget"
    time_budget_seconds = 0


def test_the_fixture_is_a_registered_pytest_plugin(pytestconfig: pytest.Config) -> None:
    [entry] = [entry for entry in metadata.entry_points(group="pytest11") if entry.name == "vigilare"]
    assert entry.value == "vigilare.testing"
    assert pytestconfig.pluginmanager.get_plugin("vigilare") is vigilare.testing


async def test_findings_come_through_the_runner_with_a_fixed_account_and_time(
    run_scenario: RunScenario,
) -> None:
    [finding] = await run_scenario(OpenPorts, regional={"ports": {"eu-west-1": [443, 22]}})
    assert finding.severity is Severity.HIGH  # two identical findings collapsed to the most severe
    assert finding.description == f"seen at {COLLECTED_AT.isoformat()} in {ACCOUNT_ID}"
    assert await run_scenario(OpenPorts, regional={"ports": {"eu-west-1": []}}) == []


async def test_prebuilt_data_is_accepted(run_scenario: RunScenario) -> None:
    data = collected_data(regional={"ports": {"us-east-1": [80]}}, account_id="999988887777")
    [finding] = await run_scenario(OpenPorts, data)
    assert "999988887777" in finding.description
    with pytest.raises(TypeError, match="not both"):
        await run_scenario(OpenPorts, data, account_id="1")


@pytest.mark.parametrize(
    ("scenario", "status", "error"),
    [
        (Crashing, "failed", "RuntimeError: plugin bug"),
        (Slow, "timeout", "exceeded its time budget"),
        (Impostor, "failed", "finding of scenario 'iam'"),
        (Undeclared, "failed", "kind 'closed', which its `emits` does not declare"),
    ],
)
async def test_what_a_scan_would_refuse_fails_the_test(
    run_scenario: RunScenario, scenario: type[Scenario], status: str, error: str
) -> None:
    with pytest.raises(ScenarioFailed, match=error) as raised:
        await run_scenario(scenario, regional={"ports": {}})
    assert raised.value.outcome.status == status
    run = await run_scenario.run(scenario, regional={"ports": {}})
    assert run.findings == [] and run.outcome.status == status


async def test_data_the_scenario_does_not_require_is_refused(run_scenario: RunScenario) -> None:
    with pytest.raises(ValueError, match=r"\['iam.users'\].*requires"):
        await run_scenario(OpenPorts, {"iam.users": []}, regional={"ports": {}})


async def test_a_class_plugin_loading_would_refuse_is_refused(run_scenario: RunScenario) -> None:
    with pytest.raises(PluginLoadError, match="positive time budget"):
        await run_scenario(NoBudget, regional={"ports": {}})


async def test_missing_data_marks_the_outcome_incomplete(run_scenario: RunScenario) -> None:
    run = await run_scenario.run(OpenPorts)
    assert run.outcome.status == "ok" and run.outcome.data_complete is False
