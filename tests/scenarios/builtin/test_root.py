"""The ``root`` scenario: root console sign-ins and CloudTrail stopped or deleted; LookupEvents' rate."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW, grouped_by_kind
from vigilare.aws.ratelimit import RequestSpacer
from vigilare.scenarios.builtin.root import RootScenario
from vigilare.testing import collected_data
from vigilare_sandbox import fake_cloudtrail
from vigilare_sandbox.seed_aws import create_logging_trail, stop_trail_logging
from vigilare_sandbox.seed_events import add_root_console_login, add_trail_tampering

TRAIL_ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT_ID}:trail/org-trail"


def login(
    identity_type: str = "Root", mfa: str = "No", when: datetime | None = None, result: str = "Success"
):
    return {
        "eventName": "ConsoleLogin",
        "eventTime": (when or NOW - timedelta(hours=2, minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userIdentity": {"type": identity_type, "arn": f"arn:aws:iam::{ACCOUNT_ID}:root"},
        "sourceIPAddress": "203.0.113.5",
        "responseElements": {"ConsoleLogin": result},
        "additionalEventData": {"MFAUsed": mfa},
        "eventID": "e-1",
    }


def trail_change(name: str, when: datetime | None = None) -> dict:
    return {
        "eventName": name,
        "eventTime": (when or NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userIdentity": {"type": "IAMUser", "userName": "ci-deploy", "accessKeyId": "AKIAEXAMPLE"},
        "sourceIPAddress": "198.51.100.23",
        "requestParameters": {"name": TRAIL_ARN},
    }


def data(logins=(), changes=(), trails=None):
    return collected_data(
        regional={
            "cloudtrail.events": {
                "us-east-1": {"console_logins": list(logins), "trail_changes": list(changes)}
            },
            "cloudtrail.trails": {"us-east-1": trails if trails is not None else []},
        }
    )


@pytest.mark.parametrize(
    ("mfa", "kind", "severity"), [("No", "root_login_no_mfa", "CRITICAL"), ("Yes", "root_login", "HIGH")]
)
async def test_a_root_console_login_is_reported(mfa, kind, severity):
    [finding] = await RootScenario().detect(data([login(mfa=mfa)]))
    assert (finding.kind, finding.severity, finding.region) == (kind, severity, "us-east-1")
    mfa_text = "without MFA" if mfa == "No" else "with MFA"
    assert finding.title == (
        f"Root account console login {mfa_text} from 203.0.113.5 in us-east-1 at 2026-05-22 09:45 UTC"
    )
    assert finding.remediation and finding.docs_url.startswith("https://")


@pytest.mark.parametrize(
    "seen",
    [
        login(identity_type="IAMUser"),
        login(when=NOW - timedelta(hours=24, minutes=1)),  # just outside the 24 hours
        login(result="Failure"),
    ],
    ids=["iam-user", "older-than-24h", "failed-attempt"],
)
async def test_other_sign_ins_are_not_root_logins(seen):
    assert await RootScenario().detect(data([seen])) == []


async def test_a_login_just_inside_24_hours_still_counts():
    [finding] = await RootScenario().detect(data([login(when=NOW - timedelta(hours=23, minutes=59))]))
    assert finding.kind == "root_login_no_mfa"


async def test_a_trail_not_logging_is_high_with_who_stopped_it():
    trail = {"TrailARN": TRAIL_ARN, "Name": "org-trail", "IsMultiRegionTrail": True}
    trail["Status"] = {"IsLogging": False, "StopLoggingTime": NOW - timedelta(hours=1)}
    [finding] = await RootScenario().detect(data(changes=[trail_change("StopLogging")], trails=[trail]))
    assert (finding.kind, finding.severity, finding.resource) == ("cloudtrail_stopped", "HIGH", TRAIL_ARN)
    assert "since 2026-05-22 11:00 UTC" in finding.title and "ci-deploy" in finding.description


async def test_a_trail_logging_again_is_not_reported_even_after_a_stop_event():
    trail = {"TrailARN": TRAIL_ARN, "Name": "org-trail", "Status": {"IsLogging": True}}
    assert await RootScenario().detect(data(changes=[trail_change("StopLogging")], trails=[trail])) == []


async def test_a_deleted_trail_is_high_unless_it_exists_again():
    [finding] = await RootScenario().detect(data(changes=[trail_change("DeleteTrail")]))
    assert (finding.kind, finding.severity) == ("trail_deleted", "HIGH")
    assert finding.title == "CloudTrail trail org-trail deleted in us-east-1 at 2026-05-22 11:00 UTC"
    recreated = {"TrailARN": TRAIL_ARN, "Name": "org-trail", "Status": {"IsLogging": True}}
    assert await RootScenario().detect(data(changes=[trail_change("DeleteTrail")], trails=[recreated])) == []


async def test_a_deletion_older_than_seven_days_is_not_reported():
    old = trail_change("DeleteTrail", when=NOW - timedelta(days=7, minutes=1))
    assert await RootScenario().detect(data(changes=[old])) == []


async def test_sandbox_root_login_and_silenced_trails_are_found(sandbox):
    account = "320000000001"
    add_root_console_login(sandbox, account, mfa_used=False, source_ip="203.0.113.5")
    add_root_console_login(sandbox, account, mfa_used=True, region="eu-west-1")
    trail = create_logging_trail(sandbox, account, "org-trail")
    stop_trail_logging(sandbox, account, "org-trail")
    deleted = f"arn:aws:cloudtrail:us-east-1:{account}:trail/audit-trail"
    add_trail_tampering(sandbox, account, [("StopLogging", trail), ("DeleteTrail", deleted)])

    report = await scan_sandbox(sandbox, [RootScenario], account_id=account)

    assert report.status == "ok" and report.collection_errors == []
    found = {
        kind: [(f.severity, f.region, f.resource) for f in group]
        for kind, group in grouped_by_kind(report.findings).items()
    }
    assert found == {
        "root_login_no_mfa": [("CRITICAL", "us-east-1", f"arn:aws:iam::{account}:root")],
        "root_login": [("HIGH", "eu-west-1", f"arn:aws:iam::{account}:root")],
        "cloudtrail_stopped": [("HIGH", "us-east-1", trail)],
        "trail_deleted": [("HIGH", "us-east-1", deleted)],
    }


async def test_throttled_lookups_are_retried_not_reported(sandbox):
    account = "320000000002"
    add_root_console_login(sandbox, account, mfa_used=False)
    sandbox.inject_throttling("cloudtrail", 2)

    report = await scan_sandbox(sandbox, [RootScenario], account_id=account)

    assert sandbox.state.pending_throttles("cloudtrail") == 0
    assert report.status == "ok" and report.collection_errors == []
    assert [finding.kind for finding in report.findings] == ["root_login_no_mfa"]


async def test_lookup_events_stay_under_two_requests_a_second_per_region(sandbox, monkeypatch):
    account = "320000000003"
    started = datetime.now(UTC) - timedelta(hours=3)
    for index in range(120):  # three pages of ConsoleLogin in us-east-1
        add_root_console_login(sandbox, account, when=started + timedelta(seconds=index))
    requests: dict[str, list[float]] = {}
    answer = fake_cloudtrail.lookup_events

    def recording(account_state, region, body):
        requests.setdefault(region, []).append(time.monotonic())
        return answer(account_state, region, body)

    monkeypatch.setattr(fake_cloudtrail, "lookup_events", recording)

    report = await scan_sandbox(sandbox, [RootScenario], account_id=account)

    assert len(requests["us-east-1"]) == 5  # 3 pages of ConsoleLogin, StopLogging, DeleteTrail
    for region, moments in requests.items():
        # No one-second window holds a third request.
        third_apart = zip(moments, moments[2:], strict=False)
        assert all(later - earlier >= 1.0 for earlier, later in third_apart), (region, moments)
    [finding] = report.findings
    assert len(finding.details["logins"]) == 120


async def test_the_spacer_counts_from_the_end_of_the_previous_request():
    spacer = RequestSpacer(4.0)
    spans = []
    for _ in range(3):
        async with spacer.slot():
            started = time.monotonic()
            await asyncio.sleep(0.1)  # the request itself
            spans.append((started, time.monotonic()))
    assert all(nxt[0] - prev[1] >= 0.249 for prev, nxt in itertools.pairwise(spans))
