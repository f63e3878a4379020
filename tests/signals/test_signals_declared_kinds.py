"""Scenarios declare the kinds they emit with their severities; the runner refuses anything else."""

from __future__ import annotations

import types
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.accounts import all_signals, connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from vigilare.plugin import CollectedData, Finding, Scenario, Severity, hookimpl
from vigilare.scanner import detect
from vigilare.scans.registry import REGISTRY_KEY
from vigilare.scenarios.manager import PluginLoadError, PluginSource, load_registry
from vigilare_sandbox.seed_aws import create_public_bucket

ACCOUNT = "210987654321"
DATA = CollectedData(account_id=ACCOUNT, collected_at=datetime(2026, 5, 22, 10, 0, tzinfo=UTC), values={})


class Sloppy(Scenario):
    """Reports one finding as declared, one of a kind it never declared, one at an undeclared severity."""

    id = "sloppy"
    title = "Reports more than it declares"
    emits = {"declared": (Severity.HIGH, Severity.MEDIUM)}

    async def detect(self, data: CollectedData) -> list[Finding]:
        return [
            self.finding(kind="declared", severity=Severity.HIGH, title="ok", description="d", resource="r1"),
            self.finding(kind="surprise", severity=Severity.HIGH, title="no", description="d", resource="r2"),
            self.finding(
                kind="declared", severity=Severity.CRITICAL, title="no", description="d", resource="r3"
            ),
        ]


class Undeclared(Scenario):
    """Written before `emits` existed: it declares nothing, so nothing it reports is accepted."""

    id = "undeclared"
    title = "Declares no kinds"

    async def detect(self, data: CollectedData) -> list[Finding]:
        return [self.finding(kind="k", severity=Severity.LOW, title="t", description="d", resource="r")]


async def test_findings_of_undeclared_kinds_or_severities_are_refused_and_the_rest_kept() -> None:
    result = await detect(DATA, [Sloppy])

    assert [(f.kind, f.severity, f.resource) for f in result.findings] == [("declared", Severity.HIGH, "r1")]
    outcome = result.outcomes["sloppy"]
    assert outcome.status == "failed"
    assert outcome.finding_count == 1
    assert outcome.error is not None
    assert outcome.error.startswith("refused 2 findings: ")
    assert "'surprise'" in outcome.error and "does not declare" in outcome.error


async def test_a_severity_not_declared_for_its_kind_names_the_declared_ones() -> None:
    class TooSevere(Sloppy):
        id = "too-severe"

        async def detect(self, data: CollectedData) -> list[Finding]:
            return [
                self.finding(kind="declared", severity=Severity.LOW, title="t", description="d", resource="r")
            ]

    outcome = (await detect(DATA, [TooSevere])).outcomes["too-severe"]
    assert outcome.status == "failed" and outcome.finding_count == 0
    assert outcome.error == (
        "refused 1 finding: returned a LOW finding of kind 'declared', declared as HIGH, MEDIUM only"
    )


async def test_a_scenario_that_declares_nothing_has_every_finding_refused() -> None:
    result = await detect(DATA, [Undeclared, Sloppy])
    assert result.outcomes["undeclared"].status == "failed"
    assert "'k'" in (result.outcomes["undeclared"].error or "")
    assert [f.scenario for f in result.findings] == ["sloppy"]  # the other scenario is unaffected


def _plugin(name: str, *scenarios: type[Scenario]) -> PluginSource:
    module = types.ModuleType(f"{name}_plugin")

    @hookimpl
    def vigilare_scenarios() -> list[type[Scenario]]:
        return list(scenarios)

    module.vigilare_scenarios = vigilare_scenarios  # type: ignore[attr-defined]
    return PluginSource(name=name, plugin=module, origin="acme-sloppy", version="0.0.1")


@pytest.mark.parametrize(
    ("emits", "problem"),
    [
        ({"kind": Severity.HIGH}, "`emits['kind']` must be a non-empty tuple of Severity"),
        ({"kind": ("HIGH",)}, "`emits['kind']` must be a non-empty tuple of Severity"),
        ({"kind": ()}, "`emits['kind']` must be a non-empty tuple of Severity"),
        ({"": (Severity.LOW,)}, "`emits` has the kind '', not a non-empty str"),
        ([("kind", (Severity.LOW,))], "`emits` must map each kind (str) to a tuple of severities"),
    ],
)
def test_a_malformed_declaration_is_refused_when_the_plugin_loads(emits: Any, problem: str) -> None:
    malformed = type("Malformed", (Undeclared,), {"id": "malformed", "emits": emits})
    with pytest.raises(PluginLoadError) as raised:
        load_registry(extra_plugins=[_plugin("malformed", malformed)])
    assert "'malformed'" in str(raised.value) and "Malformed" in str(raised.value)
    assert problem in str(raised.value)


def test_every_registered_scenario_declares_its_kinds() -> None:
    registry = load_registry()
    assert registry.scenarios
    for scenario in registry.scenarios.values():
        assert scenario.emits, f"{scenario.id} declares no kinds"
        assert all(isinstance(severity, Severity) for _, severity in scenario.declared_kinds())


async def test_a_scan_stores_only_declared_findings_and_records_the_refusal(aws_client, sandbox) -> None:
    create_public_bucket(sandbox, ACCOUNT, "still-found-bucket")
    registry = load_registry(extra_plugins=[_plugin("sloppy", Sloppy)])
    aws_client.app.state["services"].queue.context.extras[REGISTRY_KEY] = registry
    headers = await owner_headers(aws_client)
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    scan = await wait_for_scan(
        aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"], timeout=120
    )

    assert scan["status"] == "partial"
    assert scan["scenarios"]["sloppy"]["status"] == "failed"
    assert scan["scenarios"]["sloppy"]["findings"] == 1
    assert "refused 2 findings" in scan["scenarios"]["sloppy"]["error"]
    assert scan["scenarios"]["exposure"]["status"] == "ok"
    signals = await all_signals(aws_client, headers, ACCOUNT)
    assert [(s["kind"], s["resource"]) for s in signals if s["scenario"] == "sloppy"] == [("declared", "r1")]
    assert any("still-found-bucket" in s["resource"] for s in signals)
