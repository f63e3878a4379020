"""Alerts driven by real scans of a sandbox AWS account, observed through the API."""

from __future__ import annotations

import json

import httpx

from tests.support.accounts import connect_and_verify, rescan, wait_for_scan
from tests.support.alerts import PAGERDUTY_URL, ROUTING_KEY, email_channel, pagerduty_channel
from tests.support.api import owner_headers
from tests.support.team import add_member
from tests.support.waiting import eventually
from vigilare_sandbox.seed_aws import client_for, create_public_bucket, create_quarantined_user

ACCOUNT = "210987654321"


async def _alerts(client, headers, **params) -> list[dict]:
    response = await client.get("/alerts", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["alerts"])


def _delivered(alert: dict, event: str = "trigger") -> bool:
    wanted = [d for d in alert["deliveries"] if d["event"] == event]
    return bool(wanted) and all(d["status"] == "delivered" for d in wanted)


async def test_scan_fires_dedups_acknowledges_and_resolves(alerts_aws_client, sandbox, smtp_sink, pagerduty):
    client = alerts_aws_client
    pd_route = pagerduty.post(PAGERDUTY_URL).mock(return_value=httpx.Response(202, json={}))
    create_public_bucket(sandbox, ACCOUNT, "acme-public-assets")
    headers = await owner_headers(client)
    rule = await client.post(
        "/alert-rules",
        headers=headers,
        json={
            "name": "Exposure",
            "min_srs": 0,
            "scenarios": ["exposure"],
            "channels": [email_channel("oncall@acme.test"), pagerduty_channel()],
        },
    )
    assert rule.status_code == 201, rule.text
    verified = await connect_and_verify(client, headers, sandbox, ACCOUNT, display_name="prod")
    await wait_for_scan(client, headers, ACCOUNT, verified["first_scan_execution_arn"])

    async def fired_and_delivered():
        found = await _alerts(client, headers)
        return found if found and _delivered(found[0]) else None

    [alert] = await eventually(fired_and_delivered)
    assert alert["rule_id"] == rule.json()["rule_id"] and alert["aws_account_id"] == ACCOUNT
    assert alert["scenarios_triggered"] == ["exposure"] and alert["acknowledged_at"] is None
    assert {(d["channel_type"], d["target"]) for d in alert["deliveries"]} == {
        ("email", "oncall@acme.test"),
        ("pagerduty", "routing key " + "\u2022" * 8 + ROUTING_KEY[-4:]),
    }
    [(recipients, message)] = smtp_sink.wait_for(1)
    assert (
        recipients == ["oncall@acme.test"]
        and "acme-public-assets" in message.get_body(("plain",)).get_content()
    )
    trigger = json.loads(pd_route.calls.last.request.content)
    assert (trigger["event_action"], trigger["dedup_key"]) == (
        "trigger",
        f"vigilare-alert-{alert['alert_id']}",
    )

    # Same findings on a rescan: no new alert, no new notification.
    await rescan(client, headers, ACCOUNT)
    assert [a["alert_id"] for a in await _alerts(client, headers)] == [alert["alert_id"]]
    assert pd_route.call_count == 1 and len(smtp_sink.messages) == 1

    # Viewers cannot acknowledge; members can, once; PagerDuty's incident is acknowledged.
    viewer = await add_member(client, headers, "viewer@acme.test", "viewer")
    viewer_headers = {"Authorization": f"Bearer {viewer['id_token']}"}
    assert (await client.post(f"/alerts/{alert['alert_id']}/ack", headers=viewer_headers)).status_code == 403
    member = await add_member(client, headers, "member@acme.test", "member")
    member_headers = {"Authorization": f"Bearer {member['id_token']}"}
    acked = await client.post(f"/alerts/{alert['alert_id']}/ack", headers=member_headers)
    assert acked.status_code == 200, acked.text
    assert set(acked.json()) >= {"alert_id", "acknowledged_at"} and acked.json()["acknowledged_at"]
    again = await client.post(f"/alerts/{alert['alert_id']}/ack", headers=headers)
    assert again.json()["acknowledged_at"] == acked.json()["acknowledged_at"]

    async def acknowledged_sent():
        found = await _alerts(client, headers, acknowledged="true")
        return found if found and _delivered(found[0], "acknowledge") else None

    await eventually(acknowledged_sent)
    ack_event = json.loads(pd_route.calls.last.request.content)
    assert ack_event == {
        "routing_key": ROUTING_KEY,
        "event_action": "acknowledge",
        "dedup_key": f"vigilare-alert-{alert['alert_id']}",
    }
    assert await _alerts(client, headers, acknowledged="false") == []

    # The bucket goes away: the alert resolves and PagerDuty's incident is resolved.
    client_for(sandbox, ACCOUNT, "s3").delete_bucket(Bucket="acme-public-assets")
    await rescan(client, headers, ACCOUNT)

    async def resolved_sent():
        found = await _alerts(client, headers)
        return found if found[0]["resolved_at"] and _delivered(found[0], "resolve") else None

    [resolved] = await eventually(resolved_sent)
    assert resolved["alert_id"] == alert["alert_id"]
    assert json.loads(pd_route.calls.last.request.content)["event_action"] == "resolve"
    # Resolve goes to PagerDuty only (the other emails are the team invitations).
    assert [to for to, _ in smtp_sink.messages if to == ["oncall@acme.test"]] == [["oncall@acme.test"]]


async def test_a_new_critical_signal_fires_a_new_alert(alerts_aws_client, sandbox, smtp_sink, pagerduty):
    client = alerts_aws_client
    create_public_bucket(sandbox, ACCOUNT, "acme-public-assets")
    headers = await owner_headers(client)
    await client.post("/alert-rules", headers=headers, json={"name": "All", "channels": [email_channel()]})
    verified = await connect_and_verify(client, headers, sandbox, ACCOUNT)
    await wait_for_scan(client, headers, ACCOUNT, verified["first_scan_execution_arn"])
    [first] = await eventually(lambda: _alerts(client, headers))
    smtp_sink.wait_for(1)

    create_quarantined_user(sandbox, ACCOUNT, "ci-deployer")
    await rescan(client, headers, ACCOUNT)

    async def two_alerts():
        found = await _alerts(client, headers)
        return found if len(found) == 2 else None

    newest, older = await eventually(two_alerts)
    assert older["alert_id"] == first["alert_id"] and older["resolved_at"] is not None
    assert "iam" in newest["scenarios_triggered"] and newest["srs_at_trigger"] <= 10
    [_, (_, message)] = smtp_sink.wait_for(2)
    assert "ci-deployer" in message.get_body(("plain",)).get_content()

    # Listing: filter by account, paginate with a signed token, refuse a forged one.
    page = await client.get("/alerts", headers=headers, params={"limit": 1, "account_id": ACCOUNT})
    assert page.json()["alerts"][0]["alert_id"] == newest["alert_id"]
    rest = await client.get(
        "/alerts",
        headers=headers,
        params={"limit": 1, "account_id": ACCOUNT, "next_token": page.json()["next_token"]},
    )
    assert [a["alert_id"] for a in rest.json()["alerts"]] == [older["alert_id"]]
    assert rest.json()["next_token"] is None
    forged = await client.get("/alerts", headers=headers, params={"next_token": "forged"})
    assert forged.status_code == 400 and "next_token" in forged.json()["error"]
    assert (await client.get("/alerts", headers=headers, params={"limit": 0})).status_code == 400
    assert await _alerts(client, headers, account_id="999999999999") == []

    # Another tenant sees none of it and cannot acknowledge it.
    other = await owner_headers(client, "owner@globex.test")
    assert await _alerts(client, other) == []
    assert (await client.post(f"/alerts/{newest['alert_id']}/ack", headers=other)).status_code == 404
    assert (await client.get(f"/alerts/{newest['alert_id']}", headers=other)).status_code == 404
