"""The ``email`` scenario: SES enforcement status and bounce / complaint rates against AWS's lines."""

from __future__ import annotations

import pytest

from tests.support.aws import scan_sandbox
from tests.support.findings import NOW, grouped_by_kind
from vigilare.scenarios.builtin.email import EmailScenario
from vigilare.testing import collected_data
from vigilare_sandbox.seed_aws import put_ses_reputation
from vigilare_sandbox.seed_events import set_ses_enforcement


def reputation(bounce: float | None = None, complaint: float | None = None) -> dict:
    def point(value):
        return None if value is None else {"value": value, "timestamp": NOW}

    return {"bounce_rate": point(bounce), "complaint_rate": point(complaint)}


def data(ses=None, rates=None):
    return collected_data(
        regional={
            "ses.account": {"eu-west-1": ses or {"EnforcementStatus": "HEALTHY", "SendingEnabled": True}},
            "ses.reputation": {"eu-west-1": rates or reputation()},
        }
    )


@pytest.mark.parametrize(
    ("status", "kind", "severity"),
    [("PROBATION", "ses_probation", "HIGH"), ("SHUTDOWN", "ses_shutdown", "CRITICAL")],
)
async def test_enforcement_status_is_reported(status, kind, severity):
    ses = {"EnforcementStatus": status, "SendingEnabled": status != "SHUTDOWN"}
    [finding] = await EmailScenario().detect(data(ses=ses))
    assert (finding.kind, finding.severity, finding.region) == (kind, severity, "eu-west-1")
    assert "eu-west-1" in finding.title and finding.remediation and finding.docs_url.startswith("https://")


async def test_a_healthy_account_is_not_reported():
    assert await EmailScenario().detect(data()) == []


@pytest.mark.parametrize(
    ("bounce", "severity"),
    [
        (0.0199, None),
        (0.02, "MEDIUM"),
        (0.0499, "MEDIUM"),
        (0.05, "HIGH"),
        (0.0999, "HIGH"),
        (0.10, "CRITICAL"),
    ],
)
async def test_bounce_rate_bands(bounce, severity):
    findings = await EmailScenario().detect(data(rates=reputation(bounce=bounce)))
    assert [(f.kind, f.severity) for f in findings] == ([("ses_bounce_rate", severity)] if severity else [])


@pytest.mark.parametrize(
    ("complaint", "severity"),
    [
        (0.00049, None),
        (0.0005, "MEDIUM"),
        (0.00099, "MEDIUM"),
        (0.001, "HIGH"),
        (0.00499, "HIGH"),
        (0.005, "CRITICAL"),
    ],
)
async def test_complaint_rate_bands(complaint, severity):
    findings = await EmailScenario().detect(data(rates=reputation(complaint=complaint)))
    assert [(f.kind, f.severity) for f in findings] == (
        [("ses_complaint_rate", severity)] if severity else []
    )


async def test_the_rate_finding_says_what_where_and_when():
    [finding] = await EmailScenario().detect(data(rates=reputation(bounce=0.08)))
    assert finding.title == (
        "Amazon SES bounce rate 8 % in eu-west-1 at 2026-05-22 12:00 UTC "
        "(AWS puts the account under review at 5 %)"
    )


async def test_sandbox_ses_state_is_collected_in_each_region(sandbox):
    account = "330000000001"
    set_ses_enforcement(sandbox, account, "us-east-1", "PROBATION")
    set_ses_enforcement(sandbox, account, "eu-west-1", "SHUTDOWN")
    put_ses_reputation(sandbox, account, "us-east-1", bounce_rate=0.11, complaint_rate=0.0004)
    put_ses_reputation(sandbox, account, "ap-southeast-2", bounce_rate=0.019, complaint_rate=0.0012)

    report = await scan_sandbox(sandbox, [EmailScenario], account_id=account)

    assert report.status == "ok" and report.collection_errors == []
    found = {(f.kind, f.region): f.severity for f in report.findings}
    assert found == {
        ("ses_probation", "us-east-1"): "HIGH",
        ("ses_shutdown", "eu-west-1"): "CRITICAL",
        ("ses_bounce_rate", "us-east-1"): "CRITICAL",
        ("ses_complaint_rate", "ap-southeast-2"): "HIGH",
    }


async def test_throttled_ses_calls_are_retried_not_reported(sandbox):
    account = "330000000002"
    set_ses_enforcement(sandbox, account, "us-east-1", "PROBATION")
    sandbox.inject_throttling("ses", 2)

    report = await scan_sandbox(sandbox, [EmailScenario], account_id=account)

    assert sandbox.state.pending_throttles("ses") == 0
    assert report.status == "ok" and report.collection_errors == []
    assert list(grouped_by_kind(report.findings)) == ["ses_probation"]
