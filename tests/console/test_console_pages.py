"""What the console's pages show and do, on data stored as scans and alerts store it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msgspec
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.support.alerts import alert_settings
from tests.support.api import bearer, login
from tests.support.console import (
    FINE,
    MIDDLING,
    NEW,
    RISKY,
    console_signup,
    flash_of,
    log_in_as,
    seed_accounts,
    submit,
    text_of,
)
from tests.support.db import db_session, update_tenant
from tests.support.team import add_member
from vigilare.alerts.models import Alert, AlertDelivery, AlertRule
from vigilare.api.app import create_app
from vigilare.crypto import SecretBox
from vigilare.ids import new_id, utcnow
from vigilare.scans.models import SUCCEEDED, Scan

WEBHOOK = "https://hooks.slack.com/services/T000/B000/webhooksecretWXYZ"
ROUTING_KEY = "pagerdutyroutingkey0123456789QRST"


async def _tenant_id(client: Any, email: str) -> str:
    me = await client.get("/me", headers=bearer(await login(client, email)))
    return str(me.json()["tenant"]["tenant_id"])


async def test_the_overview_puts_the_accounts_most_at_risk_first(console, settings):
    await console_signup(console, "owner@acme.test")
    await seed_accounts(settings.database_url, await _tenant_id(console, "owner@acme.test"))
    page = await console.get("/app/accounts")
    assert page.status_code == 200
    order = [m for m in re.findall(r'href="/app/accounts/(\d{12})"', page.text)]
    assert order == [RISKY, MIDDLING, FINE, NEW]
    said = text_of(page.text)
    assert "4 accounts, the most at risk first" in said
    assert "Score over the last 3 days: 80 to 35" in page.text  # the trend line's label
    row = said.split("Production", 1)[1].split("Staging", 1)[0]
    assert "35" in row and "CRITICAL 1" in row and "HIGH 2" in row and "succeeded" in row
    assert "not scanned yet" in said.split("Just connected", 1)[1]


async def test_the_account_page_shows_score_breakdown_history_and_filtered_paginated_signals(
    console, settings
):
    await console_signup(console, "owner@acme.test")
    await seed_accounts(settings.database_url, await _tenant_id(console, "owner@acme.test"))
    page = await console.get(f"/app/accounts/{RISKY}")
    said = text_of(page.text)
    assert page.status_code == 200
    assert "Security Risk Score" in said and "Points lost, by scenario" in said
    assert re.search(r"<svg class=\"history\"[^>]*>.*<polyline", page.text, re.S)
    assert "Quarantine policy attached to ci-deployer" in said and "Rotate it." in said
    assert "Real-time AWS events (EventBridge push): not configured" in said
    critical = text_of((await console.get(f"/app/accounts/{RISKY}", params={"severity": "CRITICAL"})).text)
    assert "Quarantine policy" in critical and "unused for 200 days" not in critical

    first = await console.get(f"/app/accounts/{FINE}", params={"scenario": "hygiene"})
    assert text_of(first.text).count("Old key") == 25
    next_link = re.search(r'href="(/app/accounts/\d+\?[^"]*next_token=[^"]+)">Next page', first.text)
    assert next_link, "30 signals: a second page"
    second = await console.get(next_link.group(1).replace("&amp;", "&"))
    assert text_of(second.text).count("Old key") == 5 and "First page" in second.text
    assert (await console.get(f"/app/accounts/{FINE}", params={"severity": "SEVERE"})).status_code == 400


async def test_a_manual_scan_past_the_plans_limit_says_so_on_the_account_page(console, settings):
    await console_signup(console, "owner@acme.test")
    accounts = await seed_accounts(settings.database_url, await _tenant_id(console, "owner@acme.test"))
    async with db_session(settings.database_url) as session:
        session.add_all(
            Scan(
                id=new_id(),
                tenant_id=accounts[RISKY].tenant_id,
                account_id=accounts[RISKY].id,
                trigger="manual",
                status=SUCCEEDED,
                queued_at=utcnow() - timedelta(minutes=minutes),
                outcomes={},
                collection_errors=[],
                evidence={},
            )
            for minutes in (10, 20, 30, 40)
        )
    page = await console.get(f"/app/accounts/{RISKY}")
    assert "Your Solo plan allows 4 manual scans per account per hour" in text_of(page.text)
    refused = await submit(console, f"/app/accounts/{RISKY}", f"/app/accounts/{RISKY}/scan")
    assert (refused.status_code, refused.headers["location"]) == (303, f"/app/accounts/{RISKY}")
    kind, message = flash_of((await console.get(f"/app/accounts/{RISKY}")).text)
    assert kind == "error"
    assert message == "manual scan limit reached: the Solo plan allows 4 manual scans per account per hour"


async def test_the_checklist_page_lists_the_steps_and_lets_a_member_acknowledge_the_open_alert(
    console, settings
):
    await console_signup(console, "owner@acme.test")
    tenant_id = await _tenant_id(console, "owner@acme.test")
    accounts = await seed_accounts(settings.database_url, tenant_id)
    box = SecretBox(settings.secret_key)
    alert_id = new_id()
    async with db_session(settings.database_url) as session:
        rule = AlertRule(
            id=new_id(),
            tenant_id=tenant_id,
            name="On-call",
            channels=[{"type": "email", "to": ["oncall@acme.test"]}],
        )
        session.add(rule)
        await session.flush()
        session.add(
            Alert(
                id=alert_id,
                tenant_id=tenant_id,
                rule_id=rule.id,
                rule_name="On-call",
                account_id=accounts[RISKY].id,
                aws_account_id=RISKY,
                srs_at_trigger=35,
                scenarios_triggered=["iam"],
                signal_ids=[],
                signals=[{"severity": "CRITICAL", "scenario": "iam", "title": "Quarantine", "region": None}],
                fired_at=utcnow(),
            )
        )
        await session.flush()
        for channel, status, error in (
            ({"type": "email", "to": ["oncall@acme.test"]}, "delivered", None),
            ({"type": "pagerduty", "routing_key_encrypted": box.encrypt(ROUTING_KEY)}, "failed", "HTTP 400"),
        ):
            session.add(
                AlertDelivery(
                    id=new_id(),
                    tenant_id=tenant_id,
                    alert_id=alert_id,
                    event="trigger",
                    channel=channel,
                    channel_type=channel["type"],
                    status=status,
                    attempts=1,
                    last_error=error,
                    created_at=utcnow(),
                )
            )
    owner = bearer(await login(console, "owner@acme.test"))
    await add_member(console, owner, "viewer@acme.test", "viewer")
    await add_member(console, owner, "member@acme.test", "member")

    alerts = text_of((await console.get("/app/alerts")).text)
    assert "email (trigger) to oncall@acme.test: delivered" in alerts
    assert "pagerduty (trigger) to routing key" in alerts and "failed" in alerts
    assert ROUTING_KEY not in alerts and "QRST" in alerts  # masked: its last four only

    await log_in_as(console, "viewer@acme.test")
    checklist = await console.get(f"/app/accounts/{RISKY}/recovery-checklist")
    said = text_of(checklist.text)
    assert "Recovery checklist" in said and "Open alerts" in said and "On-call" in said
    assert re.search(r"<ol class=\"checklist\">\s*<li>", checklist.text)
    assert "Acknowledge" not in said  # a viewer reads, a member acknowledges

    await log_in_as(console, "member@acme.test")
    checklist_path = f"/app/accounts/{RISKY}/recovery-checklist"
    acked = await submit(console, checklist_path, f"/app/alerts/{alert_id}/ack", {"back": checklist_path})
    assert (acked.status_code, acked.headers["location"]) == (303, checklist_path)
    after = await console.get(checklist_path)
    assert flash_of(after.text) == ("ok", "Alert acknowledged.")
    assert "Open alerts" not in text_of(after.text)
    async with db_session(settings.database_url) as session:
        stored = await session.get_one(Alert, alert_id)
        member = (await console.get("/me", headers=bearer(await login(console, "member@acme.test")))).json()
        assert stored.acknowledged_by == member["user"]["user_id"]


async def test_alert_rules_are_created_edited_disabled_and_deleted_with_secrets_masked(console, settings):
    await console_signup(console, "owner@acme.test")
    fields = {
        "name": "Wake someone",
        "min_srs": "50",
        "min_severity": "HIGH",
        "scenarios": ["iam", "billing"],
        "enabled": "on",
        "channel_type": ["email", "slack", "pagerduty", ""],
        "channel_target": ["oncall@acme.test, cto@acme.test", WEBHOOK, ROUTING_KEY, ""],
    }
    created = await submit(console, "/app/alert-rules/new", "/app/alert-rules/new", fields)
    assert (created.status_code, created.headers["location"]) == (303, "/app/alert-rules")
    listed = await console.get("/app/alert-rules")
    said = text_of(listed.text)
    assert "Wake someone" in said and "score below 50, or a HIGH+ signal in billing, iam" in said
    assert "email: oncall@acme.test, cto@acme.test" in said
    assert WEBHOOK not in listed.text and ROUTING_KEY not in listed.text
    assert "WXYZ" in said and "QRST" in said

    async with db_session(settings.database_url) as session:
        rule = await session.scalar(select(AlertRule))
    edit_page = await console.get(f"/app/alert-rules/{rule.id}")
    assert WEBHOOK not in edit_page.text and ROUTING_KEY not in edit_page.text
    targets = re.findall(r'name="channel_target" value="([^"]*)"', edit_page.text)
    kinds = re.findall(r'<option value="(\w+)" selected>', edit_page.text)
    # Sent back as shown, with a new name: the masked secrets keep their values.
    saved = await submit(
        console,
        f"/app/alert-rules/{rule.id}",
        f"/app/alert-rules/{rule.id}",
        {
            **fields,
            "name": "Wake the on-call",
            "channel_type": [k for k in kinds if k in ("email", "slack", "pagerduty")] + ["", ""],
            "channel_target": [t.replace("&amp;", "&") for t in targets],
        },
    )
    assert saved.status_code == 303, text_of(saved.text)
    box = SecretBox(settings.secret_key)
    async with db_session(settings.database_url) as session:
        stored = await session.get_one(AlertRule, rule.id)
        assert stored.name == "Wake the on-call"
        secrets = {c["type"]: c for c in stored.channels}
        assert box.decrypt(secrets["slack"]["webhook_url_encrypted"]) == WEBHOOK
        assert box.decrypt(secrets["pagerduty"]["routing_key_encrypted"]) == ROUTING_KEY

    invalid = await submit(
        console,
        "/app/alert-rules/new",
        "/app/alert-rules/new",
        {**fields, "channel_type": ["slack"], "channel_target": ["https://evil.test/hook"]},
    )
    assert invalid.status_code == 400
    assert "channels[0].webhook_url: webhook_url must be a Slack incoming webhook" in text_of(invalid.text)
    assert 'value="https://evil.test/hook"' in invalid.text  # the form comes back as typed

    disabled = await submit(
        console, "/app/alert-rules", f"/app/alert-rules/{rule.id}/enabled", {"enabled": "false"}
    )
    assert disabled.status_code == 303
    assert "disabled" in text_of((await console.get("/app/alert-rules")).text)
    deleted = await submit(console, "/app/alert-rules", f"/app/alert-rules/{rule.id}/delete")
    assert deleted.status_code == 303
    assert "No alert rule yet" in text_of((await console.get("/app/alert-rules")).text)


async def test_the_team_page_invites_changes_roles_and_removes(console, settings, smtp_sink):
    mailing = msgspec.structs.replace(settings, **smtp_sink.smtp_settings())
    async with AsyncTestClient(app=create_app(mailing), base_url="https://vigilare.local") as client:
        await console_signup(client, "owner@acme.test")
        invited = await submit(
            client,
            "/app/settings/team",
            "/app/settings/team/invite",
            {"name": "Bob", "email": "bob@acme.test", "role": "viewer"},
        )
        assert invited.status_code == 303
        [(recipients, message)] = smtp_sink.wait_for(1)
        assert recipients == ["bob@acme.test"]
        link = re.search(r"https://vigilare\.test(/app/accept-invite\?token=[\w\-]+)", message.get_content())
        assert link, message.get_content()
        duplicate = await submit(
            client,
            "/app/settings/team",
            "/app/settings/team/invite",
            {"name": "Bob", "email": "bob@acme.test", "role": "viewer"},
        )
        assert duplicate.status_code == 409 and "this address cannot be invited" in text_of(duplicate.text)

        owner_cookies = httpx.Cookies(client.cookies)
        client.cookies.clear()
        page = await client.get(link.group(1))
        assert "Join Acme on Vigilare" in text_of(page.text) and "bob@acme.test" in page.text
        mismatch = await submit(
            client,
            link.group(1),
            "/app/accept-invite",
            {
                "token": link.group(1).split("=", 1)[1],
                "password": "bob-password-1",
                "password_again": "other",
            },
        )
        assert mismatch.status_code == 400 and "the two passwords are not the same" in text_of(mismatch.text)
        accepted = await submit(
            client,
            link.group(1),
            "/app/accept-invite",
            {
                "token": link.group(1).split("=", 1)[1],
                "password": "bob-password-1",
                "password_again": "bob-password-1",
            },
        )
        assert (accepted.status_code, accepted.headers["location"]) == (
            303,
            "/app/login?email=bob%40acme.test",
        )

        client.cookies = owner_cookies
        team = (await client.get("/app/settings/team")).text
        bob_id = re.search(r'action="/app/settings/team/(\w+)/role"', team).group(1)
        promoted = await submit(
            client, "/app/settings/team", f"/app/settings/team/{bob_id}/role", {"role": "admin"}
        )
        assert promoted.status_code == 303
        assert flash_of((await client.get("/app/settings/team")).text) == ("ok", "Bob is now admin.")
        owner_id = (await client.get("/me", headers=bearer(await login(client, "owner@acme.test")))).json()
        refused = await submit(
            client, "/app/settings/team", f"/app/settings/team/{owner_id['user']['user_id']}/remove"
        )
        assert refused.headers["location"] == "/app/settings/team"
        assert flash_of((await client.get("/app/settings/team")).text) == (
            "error",
            "you cannot remove yourself",
        )
        removed = await submit(client, "/app/settings/team", f"/app/settings/team/{bob_id}/remove")
        assert removed.status_code == 303
        assert "bob@acme.test" not in (await client.get("/app/settings/team")).text


async def test_billing_shows_the_trial_and_plan_limits_and_hides_buttons_from_non_owners(console, settings):
    await console_signup(console, "owner@acme.test")
    tenant_id = await _tenant_id(console, "owner@acme.test")
    await update_tenant(settings, tenant_id, plan="team")
    said = text_of((await console.get("/app/settings/billing")).text)
    assert "Plan: Team · status: trialing" in said and "The free trial ends" in said
    assert "Billing is not configured on this server" in said
    owner = bearer(await login(console, "owner@acme.test"))
    await add_member(console, owner, "admin@acme.test", "admin")
    await log_in_as(console, "admin@acme.test")
    admin_view = text_of((await console.get("/app/settings/billing")).text)
    assert "Plan: Team" in admin_view and "not configured" not in admin_view and "Choose" not in admin_view


async def test_add_to_slack_completes_in_the_same_browser_and_lands_on_the_integrations_page(
    settings, smtp_sink, fake_slack
):
    app = create_app(alert_settings(settings, smtp_sink, fake_slack))
    async with AsyncTestClient(app=app, base_url="https://vigilare.local") as client:
        await console_signup(client, "owner@acme.test")
        before = text_of((await client.get("/app/settings/integrations")).text)
        assert "Not connected." in before and "Add to Slack" in before
        started = await submit(client, "/app/settings/integrations", "/app/settings/integrations/slack")
        assert started.status_code == 303
        assert started.headers["location"].startswith("https://slack.com/oauth/v2/authorize?")
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        fake_slack.respond(
            "oauth.v2.access",
            200,
            {
                "ok": True,
                "token_type": "bot",
                "access_token": "xoxb-1111-2222-abcdefghijkl",
                "bot_user_id": "U0BOT",
                "scope": "chat:write,chat:write.public",
                "app_id": "A0APP",
                "team": {"id": "T0ACME", "name": "Acme Workspace"},
            },
        )
        # Slack sends the browser back; it carries the cookie the console's button set.
        landed = await client.get(
            "/webhooks/slack/install", params={"code": "c0de", "state": state}, follow_redirects=False
        )
        assert landed.status_code == 302, landed.text
        assert landed.headers["location"] == "https://vigilare.test/app/settings/integrations"
        after = text_of((await client.get("/app/settings/integrations")).text)
        assert "Connected to the workspace Acme Workspace" in after and "by Acme" in after

        # Another browser following a leaked install link is refused, with a page that says why.
        started = await submit(client, "/app/settings/integrations", "/app/settings/integrations/slack")
        leaked = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        async with AsyncTestClient(app=app, base_url="https://vigilare.local") as other:
            refused = await other.get(
                "/webhooks/slack/install",
                params={"code": "c0de", "state": leaked},
                headers={"accept": "text/html"},
            )
        assert refused.status_code == 400 and refused.headers["content-type"].startswith("text/html")
        assert "started in another browser" in text_of(refused.text)
