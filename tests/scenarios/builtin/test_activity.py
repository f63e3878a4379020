"""The ``activity`` scenario: risky write calls of the last 24 hours in CloudTrail event history.

Through the sandbox, whose LookupEvents answers as the CloudTrail API reference documents (one lookup
attribute per request, 50 records a page, the record as a JSON string:
https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html), and in memory.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW
from vigilare.aws.collectors.trail_writes import GLOBAL_EVENT_NAMES, REGIONAL_EVENT_NAMES
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.activity import ActivityScenario
from vigilare.scenarios.builtin.root import RootScenario
from vigilare.testing import RunScenario
from vigilare_sandbox import Sandbox, fake_cloudtrail
from vigilare_sandbox.seed_events import add_root_console_login, add_write_call

IAM = "iam.amazonaws.com"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def record(
    name: str,
    params: dict[str, Any] | None = None,
    *,
    ago: timedelta = timedelta(hours=2),
    user: str = "ci-deploy",
    root: bool = False,
    error: str | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    identity = (
        {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT_ID}:root"}
        if root
        else {"type": "IAMUser", "userName": user, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"}
    )
    entry: dict[str, Any] = {
        "eventID": f"{name}-{ago}",
        "eventName": name,
        "eventTime": (NOW - ago).isoformat(),
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.77",
        "userIdentity": identity,
        "requestParameters": params,
    }
    if error:
        entry["errorCode"] = error
    return entry


async def detect(run_scenario: RunScenario, *records: dict[str, Any], region: str = "us-east-1") -> list[Any]:
    return await run_scenario(
        ActivityScenario,
        regional={"cloudtrail.write_events": {region: {"events": list(records), "checked_until": None}}},
    )


@pytest.mark.parametrize(
    ("name", "params", "resource"),
    [
        ("CreateUser", {"userName": "backup-admin"}, "user/backup-admin"),
        ("CreateAccessKey", {"userName": "alice"}, "user/alice"),
        ("CreateLoginProfile", {"userName": "alice"}, "user/alice"),
        ("UpdateLoginProfile", {"userName": "alice"}, "user/alice"),
        ("DeactivateMFADevice", {"userName": "alice", "serialNumber": "arn:mfa"}, "user/alice"),
        ("AttachUserPolicy", {"userName": "alice", "policyArn": ADMIN}, "user/alice"),
        ("AttachRolePolicy", {"roleName": "app", "policyArn": ADMIN}, "role/app"),
        ("AttachGroupPolicy", {"groupName": "devs", "policyArn": ADMIN}, "group/devs"),
        ("UpdateAssumeRolePolicy", {"roleName": "app", "policyDocument": "{}"}, "role/app"),
    ],
)
async def test_each_risky_iam_call_is_high_and_names_what_it_changed(
    run_scenario: RunScenario, name: str, params: dict[str, Any], resource: str
) -> None:
    [finding] = await detect(run_scenario, record(name, params))
    assert (finding.kind, finding.severity) == ("iam_persistence_change", Severity.HIGH)
    assert finding.resource == f"arn:aws:iam::{ACCOUNT_ID}:{resource}"
    assert name in finding.title and "203.0.113.77" in finding.description


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(record("CreateAccessKey", {}), id="own-key-rotation"),
        pytest.param(record("CreateAccessKey", {"userName": "ci-deploy"}), id="own-key-named"),
        pytest.param(
            record(
                "AttachUserPolicy", {"userName": "a", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
            ),
            id="non-admin-policy",
        ),
        pytest.param(record("CreateUser", {"userName": "x"}, ago=timedelta(hours=25)), id="older-than-a-day"),
        pytest.param(record("CreateUser", {"userName": "x"}, error="AccessDenied"), id="refused-call"),
        pytest.param(record("UpdateDetector", {"detectorId": "d1", "enable": True}), id="detector-enabled"),
    ],
)
async def test_routine_or_refused_calls_are_not_reported(
    run_scenario: RunScenario, entry: dict[str, Any]
) -> None:
    assert await detect(run_scenario, entry) == []


async def test_root_making_iam_changes_is_critical(run_scenario: RunScenario) -> None:
    [finding] = await detect(run_scenario, record("CreateUser", {"userName": "x"}, root=True))
    assert finding.severity is Severity.CRITICAL


async def test_detection_switched_off_regions_enabled_and_leaving_the_organization(
    run_scenario: RunScenario,
) -> None:
    findings = await detect(
        run_scenario,
        record("DeleteDetector", {"detectorId": "abc123"}, region="eu-west-1"),
        record("UpdateDetector", {"detectorId": "def456", "enable": False}, region="eu-west-1"),
        record(
            "DeleteFlowLogs",
            {"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-0123", "tag": 1}}},
            region="eu-west-1",
        ),
        record("EnableRegion", {"regionName": "me-central-1"}),
        record("LeaveOrganization", {}),
    )
    assert sorted((f.kind, f.severity, f.region, f.resource) for f in findings) == sorted(
        [
            (
                "detection_disabled",
                "HIGH",
                "eu-west-1",
                f"arn:aws:guardduty:eu-west-1:{ACCOUNT_ID}:detector/abc123",
            ),
            (
                "detection_disabled",
                "HIGH",
                "eu-west-1",
                f"arn:aws:guardduty:eu-west-1:{ACCOUNT_ID}:detector/def456",
            ),
            (
                "detection_disabled",
                "HIGH",
                "eu-west-1",
                f"arn:aws:ec2:eu-west-1:{ACCOUNT_ID}:flow-log/fl-0123",
            ),
            ("region_enabled", "HIGH", "me-central-1", f"arn:aws:account::{ACCOUNT_ID}:region/me-central-1"),
            ("left_organization", "CRITICAL", "global", f"arn:aws:organizations::{ACCOUNT_ID}:account"),
        ]
    )


# --- through the sandbox --------------------------------------------------------------------------


async def test_risky_calls_in_event_history_are_found_end_to_end(sandbox: Sandbox) -> None:
    add_write_call(sandbox, ACCOUNT_ID, "CreateUser", IAM, {"userName": "svc-backup"})
    add_write_call(
        sandbox, ACCOUNT_ID, "AttachUserPolicy", IAM, {"userName": "svc-backup", "policyArn": ADMIN}
    )
    add_write_call(sandbox, ACCOUNT_ID, "CreateAccessKey", IAM, {"userName": "svc-backup"})
    add_write_call(sandbox, ACCOUNT_ID, "CreateAccessKey", IAM, {})  # own rotation
    add_write_call(
        sandbox,
        ACCOUNT_ID,
        "DeleteDetector",
        "guardduty.amazonaws.com",
        {"detectorId": "gd1"},
        region="eu-west-1",
    )
    add_write_call(
        sandbox,
        ACCOUNT_ID,
        "CreateUser",
        IAM,
        {"userName": "old"},
        when=datetime.now(UTC) - timedelta(days=2),
    )

    report = await scan_sandbox(sandbox, [ActivityScenario])

    assert report.outcomes["activity"].status == "ok"
    assert sorted((f.kind, f.resource) for f in report.findings) == [
        ("detection_disabled", f"arn:aws:guardduty:eu-west-1:{ACCOUNT_ID}:detector/gd1"),
        ("iam_persistence_change", f"arn:aws:iam::{ACCOUNT_ID}:user/svc-backup"),
    ]
    [iam_change] = [f for f in report.findings if f.kind == "iam_persistence_change"]
    assert iam_change.details["event_names"] == ["AttachUserPolicy", "CreateAccessKey", "CreateUser"]


async def test_no_risky_call_means_no_finding(sandbox: Sandbox) -> None:
    add_write_call(sandbox, ACCOUNT_ID, "CreateAccessKey", IAM, {})

    report = await scan_sandbox(sandbox, [ActivityScenario])

    assert report.outcomes["activity"].status == "ok"
    assert report.findings == []


async def test_throttled_lookups_are_retried_not_reported(sandbox: Sandbox) -> None:
    add_write_call(sandbox, ACCOUNT_ID, "CreateUser", IAM, {"userName": "svc-backup"})
    sandbox.inject_throttling("cloudtrail", 2, operation="LookupEvents", account_id=ACCOUNT_ID)

    report = await scan_sandbox(sandbox, [ActivityScenario])

    assert sandbox.state.pending_throttles("cloudtrail") == 0
    assert report.collection_errors == []
    assert [f.kind for f in report.findings] == ["iam_persistence_change"]


async def test_a_scan_within_the_hour_reuses_the_history_and_makes_no_lookup(
    sandbox: Sandbox, monkeypatch
) -> None:
    add_write_call(sandbox, ACCOUNT_ID, "CreateUser", IAM, {"userName": "svc-backup"})
    first = await scan_sandbox(sandbox, [ActivityScenario])
    calls: list[str] = []
    answer = fake_cloudtrail.lookup_events

    def counting(account_state, region, body):
        calls.append(region)
        return answer(account_state, region, body)

    monkeypatch.setattr(fake_cloudtrail, "lookup_events", counting)

    second = await scan_sandbox(sandbox, [ActivityScenario], state=first.state)

    assert calls == []
    assert [f.resource for f in second.findings] == [f.resource for f in first.findings]


async def test_sign_in_and_write_lookups_together_stay_under_two_requests_a_second(
    sandbox: Sandbox, monkeypatch
) -> None:
    add_root_console_login(sandbox, ACCOUNT_ID, mfa_used=True)
    moments: dict[str, list[float]] = {}
    answer = fake_cloudtrail.lookup_events

    def recording(account_state, region, body):
        moments.setdefault(region, []).append(time.monotonic())
        return answer(account_state, region, body)

    monkeypatch.setattr(fake_cloudtrail, "lookup_events", recording)

    await scan_sandbox(sandbox, [ActivityScenario, RootScenario], regions=("us-east-1", "eu-west-1"))

    # Sign-ins (1) and trail changes (2) plus every risky event name, each one request here.
    assert len(moments["us-east-1"]) == 3 + len(GLOBAL_EVENT_NAMES) + len(REGIONAL_EVENT_NAMES)
    for region, times in moments.items():
        third_apart = zip(times, times[2:], strict=False)
        assert all(later - earlier >= 1.0 for earlier, later in third_apart), (region, times)
