"""Through the API: the Health capability on the account, and signals resolved when they go away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.accounts import all_signals, connect_and_verify, rescan, wait_for_scan
from tests.support.api import owner_headers
from vigilare_sandbox.seed_aws import (
    client_for,
    create_logging_trail,
    create_quarantined_user,
    stop_trail_logging,
)
from vigilare_sandbox.seed_events import add_exposed_credentials_event, set_ses_enforcement, set_support_plan
from vigilare_sandbox.state import SupportPlan

ACCOUNT = "360000000001"


async def test_basic_support_shows_the_capability_gap_and_keeps_the_scan_whole(aws_client, sandbox):
    set_support_plan(sandbox, ACCOUNT, SupportPlan.BASIC)
    key = create_quarantined_user(sandbox, ACCOUNT, "ci-deploy")
    add_exposed_credentials_event(sandbox, ACCOUNT, key.access_key_id, datetime.now(UTC) + timedelta(days=3))
    headers = await owner_headers(aws_client)
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)

    scan = await wait_for_scan(aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"])

    assert scan["status"] == "succeeded", scan
    account = (await aws_client.get(f"/accounts/{ACCOUNT}", headers=headers)).json()
    health = account["capabilities"]["health_api"]
    assert health["available"] is False and "Business" in health["reason"]
    signals = await all_signals(aws_client, headers, ACCOUNT)
    assert [s["kind"] for s in signals if s["scenario"] == "abuse"] == []
    assert [s["severity"] for s in signals if s["kind"] == "quarantine_policy"] == ["CRITICAL"]

    # Business support later: the event is read and the capability flips back.
    set_support_plan(sandbox, ACCOUNT, SupportPlan.BUSINESS)
    assert (await rescan(aws_client, headers, ACCOUNT))["status"] == "succeeded"
    account = (await aws_client.get(f"/accounts/{ACCOUNT}", headers=headers)).json()
    assert account["capabilities"]["health_api"]["available"] is True
    risk = [s for s in await all_signals(aws_client, headers, ACCOUNT) if s["kind"] == "health_risk_event"]
    assert [s["severity"] for s in risk] == ["CRITICAL"]

    # Back on Basic: the open risk signal must not be resolved for want of data.
    set_support_plan(sandbox, ACCOUNT, SupportPlan.BASIC)
    assert (await rescan(aws_client, headers, ACCOUNT))["status"] == "succeeded"
    still = [s for s in await all_signals(aws_client, headers, ACCOUNT) if s["kind"] == "health_risk_event"]
    assert [s["resolved_at"] for s in still] == [None]


async def test_signals_that_go_away_are_resolved_on_the_next_scan(aws_client, sandbox):
    set_ses_enforcement(sandbox, ACCOUNT, "us-east-1", "PROBATION")
    create_logging_trail(sandbox, ACCOUNT, "org-trail")
    stop_trail_logging(sandbox, ACCOUNT, "org-trail")
    headers = await owner_headers(aws_client)
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    await wait_for_scan(aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"])
    opened = {s["kind"]: s for s in await all_signals(aws_client, headers, ACCOUNT)}
    assert opened["ses_probation"]["resolved_at"] is None
    assert opened["cloudtrail_stopped"]["resolved_at"] is None
    assert opened["no_security_contact"]["resolved_at"] is None

    set_ses_enforcement(sandbox, ACCOUNT, "us-east-1", "HEALTHY")
    client_for(sandbox, ACCOUNT, "cloudtrail").start_logging(Name="org-trail")
    client_for(sandbox, ACCOUNT, "account").put_alternate_contact(
        AlternateContactType="SECURITY",
        EmailAddress="sec@example.com",
        Name="Sec",
        PhoneNumber="+1",
        Title="Sec",
    )
    await rescan(aws_client, headers, ACCOUNT)

    after = {s["signal_id"]: s for s in await all_signals(aws_client, headers, ACCOUNT)}
    for kind in ("ses_probation", "cloudtrail_stopped", "no_security_contact"):
        assert after[opened[kind]["signal_id"]]["resolved_at"] is not None, kind
