"""Inviting a teammate sends a real email with a single-use, expiring link that activates them."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from tests.support.api import DEFAULT_PASSWORD, bearer, login, signup
from tests.support.db import update_tenant
from tests.support.services import REDIS_URL
from vigilare.api.app import create_app
from vigilare.auth.models import Invitation
from vigilare.db.engine import create_engine
from vigilare.ids import utcnow
from vigilare.jobs.worker import create_worker


def _token_from(message: Any) -> str:
    body = message.get_content() if not message.is_multipart() else message.get_body(("plain",)).get_content()
    match = re.search(r"accept-invite\?token=([A-Za-z0-9_\-]+)", body)
    assert match, body
    return match.group(1)


async def _wait_for_email(sink, count: int = 1, timeout: float = 15) -> list:
    deadline = time.monotonic() + timeout
    while len(sink.messages) < count:
        assert time.monotonic() < deadline, "no invitation email arrived"
        await asyncio.sleep(0.05)
    return sink.messages


@pytest.mark.parametrize("executor", ["in-process", "arq"])
async def test_invite_email_accept_and_login(settings, smtp_sink, redis_flush, executor):
    overrides: dict[str, Any] = dict(smtp_sink.smtp_settings())
    if executor == "arq":
        overrides["redis_url"] = REDIS_URL
    configured = msgspec.structs.replace(settings, **overrides)
    async with AsyncTestClient(app=create_app(configured)) as client:
        await signup(client, "lead@invite.test", name="Lead")
        owner = bearer(await login(client, "lead@invite.test"))
        response = await client.post(
            "/users/invite",
            json={"email": "Newbie@Invite.test", "name": "Newbie", "role": "viewer"},
            headers=owner,
        )
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "newbie@invite.test" and body["role"] == "viewer"
        assert body["message"].startswith("Invitation sent.")

        # Not active before acceptance.
        early = await client.post(
            "/auth/login", json={"email": "newbie@invite.test", "password": DEFAULT_PASSWORD}
        )
        assert early.status_code == 401

        if executor == "arq":
            worker = create_worker(configured, burst=True, poll_delay=0, handle_signals=False)
            try:
                await worker.main()
            finally:
                await worker.close()
        recipients, message = (await _wait_for_email(smtp_sink))[0]
        assert recipients == ["newbie@invite.test"]
        assert "invited" in message["Subject"].lower()
        token = _token_from(message)
        assert "https://vigilare.test/app/accept-invite?token=" in message.get_content()

        accepted = await client.post(
            "/auth/accept-invite", json={"token": token, "password": DEFAULT_PASSWORD}
        )
        assert accepted.status_code == 200
        me = (await client.get("/me", headers=bearer(await login(client, "newbie@invite.test")))).json()
        assert me["user"]["role"] == "viewer" and me["user"]["name"] == "Newbie"

        again = await client.post(
            "/auth/accept-invite", json={"token": token, "password": "another-password"}
        )
        assert again.status_code == 400  # single use


async def test_expired_or_forged_invitation_is_refused(settings, smtp_sink):
    configured = msgspec.structs.replace(settings, **smtp_sink.smtp_settings())
    async with AsyncTestClient(app=create_app(configured)) as client:
        await signup(client, "lead2@invite.test")
        owner = bearer(await login(client, "lead2@invite.test"))
        await client.post("/users/invite", json={"email": "late@invite.test", "name": "Late"}, headers=owner)
        token = _token_from((await _wait_for_email(smtp_sink))[0][1])
        engine = create_engine(settings.database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1))
                )
        finally:
            await engine.dispose()
        for candidate in (token, "forged-token"):
            response = await client.post(
                "/auth/accept-invite", json={"token": candidate, "password": DEFAULT_PASSWORD}
            )
            assert response.status_code == 400
            assert "invitation" in response.json()["error"]
        short = await client.post("/auth/accept-invite", json={"token": token, "password": "short"})
        assert short.status_code == 400 and "password" in short.json()["error"]


async def _users_by_email(client, headers) -> dict[str, dict[str, Any]]:
    return {user["email"]: user for user in (await client.get("/users", headers=headers)).json()["users"]}


async def test_an_invitation_that_cannot_be_sent_says_why(settings, smtp_sink):
    smtp_sink.refuse("nobody@invite.test")
    configured = msgspec.structs.replace(settings, **smtp_sink.smtp_settings())
    async with AsyncTestClient(app=create_app(configured)) as client:
        await signup(client, "lead3@invite.test", name="Lead")
        owner = bearer(await login(client, "lead3@invite.test"))
        for email in ("nobody@invite.test", "somebody@invite.test"):
            response = await client.post("/users/invite", json={"email": email, "name": "N"}, headers=owner)
            assert response.status_code == 201
        await _wait_for_email(smtp_sink)  # the one that could be sent

        async def failure_recorded() -> dict[str, Any] | None:
            users = await _users_by_email(client, owner)
            return users if users["nobody@invite.test"]["invitation_error"] else None

        users = await _eventually(failure_recorded)
        assert "550" in users["nobody@invite.test"]["invitation_error"]
        assert users["nobody@invite.test"]["status"] == "invited"
        assert users["somebody@invite.test"]["invitation_error"] is None
        assert users["lead3@invite.test"]["invitation_error"] is None


async def test_a_legacy_tenant_name_with_a_line_break_no_longer_kills_invitations(settings, smtp_sink):
    """Names stored before they had to be one line: the email still goes, its subject one line."""
    configured = msgspec.structs.replace(settings, **smtp_sink.smtp_settings())
    async with AsyncTestClient(app=create_app(configured)) as client:
        created = await signup(client, "lead4@invite.test", name="Acme")
        owner = bearer(await login(client, "lead4@invite.test"))
        await update_tenant(settings, created["tenant_id"], name="Acme\r\nBcc: evil@attacker.test")
        response = await client.post(
            "/users/invite", json={"email": "crlf@invite.test", "name": "C"}, headers=owner
        )
        assert response.status_code == 201
        recipients, message = (await _wait_for_email(smtp_sink))[0]
        assert recipients == ["crlf@invite.test"]
        assert message["Bcc"] is None
        assert message["Subject"] == "You're invited to Acme  Bcc: evil@attacker.test on Vigilare"


async def _eventually(check, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
    return value
