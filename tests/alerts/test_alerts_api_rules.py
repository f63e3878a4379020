"""Alert rules through the API: fields and defaults, validation, masking, roles, isolation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.support.alerts import ROUTING_KEY, WEBHOOK_URL, email_channel, pagerduty_channel
from tests.support.api import owner_headers
from tests.support.team import add_member
from vigilare.alerts.models import AlertRule
from vigilare.crypto import SecretBox

MASK = "\u2022" * 8


async def test_create_list_update_delete_with_defaults(alerts_client):
    headers = await owner_headers(alerts_client)
    created = await alerts_client.post(
        "/alert-rules", headers=headers, json={"name": "Critical", "channels": [email_channel()]}
    )
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["min_srs"] == 40 and rule["min_severity"] == "HIGH"
    assert rule["scenarios"] == [] and rule["enabled"] is True and rule["created_at"]
    assert rule["channels"] == [{"type": "email", "to": ["oncall@acme.test"]}]

    listed = (await alerts_client.get("/alert-rules", headers=headers)).json()
    assert listed["count"] == 1 and listed["rules"][0]["rule_id"] == rule["rule_id"]

    patched = await alerts_client.patch(
        f"/alert-rules/{rule['rule_id']}",
        headers=headers,
        json={"min_srs": 55, "scenarios": ["iam", "billing"], "enabled": False},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["min_srs"], body["scenarios"], body["enabled"]) == (55, ["billing", "iam"], False)
    assert body["name"] == "Critical" and body["channels"] == rule["channels"]

    deleted = await alerts_client.delete(f"/alert-rules/{rule['rule_id']}", headers=headers)
    assert deleted.status_code == 200 and deleted.json() == {"message": "Alert rule deleted"}
    assert (await alerts_client.get("/alert-rules", headers=headers)).json() == {"rules": [], "count": 0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "channels": [email_channel()]}, "name"),
        ({"name": "x" * 201, "channels": [email_channel()]}, "name"),
        ({"name": "r", "channels": [email_channel()], "min_srs": 101}, "min_srs"),
        ({"name": "r", "channels": [email_channel()], "min_srs": -1}, "min_srs"),
        ({"name": "r", "channels": [email_channel()], "min_severity": "URGENT"}, "min_severity"),
        # No signal is ever INFO: a rule cannot ask for it (the four severities are CRITICAL to LOW).
        ({"name": "r", "channels": [email_channel()], "min_severity": "INFO"}, "min_severity"),
        ({"name": "r", "channels": [email_channel()], "scenarios": ["IAM; drop"]}, "scenarios"),
        ({"name": "r", "channels": []}, "channels"),
        ({"name": "r"}, "channels"),
        ({"name": "r", "channels": [{"type": "sms", "to": "+1"}]}, "channels[0].type"),
        ({"name": "r", "channels": [email_channel(), {"type": "pagerduty"}]}, "channels[1].routing_key"),
        ({"name": "r", "channels": [{"type": "email"}]}, "channels[0].to"),
        ({"name": "r", "channels": [{"type": "email", "to": ["not-an-address"]}]}, "channels[0].to"),
        ({"name": "r", "channels": [{"type": "slack"}]}, "channels[0].channel"),
        (
            {"name": "r", "channels": [{"type": "slack", "webhook_url": "https://evil.test/hook"}]},
            "channels[0].webhook_url",
        ),
        # Slack channel by name needs the tenant's Slack installation first.
        ({"name": "r", "channels": [{"type": "slack", "channel": "#alerts"}]}, "channels[0].channel"),
    ],
)
async def test_invalid_rules_are_400_naming_the_field(alerts_client, body, field):
    headers = await owner_headers(alerts_client)
    response = await alerts_client.post("/alert-rules", headers=headers, json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"], response.json()


async def test_unknown_fields_of_a_rule_and_its_channels_are_ignored(alerts_client):
    """The API's one rule for every body (README, API conventions): an unknown field is ignored."""
    headers = await owner_headers(alerts_client)
    created = await alerts_client.post(
        "/alert-rules",
        headers=headers,
        json={
            "name": "r",
            "channels": [{"type": "email", "to": ["a@b.test"], "cc": ["c@d.test"]}],
            "colour": "red",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["channels"] == [{"type": "email", "to": ["a@b.test"]}]
    assert "colour" not in created.json()
    patched = await alerts_client.patch(
        f"/alert-rules/{created.json()['rule_id']}", headers=headers, json={"min_srs": 30, "priority": 1}
    )
    assert patched.status_code == 200 and patched.json()["min_srs"] == 30


@pytest.mark.parametrize(
    "control",
    ["\t", "\r\n", "\n", "\x00", "\x1b", "\x7f", "\x85", "\u2028"],
    ids=["tab", "crlf", "lf", "nul", "esc", "del", "nel", "line-separator"],
)
@pytest.mark.parametrize("where", ["inside", "at the end"])
async def test_a_webhook_url_with_control_characters_is_refused(alerts_client, db, control, where):
    headers = await owner_headers(alerts_client)
    url = WEBHOOK_URL.replace("/B000/", f"/B0{control}00/") if where == "inside" else WEBHOOK_URL + control
    for method, path in (("POST", "/alert-rules"), ("PATCH", None)):
        if method == "PATCH":
            created = await alerts_client.post(
                "/alert-rules", headers=headers, json={"name": "r", "channels": [email_channel()]}
            )
            path = f"/alert-rules/{created.json()['rule_id']}"
        response = await alerts_client.request(
            method,
            path,
            headers=headers,
            json={"name": "r", "channels": [email_channel(), {"type": "slack", "webhook_url": url}]},
        )
        assert response.status_code == 400, (method, response.text)
        assert "channels[1].webhook_url" in response.json()["error"]
        assert "control character" in response.json()["error"]
    async with db() as session:
        rules = list(await session.scalars(select(AlertRule)))
    assert [len(rule.channels) for rule in rules] == [1]


async def test_secrets_are_masked_in_responses_and_encrypted_at_rest(alerts_client, db):
    headers = await owner_headers(alerts_client)
    created = await alerts_client.post(
        "/alert-rules",
        headers=headers,
        json={
            "name": "Everything",
            "channels": [pagerduty_channel(), {"type": "slack", "webhook_url": WEBHOOK_URL}],
        },
    )
    assert created.status_code == 201, created.text
    expected = [
        {"type": "pagerduty", "routing_key": MASK + "c0de"},
        {"type": "slack", "channel": None, "webhook_url": MASK + "wxyz"},
    ]
    assert created.json()["channels"] == expected
    listed = await alerts_client.get("/alert-rules", headers=headers)
    assert ROUTING_KEY not in listed.text and WEBHOOK_URL not in listed.text
    assert listed.json()["rules"][0]["channels"] == expected

    async with db() as session:
        stored = await session.scalar(select(AlertRule))
    raw = json.dumps(stored.channels)
    assert ROUTING_KEY not in raw and "hooks.slack.com" not in raw
    box = SecretBox(alerts_client.app.state["settings"].secret_key)
    assert box.decrypt(stored.channels[0]["routing_key_encrypted"]) == ROUTING_KEY
    assert box.decrypt(stored.channels[1]["webhook_url_encrypted"]) == WEBHOOK_URL

    # Sending a masked value back unchanged (a settings form round trip) keeps the real secret.
    rule_id = created.json()["rule_id"]
    patched = await alerts_client.patch(
        f"/alert-rules/{rule_id}", headers=headers, json={"channels": listed.json()["rules"][0]["channels"]}
    )
    assert patched.status_code == 200, patched.text
    async with db() as session:
        stored = await session.scalar(select(AlertRule))
    assert box.decrypt(stored.channels[0]["routing_key_encrypted"]) == ROUTING_KEY
    # A masked value that stands for no stored secret is refused rather than stored as the key.
    forged = await alerts_client.patch(
        f"/alert-rules/{rule_id}",
        headers=headers,
        json={"channels": [{"type": "pagerduty", "routing_key": MASK + "beef"}]},
    )
    assert forged.status_code == 400 and forged.json()["error"].startswith("channels[0].routing_key")


async def test_viewers_read_rules_but_only_admins_change_them(alerts_client):
    owner = await owner_headers(alerts_client)
    rule = (
        await alerts_client.post(
            "/alert-rules", headers=owner, json={"name": "r", "channels": [pagerduty_channel()]}
        )
    ).json()
    for role, can_write in (("viewer", False), ("member", False), ("admin", True)):
        tokens = await add_member(alerts_client, owner, f"{role}@acme.test", role)
        headers = {"Authorization": f"Bearer {tokens['id_token']}"}
        listed = await alerts_client.get("/alert-rules", headers=headers)
        assert listed.status_code == 200 and listed.json()["count"] >= 1
        assert ROUTING_KEY not in listed.text
        created = await alerts_client.post(
            "/alert-rules", headers=headers, json={"name": role, "channels": [email_channel()]}
        )
        patched = await alerts_client.patch(
            f"/alert-rules/{rule['rule_id']}", headers=headers, json={"name": f"by {role}"}
        )
        assert (created.status_code, patched.status_code) == ((201, 200) if can_write else (403, 403))
    deleted = await alerts_client.delete(f"/alert-rules/{rule['rule_id']}", headers=headers)
    assert deleted.status_code == 200


async def test_another_tenants_rule_is_404(alerts_client):
    acme = await owner_headers(alerts_client, "owner@acme.test")
    globex = await owner_headers(alerts_client, "owner@globex.test")
    rule = (
        await alerts_client.post(
            "/alert-rules", headers=acme, json={"name": "acme", "channels": [email_channel()]}
        )
    ).json()
    assert (await alerts_client.get("/alert-rules", headers=globex)).json()["count"] == 0
    path = f"/alert-rules/{rule['rule_id']}"
    assert (await alerts_client.patch(path, headers=globex, json={"name": "mine"})).status_code == 404
    assert (await alerts_client.delete(path, headers=globex)).status_code == 404
    assert (await alerts_client.patch("/alert-rules/01NOPE", headers=acme, json={})).status_code == 404
    still = (await alerts_client.get("/alert-rules", headers=acme)).json()["rules"][0]
    assert still["name"] == "acme"
