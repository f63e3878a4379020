"""Installing the Slack app: the signed start URL, the callback's state checks, the stored token."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.support.api import owner_headers
from tests.support.team import add_member
from vigilare.alerts.models import SlackInstallation
from vigilare.api.app import create_app
from vigilare.crypto import SecretBox, sign_state

BOT_TOKEN = "xoxb-1111-2222-abcdefghijkl"
OAUTH_OK = {
    "ok": True,
    "token_type": "bot",
    "access_token": BOT_TOKEN,
    "bot_user_id": "U0BOT",
    "scope": "chat:write,chat:write.public",
    "app_id": "A0APP",
    "team": {"id": "T0ACME", "name": "Acme"},
}


async def _start(client: Any, headers: dict[str, str]) -> str:
    response = await client.get("/integrations/slack/oauth-start", headers=headers)
    assert response.status_code == 200, response.text
    url = urlsplit(response.json()["oauth_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://slack.com/oauth/v2/authorize"
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert query["client_id"] == "1234.5678" and query["scope"] == "chat:write,chat:write.public"
    assert query["redirect_uri"] == "https://vigilare.test/webhooks/slack/install"
    return query["state"]


async def test_install_stores_the_encrypted_bot_token_and_redirects(alerts_client, fake_slack, db):
    headers = await owner_headers(alerts_client)
    state = await _start(alerts_client, headers)
    fake_slack.respond("oauth.v2.access", 200, OAUTH_OK)

    response = await alerts_client.get(
        "/webhooks/slack/install", params={"code": "c0de", "state": state}, follow_redirects=False
    )

    assert response.status_code == 302, response.text
    assert response.headers["location"] == "https://vigilare.test/app/settings/integrations"
    [exchange] = fake_slack.calls("oauth.v2.access")
    assert exchange.form() == {"code": "c0de", "redirect_uri": "https://vigilare.test/webhooks/slack/install"}
    # slack-sdk sends the client id and secret as HTTP Basic credentials.
    credentials = base64.b64encode(b"1234.5678:slack-client-secret").decode()
    assert exchange.headers["Authorization"] == f"Basic {credentials}"
    async with db() as session:
        installation = await session.scalar(select(SlackInstallation))
    assert (installation.team_id, installation.team_name, installation.bot_user_id) == (
        "T0ACME",
        "Acme",
        "U0BOT",
    )
    assert BOT_TOKEN not in installation.bot_token_encrypted
    box = SecretBox(alerts_client.app.state["settings"].secret_key)
    assert box.decrypt(installation.bot_token_encrypted) == BOT_TOKEN

    # With Slack connected, a rule may post to a channel by name.
    rule = await alerts_client.post(
        "/alert-rules",
        headers=headers,
        json={"name": "s", "channels": [{"type": "slack", "channel": "#sec"}]},
    )
    assert rule.status_code == 201 and rule.json()["channels"][0]["channel"] == "#sec"

    # The same state cannot be used twice.
    replay = await alerts_client.get("/webhooks/slack/install", params={"code": "c0de", "state": state})
    assert replay.status_code == 400 and "already used" in replay.json()["error"]
    assert len(fake_slack.calls("oauth.v2.access")) == 1


async def test_forged_expired_and_missing_states_are_refused(alerts_client, fake_slack):
    headers = await owner_headers(alerts_client)
    me = (await alerts_client.get("/me", headers=headers)).json()["user"]
    tenant_id = (await alerts_client.get("/me", headers=headers)).json()["tenant"]["tenant_id"]
    claims = {"tenant_id": tenant_id, "user_id": me["user_id"]}
    secret = alerts_client.app.state["settings"].secret_key
    forged = sign_state(claims, 600, secret_key="another-server-secret-" + "y" * 32)
    expired = sign_state(claims, 600, secret_key=secret, now=datetime.now(UTC) - timedelta(hours=1))
    for state, reason in (
        (forged, "invalid"),
        (expired, "expired"),
        ("not-a-state", "invalid"),
        ("", "required"),
    ):
        response = await alerts_client.get("/webhooks/slack/install", params={"code": "c", "state": state})
        assert response.status_code == 400, response.text
        assert reason in response.json()["error"]
    assert fake_slack.calls("oauth.v2.access") == []


async def test_a_failed_code_exchange_is_a_400_and_still_spends_the_state(alerts_client, fake_slack, db):
    headers = await owner_headers(alerts_client)
    state = await _start(alerts_client, headers)
    fake_slack.respond("oauth.v2.access", 200, {"ok": False, "error": "invalid_code"})
    failed = await alerts_client.get("/webhooks/slack/install", params={"code": "bad", "state": state})
    assert failed.status_code == 400 and "invalid_code" in failed.json()["error"]
    replay = await alerts_client.get("/webhooks/slack/install", params={"code": "c", "state": state})
    assert replay.status_code == 400 and "already used" in replay.json()["error"]
    async with db() as session:
        assert await session.scalar(select(SlackInstallation)) is None


async def test_only_admins_start_the_install(alerts_client):
    owner = await owner_headers(alerts_client)
    for role, status in (("viewer", 403), ("member", 403), ("admin", 200)):
        tokens = await add_member(alerts_client, owner, f"{role}@acme.test", role)
        response = await alerts_client.get(
            "/integrations/slack/oauth-start", headers={"Authorization": f"Bearer {tokens['id_token']}"}
        )
        assert response.status_code == status, (role, response.text)


async def test_slack_not_configured_is_a_clear_503(settings):
    unconfigured = msgspec.structs.replace(settings, slack_client_id="", slack_client_secret="")
    async with AsyncTestClient(app=create_app(unconfigured)) as client:
        headers = await owner_headers(client)
        response = await client.get("/integrations/slack/oauth-start", headers=headers)
        assert response.status_code == 503 and "VIGILARE_SLACK_CLIENT_ID" in response.json()["error"]
        callback = await client.get("/webhooks/slack/install", params={"code": "c", "state": "s"})
        assert callback.status_code == 503


async def test_the_install_is_bound_to_the_browser_that_started_it(alerts_client, fake_slack, db):
    headers = await owner_headers(alerts_client)
    started = await alerts_client.get("/integrations/slack/oauth-start", headers=headers)
    cookie = started.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=Lax", "Secure", "Path=/webhooks/slack/install", "Max-Age=600"):
        assert attribute.lower() in cookie.lower(), cookie
    state = parse_qs(urlsplit(started.json()["oauth_url"]).query)["state"][0]
    [(name, nonce)] = dict(alerts_client.cookies).items()

    def browser_with(value: str | None) -> None:
        alerts_client.cookies.clear()
        if value is not None:
            alerts_client.cookies.set(name, value, domain="testserver.local", path="/webhooks/slack/install")

    # Someone else opens the admin's oauth_url: their browser has no such cookie, or another one.
    fake_slack.respond("oauth.v2.access", 200, OAUTH_OK)
    for cookie_value in (None, "a-forged-nonce"):
        browser_with(cookie_value)
        other = await alerts_client.get("/webhooks/slack/install", params={"code": "theirs", "state": state})
        assert other.status_code == 400 and "browser" in other.json()["error"], other.text
    assert fake_slack.calls("oauth.v2.access") == []

    # The admin's own browser still completes the install with the same, unspent state.
    browser_with(nonce)
    mine = await alerts_client.get(
        "/webhooks/slack/install", params={"code": "c0de", "state": state}, follow_redirects=False
    )
    assert mine.status_code == 302, mine.text
    async with db() as session:
        assert (await session.scalar(select(SlackInstallation))).team_id == "T0ACME"
