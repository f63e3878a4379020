"""threat: GuardDuty high and critical findings and suspended detectors, per region, polled
incrementally (only what changed since the last poll) without losing findings that stay open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW, one_per_kind
from vigilare.aws.collectors.guardduty import is_critical_type, is_reportable
from vigilare.aws.freshness import FreshnessPolicy
from vigilare.plugin import Finding, Severity
from vigilare.scenarios.builtin.threat import ThreatScenario
from vigilare.testing import collected_data
from vigilare_sandbox import RequestLog, Sandbox
from vigilare_sandbox.seed_aws import client_for, ensure_guardduty_detector
from vigilare_sandbox.seed_events import add_guardduty_finding, touch_guardduty_finding

REGION = "eu-west-1"


def guardduty_finding(finding_type: str, severity: float, finding_id: str = "f1") -> dict[str, Any]:
    return {
        "Id": finding_id,
        "Arn": f"arn:aws:guardduty:{REGION}:{ACCOUNT_ID}:detector/d1/finding/{finding_id}",
        "Type": finding_type,
        "CriticalType": is_critical_type(finding_type),  # set by the collector
        "Severity": severity,
        "Title": f"{finding_type} seen",
        "Description": "The instance is querying a domain associated with Bitcoin mining.",
        "CreatedAt": (NOW - timedelta(hours=5)).isoformat(),
        "UpdatedAt": (NOW - timedelta(hours=1)).isoformat(),
        "Count": 12,
        "ResourceType": "Instance",
        "InstanceId": "i-0abc",
        "AccessKeyId": None,
        "UserName": None,
        "DetectorId": "d1",
    }


async def detect(
    findings: list[dict[str, Any]], detectors: list[dict[str, Any]] | None = None
) -> list[Finding]:
    data = collected_data(
        regional={"guardduty.findings": {REGION: {"detectors": detectors or [], "findings": findings}}},
        account_id=ACCOUNT_ID,
    )
    return await ThreatScenario().detect(data)


@pytest.mark.parametrize(
    ("finding_type", "severity", "expected"),
    [
        ("Backdoor:EC2/C&CActivity.B", 7.0, Severity.HIGH),
        ("Backdoor:EC2/C&CActivity.B", 8.9, Severity.HIGH),
        ("Backdoor:EC2/C&CActivity.B", 9.0, Severity.CRITICAL),
        ("CryptoCurrency:EC2/BitcoinTool.B!DNS", 8.0, Severity.CRITICAL),
        ("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS", 5.0, Severity.CRITICAL),
        ("Policy:IAMUser/RootCredentialUsage", 2.0, Severity.CRITICAL),
        ("AttackSequence:IAM/CompromisedCredentials", 8.5, Severity.CRITICAL),
    ],
)
async def test_guardduty_finding_severity_follows_bands_and_critical_types(
    finding_type: str, severity: float, expected: Severity
) -> None:
    assert is_reportable({"Type": finding_type, "Severity": severity, "Service": {"Archived": False}})
    [finding] = await detect([guardduty_finding(finding_type, severity)])
    assert finding.kind == "guardduty_finding" and finding.severity is expected
    assert finding.region == REGION and finding_type in finding.title and "i-0abc" in finding.title
    assert "12 occurrence(s)" in finding.description  # since when, and how often
    assert finding.docs_url.startswith("https://docs.aws.amazon.com/guardduty/") and finding.remediation


@pytest.mark.parametrize(
    ("finding_type", "severity", "archived"),
    [
        ("Backdoor:EC2/C&CActivity.B", 6.9, False),  # Medium band
        ("Recon:EC2/PortProbeUnprotectedPort", 2.0, False),
        ("Backdoor:EC2/C&CActivity.B", 8.0, True),  # archived by the customer
    ],
)
def test_medium_low_and_archived_findings_are_not_kept(
    finding_type: str, severity: float, archived: bool
) -> None:
    assert not is_reportable({"Type": finding_type, "Severity": severity, "Service": {"Archived": archived}})


@pytest.mark.parametrize(("status", "fires"), [("DISABLED", True), ("ENABLED", False)])
async def test_suspended_detector_is_a_finding(status: str, fires: bool) -> None:
    findings = await detect(
        [], detectors=[{"DetectorId": "d1", "Status": status, "UpdatedAt": NOW.isoformat()}]
    )
    assert [(f.kind, f.severity) for f in findings] == (
        [("guardduty_disabled", Severity.HIGH)] if fires else []
    )
    if fires:
        assert REGION in findings[0].title and "2026-05-22 12:00 UTC" in findings[0].description


# --- through the sandbox --------------------------------------------------------------------------


def steady() -> FreshnessPolicy:
    """A scheduled scan of an account scanned before: only what is due."""
    return FreshnessPolicy(now=datetime.now(UTC), full=False)


def list_requests(log: RequestLog) -> list[dict[str, Any]]:
    return [request.json()["findingCriteria"]["criterion"] for request in log.to("guardduty", "/findings")]


async def test_findings_are_found_and_polled_incrementally_keeping_open_ones(
    sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    detector = ensure_guardduty_detector(sandbox, ACCOUNT_ID, REGION)
    high = add_guardduty_finding(sandbox, ACCOUNT_ID, REGION, detector, "Backdoor:EC2/C&CActivity.B", 8.0)
    root = add_guardduty_finding(
        sandbox, ACCOUNT_ID, REGION, detector, "Policy:IAMUser/RootCredentialUsage", 2.0
    )
    add_guardduty_finding(sandbox, ACCOUNT_ID, REGION, detector, "Backdoor:EC2/C&CActivity.B", 6.9)
    add_guardduty_finding(sandbox, ACCOUNT_ID, REGION, detector, "Recon:EC2/PortProbeUnprotectedPort", 2.0)
    aws_requests.clear()

    first = await scan_sandbox(sandbox, ["threat"])
    assert first.outcomes["threat"].data_complete, first.collection_errors
    severities = {f.details["finding_id"]: f.severity for f in first.findings}
    assert severities == {high: Severity.HIGH, root: Severity.CRITICAL}
    assert all("updatedAt" not in criterion for criterion in list_requests(aws_requests))
    polled_at = first.state["guardduty.findings"][REGION]["detectors"][detector]["polled_at_ms"]

    # Between scans: one new critical finding; the two old ones do not change.
    aws_requests.clear()
    new = add_guardduty_finding(
        sandbox, ACCOUNT_ID, REGION, detector, "CryptoCurrency:EC2/BitcoinTool.B!DNS", 8.0
    )
    second = await scan_sandbox(sandbox, ["threat"], state=first.state, policy=steady())
    # One ListFindings, for whatever changed since the last poll (any severity, archived or not).
    assert list_requests(aws_requests) == [{"updatedAt": {"greaterThanOrEqual": polled_at}}]
    assert {f.details["finding_id"]: f.severity for f in second.findings} == {
        high: Severity.HIGH,
        root: Severity.CRITICAL,
        new: Severity.CRITICAL,
    }
    assert second.outcomes["threat"].data_complete
    # The unchanged findings keep their identity, so their signals stay open rather than reopen.
    assert {f.fingerprint(ACCOUNT_ID) for f in first.findings} < {
        f.fingerprint(ACCOUNT_ID) for f in second.findings
    }


async def test_archived_finding_is_resolved_on_the_next_scan(sandbox: Sandbox) -> None:
    detector = ensure_guardduty_detector(sandbox, ACCOUNT_ID, REGION)
    kept = add_guardduty_finding(sandbox, ACCOUNT_ID, REGION, detector, "Backdoor:EC2/C&CActivity.B", 8.0)
    gone = add_guardduty_finding(sandbox, ACCOUNT_ID, REGION, detector, "Trojan:EC2/DNSDataExfiltration", 8.0)
    with sandbox.state.lock:  # both last updated yesterday, long before the polls below
        for finding_id in (kept, gone):
            finding = sandbox.state.account(ACCOUNT_ID).findings[finding_id]
            finding.updated_at = finding.updated_at - timedelta(days=1)
    first = await scan_sandbox(sandbox, ["threat"])
    assert {f.details["finding_id"] for f in first.findings} == {kept, gone}

    # The customer archives one (GuardDuty does not bump updatedAt) and GuardDuty sees the other again.
    with sandbox.state.lock:
        sandbox.state.account(ACCOUNT_ID).findings[gone].archived = True
    touch_guardduty_finding(sandbox, ACCOUNT_ID, kept)
    # A scheduled scan reads only what changed: the archived one is carried until the hourly full read.
    second = await scan_sandbox(sandbox, ["threat"], state=first.state, policy=steady())
    assert {f.details["finding_id"]: f.details["count"] for f in second.findings} == {kept: 2, gone: 1}
    # A full read (a manual scan; hourly on schedule) reads every open finding again.
    third = await scan_sandbox(sandbox, ["threat"], state=second.state)
    assert third.outcomes["threat"].data_complete
    assert [f.details["finding_id"] for f in third.findings] == [kept]
    assert third.findings[0].details["count"] == 2
    open_ = third.state["guardduty.findings"][REGION]["detectors"][detector]["open"]
    assert [finding["Id"] for finding in open_] == [kept]


async def test_throttled_guardduty_is_retried_and_never_a_finding(sandbox: Sandbox) -> None:
    detector = ensure_guardduty_detector(sandbox, ACCOUNT_ID, REGION)
    finding_id = add_guardduty_finding(
        sandbox, ACCOUNT_ID, REGION, detector, "Backdoor:EC2/C&CActivity.B", 9.5
    )
    sandbox.inject_throttling("guardduty", 2)
    report = await scan_sandbox(sandbox, ["threat"])
    assert sandbox.state.pending_throttles("guardduty") == 0
    assert report.collection_errors == [] and report.outcomes["threat"].data_complete
    assert [(f.details["finding_id"], f.severity) for f in report.findings] == [
        (finding_id, Severity.CRITICAL)
    ]


async def test_suspended_detector_is_found_end_to_end(sandbox: Sandbox) -> None:
    ensure_guardduty_detector(sandbox, ACCOUNT_ID, "us-east-1")
    suspended = ensure_guardduty_detector(sandbox, ACCOUNT_ID, REGION)
    client_for(sandbox, ACCOUNT_ID, "guardduty", REGION).update_detector(DetectorId=suspended, Enable=False)
    report = await scan_sandbox(sandbox, ["threat"])
    found = one_per_kind(report.findings)
    assert found["guardduty_disabled"].severity is Severity.HIGH
    assert found["guardduty_disabled"].region == REGION
    assert suspended in found["guardduty_disabled"].resource
