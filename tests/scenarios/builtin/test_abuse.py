"""The ``abuse`` scenario: open AWS Health RISK / ABUSE events, their deadline, and Basic support."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.aws import scan_sandbox
from tests.support.findings import NOW, grouped_by_kind
from vigilare.plugin import Capability, find_deadline
from vigilare.scenarios.builtin.abuse import AbuseScenario
from vigilare.scenarios.builtin.iam import IamScenario
from vigilare.testing import collected_data
from vigilare_sandbox.seed_aws import create_quarantined_user
from vigilare_sandbox.seed_events import add_abuse_event, add_exposed_credentials_event, set_support_plan
from vigilare_sandbox.state import SupportPlan

EVENT_ARN = "arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_abc"


def health_event(service: str = "RISK", status: str = "open", description: str = "", **extra: object) -> dict:
    code = "AWS_RISK_CREDENTIALS_EXPOSED" if service == "RISK" else "AWS_ABUSE_EC2_BOTNET_REPORT"
    return {
        "arn": EVENT_ARN if service == "RISK" else EVENT_ARN.replace("RISK", "ABUSE"),
        "service": service,
        "eventTypeCode": code,
        "region": "global",
        "statusCode": status,
        "startTime": NOW - timedelta(hours=5),
        "description": description,
        "metadata": {},
        "entities": [{"entityValue": "AKIAEXAMPLEKEY123456"}],
        **extra,
    }


@pytest.mark.parametrize(
    ("service", "kind"), [("RISK", "health_risk_event"), ("ABUSE", "health_abuse_event")]
)
async def test_an_open_event_is_critical_and_states_the_deadline(service, kind):
    text = "Please reply. If you do not respond by 2026-05-27 09:45 UTC, we may suspend your account."
    data = collected_data({"health.events": [health_event(service, description=text)]})

    [finding] = await AbuseScenario().detect(data)

    assert (finding.kind, finding.severity) == (kind, "CRITICAL")
    assert finding.details["deadline"] == "2026-05-27T09:45:00+00:00"
    assert "2026-05-27 09:45 UTC" in finding.title and "2026-05-27 09:45 UTC" in finding.description
    assert "AKIAEXAMPLEKEY123456" in finding.title and "since 2026-05-22 07:00 UTC" in finding.description
    assert finding.remediation and finding.docs_url.startswith("https://")


@pytest.mark.parametrize("status", ["closed"])
async def test_a_closed_event_is_not_a_finding(status):
    data = collected_data({"health.events": [health_event(status=status)]})
    assert await AbuseScenario().detect(data) == []


async def test_an_event_of_another_service_is_not_a_finding():
    event = health_event()
    event["service"] = "EC2"
    assert await AbuseScenario().detect(collected_data({"health.events": [event]})) == []


async def test_without_a_deadline_the_finding_says_to_answer_early():
    [finding] = await AbuseScenario().detect(collected_data({"health.events": [health_event()]}))
    assert finding.details["deadline"] is None and "as soon as possible" in finding.title


@pytest.mark.parametrize(
    ("text", "metadata", "expected"),
    [
        (
            "If you do not respond by 2026-05-27 09:45 UTC, we may",
            {},
            datetime(2026, 5, 27, 9, 45, tzinfo=UTC),
        ),
        ("contact AWS by May 27, 2026, we may suspend", {}, datetime(2026, 5, 27, tzinfo=UTC)),
        ("respond by June 3, 2026 at 5:30 PM", {}, datetime(2026, 6, 3, 17, 30, tzinfo=UTC)),
        ("no date here", {"deadline": "2026-05-28T10:00:00Z"}, datetime(2026, 5, 28, 10, tzinfo=UTC)),
        ("no date here", {}, None),
    ],
)
def test_the_deadline_is_read_from_the_text_or_metadata(text, metadata, expected):
    assert find_deadline(text, metadata) == expected


async def test_health_unavailable_gives_no_finding_and_marks_the_data_incomplete():
    unavailable = Capability(name="health_api", available=False, reason="plan", key="health.events")
    data = collected_data({"health.events": None}, capabilities=[unavailable])
    assert await AbuseScenario().detect(data) == []
    # Incomplete data keeps open abuse signals open instead of resolving them.
    assert not data.is_complete("health.events") and data.errors == ()


async def test_sandbox_events_are_collected_with_deadline_and_affected_resources(sandbox):
    account = "310000000001"
    deadline = (datetime.now(UTC) + timedelta(days=4)).replace(second=0, microsecond=0)
    key = create_quarantined_user(sandbox, account, "ci-deploy")
    risk = add_exposed_credentials_event(sandbox, account, key.access_key_id, deadline)
    instance = f"arn:aws:ec2:eu-west-1:{account}:instance/i-0abc"
    abuse = add_abuse_event(sandbox, account, [instance], "AWS_ABUSE_EC2_BOTNET_REPORT", deadline)
    add_abuse_event(sandbox, account, [instance])  # a closed one must not count
    closed = sandbox.state.account(account).health_events
    list(closed.values())[-1].status_code = "closed"

    report = await scan_sandbox(sandbox, [AbuseScenario], account_id=account)

    assert report.status == "ok" and report.collection_errors == []
    found = {finding.resource: finding for finding in report.findings}
    assert set(found) == {risk, abuse}
    assert found[risk].kind == "health_risk_event" and key.access_key_id in found[risk].title
    assert found[abuse].details["affected_entities"] == [instance]
    assert found[abuse].details["deadline"] == deadline.isoformat()
    assert all(finding.severity == "CRITICAL" for finding in report.findings)
    assert [(c.name, c.available) for c in report.capabilities] == [("health_api", True)]


async def test_basic_support_records_the_capability_and_the_quarantine_check_stands_in(sandbox):
    account = "310000000002"
    set_support_plan(sandbox, account, SupportPlan.BASIC)
    key = create_quarantined_user(sandbox, account, "ci-deploy")
    add_exposed_credentials_event(sandbox, account, key.access_key_id, datetime.now(UTC) + timedelta(days=3))

    report = await scan_sandbox(sandbox, [AbuseScenario, IamScenario], account_id=account)

    assert report.status == "ok" and report.collection_errors == []
    [capability] = report.capabilities
    assert (capability.name, capability.available) == ("health_api", False)
    assert "Business" in capability.reason
    assert "health_risk_event" not in grouped_by_kind(report.findings)
    assert grouped_by_kind(report.findings)["quarantine_policy"][0].severity == "CRITICAL"
    assert report.outcomes["abuse"].status == "ok" and not report.outcomes["abuse"].data_complete


async def test_throttled_health_calls_are_retried_not_reported(sandbox):
    account = "310000000003"
    add_exposed_credentials_event(
        sandbox, account, "AKIATHROTTLED0000001", datetime.now(UTC) + timedelta(days=2)
    )
    sandbox.inject_throttling("health", 2)

    report = await scan_sandbox(sandbox, [AbuseScenario], account_id=account)

    assert sandbox.state.pending_throttles("health") == 0
    assert report.status == "ok" and report.collection_errors == []
    assert [finding.kind for finding in report.findings] == ["health_risk_event"]
