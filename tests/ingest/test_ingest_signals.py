"""What pushed events become: signals with the scan's fingerprints, their resolve rules, the score
and alerts, and a Basic-support account whose risk case arrives only by push."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.ingest.conftest import open_signal, processed_event, push_account
from tests.ingest.ingest_support import load_event
from tests.support.accounts import rescan
from tests.support.db import db_session
from vigilare.accounts.models import AwsAccount
from vigilare.scans.models import Scan
from vigilare_sandbox.eventbridge import (
    cloudtrail_envelope,
    guardduty_finding_envelope,
    health_event_envelope,
)
from vigilare_sandbox.seed_aws import create_logging_trail, ensure_guardduty_detector, stop_trail_logging
from vigilare_sandbox.seed_events import (
    add_abuse_event,
    add_guardduty_finding,
    add_root_console_login,
    add_trail_tampering,
)
from vigilare_sandbox.state import SupportPlan


def _key(signal: dict[str, Any]) -> tuple[str, ...]:
    return (signal["scenario"], signal["kind"], signal["region"], signal["resource"])


async def test_a_pushed_health_case_and_its_scan_are_one_signal_until_closed(http, sandbox, pg_url):
    account = await push_account(http, sandbox)
    event_arn = add_abuse_event(sandbox, account.aws_account_id, ["arn:aws:ec2:us-east-1:1:instance/i-0abc"])
    pushed = health_event_envelope(sandbox, account.aws_account_id, event_arn)
    assert pushed["detail-type"] == "AWS Health Abuse Event"
    assert (await account.deliver(http, pushed)).status_code == 202
    signal = await open_signal(account, http, "health_abuse_event")
    assert signal["detected_by"] == "event" and signal["resource"] == event_arn
    assert signal["severity"] == "CRITICAL" and "port scanning" in signal["title"]

    # Without a trail, CloudTrail-delivered events cannot reach EventBridge: the account says so.
    capability = (await account.details(http))["capabilities"]["cloudtrail_events"]
    assert capability["available"] is False and "No CloudTrail trail is logging" in capability["reason"]
    create_logging_trail(sandbox, account.aws_account_id, "org-trail")

    # The next scan reads the same case from the Health API: it updates the signal, never a second.
    await rescan(http, account.headers, account.aws_account_id)
    assert (await account.details(http))["capabilities"]["cloudtrail_events"]["available"] is True
    abuse = [s for s in await account.signals(http, scenario="abuse")]
    assert [(s["signal_id"], s["resolved_at"]) for s in abuse] == [(signal["signal_id"], None)]
    assert abuse[0]["detected_by"] == "event" and abuse[0]["last_seen_at"] > signal["last_seen_at"]

    # Resolve rule: AWS updates the case to closed.
    with sandbox.state.lock:
        sandbox.state.account(account.aws_account_id).health_events[event_arn].status_code = "closed"
    closed = health_event_envelope(sandbox, account.aws_account_id, event_arn)
    assert (await account.deliver(http, closed)).status_code == 202
    row = await processed_event(pg_url, account.aws_account_id, closed["id"])
    assert "closed" in row.outcome and "1 resolved" in row.outcome
    (after,) = await account.signals(http, scenario="abuse")
    assert after["signal_id"] == signal["signal_id"] and after["resolved_at"] is not None


async def test_a_pushed_guardduty_finding_and_its_scan_are_one_signal_until_archived(http, sandbox, pg_url):
    account = await push_account(http, sandbox)
    detector = ensure_guardduty_detector(sandbox, account.aws_account_id, "eu-west-1")
    finding_id = add_guardduty_finding(
        sandbox, account.aws_account_id, "eu-west-1", detector, "CryptoCurrency:EC2/BitcoinTool.B!DNS", 8.0
    )
    event = guardduty_finding_envelope(sandbox, account.aws_account_id, finding_id)
    assert (await account.deliver(http, event)).status_code == 202
    signal = await open_signal(account, http, "guardduty_finding")
    # A crypto-mining type is critical whatever GuardDuty's severity: as the scan judges it.
    assert (signal["severity"], signal["region"], signal["detected_by"]) == ("CRITICAL", "eu-west-1", "event")

    await rescan(http, account.headers, account.aws_account_id)
    threat = [s for s in await account.signals(http, scenario="threat") if s["kind"] == "guardduty_finding"]
    assert [(s["signal_id"], s["resolved_at"]) for s in threat] == [(signal["signal_id"], None)]

    with sandbox.state.lock:
        sandbox.state.account(account.aws_account_id).findings[finding_id].archived = True
    archived = guardduty_finding_envelope(sandbox, account.aws_account_id, finding_id)
    archived["id"] = "archived-update"
    assert (await account.deliver(http, archived)).status_code == 202
    row = await processed_event(pg_url, account.aws_account_id, "archived-update")
    assert "archived" in row.outcome and "1 resolved" in row.outcome
    (after,) = [s for s in await account.signals(http, scenario="threat") if s["kind"] == "guardduty_finding"]
    assert after["resolved_at"] is not None


async def test_root_sign_in_and_a_stopped_trail_pushed_then_scanned_are_one_signal_each(http, sandbox):
    account = await push_account(http, sandbox)
    aws_id = account.aws_account_id
    login = add_root_console_login(sandbox, aws_id, when=datetime.now(UTC) - timedelta(minutes=5))
    trail_arn = create_logging_trail(sandbox, aws_id, "main")
    stop_trail_logging(sandbox, aws_id, "main")
    (stop,) = add_trail_tampering(sandbox, aws_id, [("StopLogging", trail_arn)])
    sign_in = cloudtrail_envelope(sandbox, aws_id, login)
    assert (sign_in["source"], sign_in["detail-type"]) == ("aws.signin", "AWS Console Sign In via CloudTrail")
    for event in (sign_in, cloudtrail_envelope(sandbox, aws_id, stop)):
        assert (await account.deliver(http, event)).status_code == 202
    pushed_login = await open_signal(account, http, "root_login_no_mfa")
    pushed_trail = await open_signal(account, http, "cloudtrail_stopped")
    assert pushed_trail["resource"] == trail_arn and pushed_login["resource"] == f"arn:aws:iam::{aws_id}:root"

    await rescan(http, account.headers, account.aws_account_id)
    root = [s for s in await account.signals(http, scenario="root") if s["resolved_at"] is None]
    assert sorted(_key(s) for s in root) == sorted([_key(pushed_login), _key(pushed_trail)])
    assert {s["signal_id"] for s in root} == {pushed_login["signal_id"], pushed_trail["signal_id"]}


async def test_documented_events_become_the_signals_their_handlers_promise(http, sandbox, pg_url):
    account = await push_account(http, sandbox)
    aws_id = account.aws_account_id
    now = datetime.now(UTC)

    # The documented root sign-in, as it happens now.
    sign_in = load_event("console_sign_in_root", aws_id, now=now)
    assert (await account.deliver(http, sign_in)).status_code == 202
    login = await open_signal(account, http, "root_login_no_mfa")
    assert login["detected_by"] == "event" and login["region"] == "us-east-1" and "0.0.0.0" in login["title"]
    # ... and as documented, years old: older than the 24 hours the root scenario looks at.
    old = load_event("console_sign_in_root", aws_id, id="old-sign-in")
    assert (await account.deliver(http, old)).status_code == 202
    assert "nothing to report" in (await processed_event(pg_url, aws_id, "old-sign-in")).outcome

    stop = load_event("cloudtrail_stop_logging", aws_id, now=now)
    assert (await account.deliver(http, stop)).status_code == 202
    stopped = await open_signal(account, http, "cloudtrail_stopped")
    assert (stopped["resource"], stopped["region"]) == (
        f"arn:aws:cloudtrail:us-east-2:{aws_id}:trail/main",
        "us-east-2",
    )
    assert "mallory" in stopped["description"]
    failed = load_event("cloudtrail_stop_logging", aws_id, now=now, id="failed-call")
    failed["detail"]["errorCode"] = "AccessDenied"
    assert (await account.deliver(http, failed)).status_code == 202
    assert "failed (AccessDenied)" in (await processed_event(pg_url, aws_id, "failed-call")).outcome

    quarantine = load_event("cloudtrail_attach_quarantine_policy", aws_id)
    assert (await account.deliver(http, quarantine)).status_code == 202
    quarantined = await open_signal(account, http, "quarantine_policy")
    assert quarantined["resource"] == f"arn:aws:iam::{aws_id}:user/ci-deployer"

    ordinary = load_event("health_event_elb_api_issue", aws_id)
    assert (await account.deliver(http, ordinary)).status_code == 202
    row = await processed_event(pg_url, aws_id, ordinary["id"])
    assert "not a risk or abuse case" in row.outcome
    assert not [s for s in await account.signals(http, scenario="abuse")]

    # A new IAM user changes what the scan judges as a whole: it asks for a scan now.
    created = load_event("cloudtrail_create_user", aws_id)
    assert (await account.deliver(http, created)).status_code == 202
    row = await processed_event(pg_url, aws_id, created["id"])
    assert "CreateUser" in row.outcome and ("queued" in row.outcome or "on its way" in row.outcome)
    async with db_session(pg_url) as session:
        triggers = await session.scalars(
            select(Scan.trigger)
            .join(AwsAccount, AwsAccount.id == Scan.account_id)
            .where(AwsAccount.aws_account_id == aws_id)
        )
        assert "event" in set(triggers)


async def test_a_basic_support_risk_case_arrives_by_push_caps_the_score_and_alerts(http, sandbox):
    account = await push_account(http, sandbox, plan=SupportPlan.BASIC)
    details = await account.details(http)
    assert details["capabilities"]["health_api"]["available"] is False
    assert details["current_srs"] > 10
    rule = await http.post(
        "/alert-rules",
        headers=account.headers,
        json={
            "name": "Risk",
            "min_severity": "CRITICAL",
            "channels": [{"type": "email", "to": ["oncall@acme.test"]}],
        },
    )
    assert rule.status_code == 201, rule.text

    event = load_event("health_risk_credentials_exposed", account.aws_account_id)
    assert (await account.deliver(http, event)).status_code == 202
    signal = await open_signal(account, http, "health_risk_event")
    assert signal["detected_by"] == "event" and signal["severity"] == "CRITICAL"
    assert "2026-05-27 09:45 UTC" in signal["title"]  # AWS's deadline, read from the description

    assert (await account.details(http))["current_srs"] <= 10  # an open risk case caps the score
    history = (
        await http.get(f"/accounts/{account.aws_account_id}/score-history", headers=account.headers)
    ).json()
    assert history["history"][0]["srs"] <= 10
    alerts = (await http.get("/alerts", headers=account.headers)).json()["alerts"]
    assert [a["scenarios_triggered"] for a in alerts] == [["abuse"]]
    checklist_url = f"/accounts/{account.aws_account_id}/recovery-checklist"
    steps = (await http.get(checklist_url, headers=account.headers)).json()["checklist"]
    assert steps[0]["title"] == "Answer the AWS risk case before its deadline"

    # The scan cannot see Health on Basic support: it keeps the pushed case open, and alerts stay quiet.
    await rescan(http, account.headers, account.aws_account_id)
    (still,) = [s for s in await account.signals(http, scenario="abuse")]
    assert still["signal_id"] == signal["signal_id"] and still["resolved_at"] is None
    assert len((await http.get("/alerts", headers=account.headers)).json()["alerts"]) == 1

    # The same event delivered again (EventBridge retries) changes nothing.
    assert (await account.deliver(http, event)).status_code == 202
    assert len((await http.get("/alerts", headers=account.headers)).json()["alerts"]) == 1
