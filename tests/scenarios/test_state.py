"""The per-account scan state collectors (built in or from plugins) keep between scans."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import pytest

from tests.support.aws import scan_sandbox
from vigilare.aws.freshness import FRESHNESS_KEY
from vigilare.plugin import CollectedData, Collector, CollectorContext, Finding, ScanState, Scenario, Severity
from vigilare.plugin.state import StateNotJsonError, StateStore
from vigilare.scanner import ScanTarget, scan_account
from vigilare_sandbox import Sandbox


def test_a_collector_sees_only_its_own_slice_and_unsaved_slices_are_carried() -> None:
    previous: ScanState = {
        "billing.cost_explorer": {"fetched_at": "2026-05-21T00:00:00+00:00"},
        "ec2.compute_capacity": {"us-east-1": {"first_seen": "a"}, "eu-west-1": {"first_seen": "b"}},
        "removed.plugin": {"kept": True},
    }
    store = StateStore(previous)
    assert store.previous("billing.cost_explorer", None) == {"fetched_at": "2026-05-21T00:00:00+00:00"}
    assert store.previous("ec2.compute_capacity", "eu-west-1") == {"first_seen": "b"}
    assert store.previous("ec2.compute_capacity", "ap-south-1") is None
    assert store.previous("never.saved", None) is None

    store.save("ec2.compute_capacity", "us-east-1", {"first_seen": "c"})
    store.save("billing.cost_explorer", None, {"fetched_at": "2026-05-22T00:00:00+00:00"})
    assert store.result() == {
        "billing.cost_explorer": {"fetched_at": "2026-05-22T00:00:00+00:00"},
        # eu-west-1 was not scanned (or failed) this time: its baseline survives.
        "ec2.compute_capacity": {"us-east-1": {"first_seen": "c"}, "eu-west-1": {"first_seen": "b"}},
        "removed.plugin": {"kept": True},
    }
    assert previous["ec2.compute_capacity"]["us-east-1"] == {"first_seen": "a"}, (
        "the caller's mapping is untouched"
    )


def test_state_must_be_plain_json() -> None:
    store = StateStore(None)
    with pytest.raises(StateNotJsonError, match=r"demo\.key"):
        store.save("demo.key", None, {"when": object()})
    value: dict[str, Any] = {"items": [1, 2]}
    store.save("demo.key", None, value)
    value["items"].append(3)  # later changes by the collector do not leak into the saved state
    assert store.result() == {"demo.key": {"items": [1, 2]}}


SCANS: list[Any] = []


async def count_scans(ctx: CollectorContext) -> int:
    """A plugin's collector: counts the account's scans in its own state."""
    seen = int((ctx.previous_state or {}).get("scans", 0)) + 1
    ctx.save_state({"scans": seen, "last": datetime(2026, 5, 22).isoformat()})
    return seen


async def broken(ctx: CollectorContext) -> int:
    SCANS.append(ctx.previous_state)
    raise RuntimeError("the service is down")


class ScanCounter(Scenario):
    id = "demo-counter"
    title = "Counts scans"
    requires: ClassVar[tuple[str, ...]] = ("demo.scans", "demo.broken")
    emits = {"scan_count": (Severity.LOW,)}

    async def detect(self, data: CollectedData) -> list[Finding]:
        return [
            self.finding(
                kind="scan_count",
                severity=Severity.LOW,
                title=f"scan {data['demo.scans']}",
                description="",
                resource="demo",
            )
        ]


async def test_plugin_collectors_keep_state_through_scan_account(sandbox: Sandbox) -> None:
    collectors = {
        "demo.scans": Collector(key="demo.scans", fetch=count_scans),
        "demo.broken": Collector(key="demo.broken", fetch=broken),
    }
    target = ScanTarget(aws_account_id="210987654321", role_name="VigilareAudit", external_id="ext")
    first = await scan_account(
        target,
        [ScanCounter],
        collectors=collectors,
        endpoint_url=sandbox.endpoint_url,
        state={"demo.broken": {"cursor": 41}},
    )
    assert [f.title for f in first.findings] == ["scan 1"]
    assert {key: value for key, value in first.state.items() if key != FRESHNESS_KEY} == {
        "demo.scans": {"scans": 1, "last": "2026-05-22T00:00:00"},
        "demo.broken": {"cursor": 41},  # a failed collector keeps what it had
    }
    second = await scan_account(
        target, [ScanCounter], collectors=collectors, endpoint_url=sandbox.endpoint_url, state=first.state
    )
    assert [f.title for f in second.findings] == ["scan 2"]
    assert SCANS[-1] == {"cursor": 41}


async def test_a_scan_without_previous_state_starts_empty(sandbox: Sandbox) -> None:
    report = await scan_sandbox(sandbox, ["threat"], regions=["us-east-1"])
    state = report.state["guardduty.findings"]["us-east-1"]
    assert state["detectors"] == {} and state["detector_list"] == []
    # What the scan collected and until when, for the next scan's choice of what is due.
    assert set(report.state) == {"guardduty.findings", FRESHNESS_KEY}
