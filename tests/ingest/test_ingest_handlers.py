"""The event handler hook: third parties register handlers exactly as the built-ins do, their
findings pass the scenario's checks, and a handler that breaks never stops the others."""

from __future__ import annotations

import json
import types
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.ingest.ingest_support import load_event
from vigilare.ingest.envelope import parse_event
from vigilare.ingest.handlers import handle_event
from vigilare.plugin import (
    AwsEvent,
    CollectedData,
    Collector,
    CollectorContext,
    EventContext,
    EventHandler,
    EventResult,
    Finding,
    Scenario,
    Severity,
    hookimpl,
)
from vigilare.scenarios.builtin.abuse import AbuseScenario
from vigilare.scenarios.manager import PluginLoadError, PluginSource, inspect_plugins, load_registry
from vigilare.testing import collected_data

ACCOUNT = "111122223333"
NOW = datetime(2026, 5, 22, 12, 0, tzinfo=UTC)


class SnapshotsScenario(Scenario):
    id = "acme-snapshots"
    title = "Public EBS snapshots"
    requires = ("acme.snapshots",)
    emits = {"public_snapshot": (Severity.HIGH,)}

    async def detect(self, data: CollectedData) -> list[Finding]:
        return [
            self.finding(
                kind="public_snapshot",
                severity=Severity.HIGH,
                title=f"Snapshot {snapshot} is public",
                description="Anyone can copy it.",
                resource=snapshot,
                region=region,
            )
            for region, snapshots in data.per_region("acme.snapshots").items()
            for snapshot in snapshots
        ]


class SnapshotShared(EventHandler):
    id = "acme-snapshot-shared"
    scenario = "acme-snapshots"
    sources = ("aws.ec2",)
    detail_types = ("AWS API Call via CloudTrail",)
    resolve_rule = "the next scan that reads the snapshot private"

    async def handle(self, event: AwsEvent, ctx: EventContext) -> EventResult:
        snapshot = event.detail["requestParameters"]["snapshotId"]
        findings = await ctx.detect(regional={"acme.snapshots": {event.region: [snapshot]}})
        return EventResult(findings=tuple(findings), note=f"{snapshot} shared")


class Undeclared(SnapshotShared):
    id = "acme-undeclared"

    async def handle(self, event: AwsEvent, ctx: EventContext) -> EventResult:
        wrong = Finding(
            scenario="acme-snapshots",
            kind="made_up",
            severity=Severity.LOW,
            title="t",
            description="d",
            resource="r",
        )
        return EventResult(findings=(wrong,))


class Broken(SnapshotShared):
    id = "acme-broken"

    async def handle(self, event: AwsEvent, ctx: EventContext) -> EventResult:
        raise RuntimeError("boom")


async def _no_snapshots(ctx: CollectorContext) -> list[str]:
    return []


SNAPSHOTS = Collector(key="acme.snapshots", fetch=_no_snapshots, regional=True, description="test")


def _plugin(name: str, scenarios: list[type[Scenario]], handlers: list[Any]) -> PluginSource:
    module = types.ModuleType(name)

    @hookimpl
    def vigilare_collectors() -> list[Collector]:
        return [SNAPSHOTS]

    @hookimpl
    def vigilare_scenarios() -> list[type[Scenario]]:
        return scenarios

    @hookimpl
    def vigilare_event_handlers() -> list[Any]:
        return handlers

    module.vigilare_collectors = vigilare_collectors  # type: ignore[attr-defined]
    module.vigilare_scenarios = vigilare_scenarios  # type: ignore[attr-defined]
    module.vigilare_event_handlers = vigilare_event_handlers  # type: ignore[attr-defined]
    return PluginSource(name=name, plugin=module, origin="acme-vigilare-extras", version="1.0")


def _snapshot_event() -> AwsEvent:
    body = {
        "version": "0",
        "id": "e1",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": ACCOUNT,
        "time": "2026-05-22T11:59:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {"eventName": "ModifySnapshotAttribute", "requestParameters": {"snapshotId": "snap-0abc"}},
    }
    event, _ = parse_event(json.dumps(body).encode(), NOW)
    return event


async def test_a_third_party_handler_reports_for_its_scenario_and_breakage_stays_its_own() -> None:
    registry = load_registry(
        extra_plugins=[_plugin("acme", [SnapshotsScenario], [SnapshotShared, Undeclared, Broken])]
    )
    assert {"acme-snapshot-shared", "acme-undeclared", "acme-broken"} <= set(registry.event_handlers)
    (acme,) = [plugin for plugin in registry.plugins if plugin.name == "acme"]
    assert acme.event_handler_ids == ("acme-snapshot-shared", "acme-undeclared", "acme-broken")

    handled = await handle_event(_snapshot_event(), registry, ACCOUNT, NOW)
    (finding,) = handled.findings
    assert (finding.scenario, finding.kind, finding.region, finding.resource) == (
        "acme-snapshots",
        "public_snapshot",
        "eu-west-1",
        "snap-0abc",
    )
    # The scenario's own detect wrote it: the fingerprint is the one its scan gives for that state.
    scanned = await SnapshotsScenario().detect(
        collected_data(regional={"acme.snapshots": {"eu-west-1": ["snap-0abc"]}}, account_id=ACCOUNT)
    )
    assert finding.fingerprint(ACCOUNT) == scanned[0].fingerprint(ACCOUNT)
    notes = " | ".join(handled.notes)
    assert "acme-snapshot-shared: snap-0abc shared" in notes
    assert "acme-undeclared refused" in notes and "made_up" in notes
    assert "acme-broken failed: RuntimeError: boom" in notes


def test_handlers_are_checked_when_their_plugin_loads() -> None:
    class NoSources(SnapshotShared):
        sources = ()

    with pytest.raises(PluginLoadError, match="sources"):
        load_registry(extra_plugins=[_plugin("acme", [SnapshotsScenario], [NoSources])])
    with pytest.raises(PluginLoadError, match="not an EventHandler"):
        load_registry(extra_plugins=[_plugin("acme", [SnapshotsScenario], [object])])

    class TakesBuiltinId(SnapshotShared):
        id = "aws-health"

    with pytest.raises(PluginLoadError, match="event handler id 'aws-health'"):
        load_registry(extra_plugins=[_plugin("acme", [SnapshotsScenario], [TakesBuiltinId])])

    # A handler for a scenario nobody loads is left out (and said so); its plugin still loads.
    class Orphan(SnapshotShared):
        id = "acme-orphan"
        scenario = "not-loaded"

    report = inspect_plugins(extra_plugins=[_plugin("acme", [SnapshotsScenario], [Orphan])])
    assert not report.errors and "acme-orphan" not in report.registry.event_handlers
    assert any("acme-orphan" in warning and "not-loaded" in warning for warning in report.warnings)


def test_every_builtin_handler_states_its_resolve_rule() -> None:
    handlers = load_registry().event_handlers
    assert set(handlers) >= {
        "aws-health",
        "guardduty-finding",
        "guardduty-detector-change",
        "root-activity",
        "iam-activity",
    }
    for handler in handlers.values():
        assert len(handler.resolve_rule) > 20, handler.id


@pytest.mark.parametrize("status", ["open", "closed"])
async def test_a_health_event_speaks_for_the_scan_fingerprint_of_its_case(status: str) -> None:
    registry = load_registry()
    body = load_event("health_abuse_dos_report", ACCOUNT)
    body["detail"]["statusCode"] = status
    event, _ = parse_event(json.dumps(body).encode(), NOW)
    handled = await handle_event(event, registry, ACCOUNT, NOW)
    # The Health API lists the same case with its ARN and the ARN's region.
    scanned = await AbuseScenario().detect(
        collected_data(
            {
                "health.events": [
                    {
                        "arn": body["detail"]["eventArn"],
                        "service": "ABUSE",
                        "eventTypeCode": "AWS_ABUSE_DOS_REPORT",
                        "region": "global",
                        "statusCode": "open",
                        "entities": [],
                    }
                ]
            },
            account_id=ACCOUNT,
        )
    )
    expected = [scanned[0].fingerprint(ACCOUNT)]
    if status == "open":
        assert [f.fingerprint(ACCOUNT) for f in handled.findings] == expected and not handled.resolved
    else:
        assert [f.fingerprint(ACCOUNT) for f in handled.resolved] == expected and not handled.findings
