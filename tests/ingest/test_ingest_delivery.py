"""POST /ingest/aws-events through the real server, as an EventBridge API destination calls it:
keys refused with one body, bodies that are not events, duplicates, the per-account rate limit."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from tests.ingest.conftest import INGEST_RATE_LIMIT, processed_event, push_account, stored_events
from tests.ingest.ingest_support import load_event
from tests.support.db import db_session
from vigilare.ingest.models import IngestKey
from vigilare_sandbox.eventbridge import ApiDestination

INVALID = {"error": "invalid ingest key"}


async def test_refused_keys_all_get_the_same_401(http, sandbox, pg_url):
    account = await push_account(http, sandbox)
    other = await push_account(http, sandbox)
    event = load_event("vigilare_test_event", account.aws_account_id)
    good = account.destination
    key_id, random_part = good.secret.split(".")
    forged = [
        "",  # no key
        "not-a-key",
        f"{key_id}.{'A' * 43}",  # the right key id with a wrong secret
        f"01HZZZZZZZZZZZZZZZZZZZZZZZ.{random_part}",  # an unknown key id
        good.secret + "x",
    ]
    for secret in forged:
        response = await ApiDestination(good.endpoint, good.header_name, secret).deliver_async(http, event)
        assert (response.status_code, response.json()) == (401, INVALID), secret
    missing = await http.post("/ingest/aws-events", content=json.dumps(event))
    assert (missing.status_code, missing.json()) == (401, INVALID)

    # Another account's valid key, or this account's key for another account's event: refused alike.
    mismatch = await other.deliver(http, event)
    assert (mismatch.status_code, mismatch.json()) == (401, INVALID)
    foreign = await account.deliver(http, load_event("vigilare_test_event", other.aws_account_id))
    assert (foreign.status_code, foreign.json()) == (401, INVALID)

    # Rotation: the replaced secret works for 24 hours, the one before it stops at once.
    first = account.destination
    rotated = (
        await http.post(f"/accounts/{account.aws_account_id}/push-setup", headers=account.headers)
    ).json()
    until = datetime.fromisoformat(rotated["previous_secret_valid_until"])
    assert timedelta(hours=23, minutes=59) < until - datetime.now(UTC) <= timedelta(hours=24)
    second = ApiDestination(first.endpoint, first.header_name, rotated["secret"])
    assert (
        await first.deliver_async(http, load_event("vigilare_test_event", account.aws_account_id, id="r1"))
    ).status_code == 202
    assert (
        await second.deliver_async(http, load_event("vigilare_test_event", account.aws_account_id, id="r2"))
    ).status_code == 202
    third = (
        await http.post(f"/accounts/{account.aws_account_id}/push-setup", headers=account.headers)
    ).json()
    revoked = await first.deliver_async(
        http, load_event("vigilare_test_event", account.aws_account_id, id="r3")
    )
    assert (revoked.status_code, revoked.json()) == (401, INVALID)
    assert (
        await second.deliver_async(http, load_event("vigilare_test_event", account.aws_account_id, id="r4"))
    ).status_code == 202

    # The 24 hours are over: the replaced secret is refused like any other.
    second_id = rotated["secret"].split(".")[0]
    async with db_session(pg_url) as session:
        await session.execute(
            update(IngestKey)
            .where(IngestKey.id == second_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await second.deliver_async(
        http, load_event("vigilare_test_event", account.aws_account_id, id="r5")
    )
    assert (expired.status_code, expired.json()) == (401, INVALID)
    current = ApiDestination(first.endpoint, first.header_name, third["secret"])
    assert (
        await current.deliver_async(http, load_event("vigilare_test_event", account.aws_account_id, id="r6"))
    ).status_code == 202

    # A deleted (disconnected) account's secret is refused, with the same body.
    assert (
        await http.delete(f"/accounts/{account.aws_account_id}", headers=account.headers)
    ).status_code == 200
    deleted = await current.deliver_async(
        http, load_event("vigilare_test_event", account.aws_account_id, id="r7")
    )
    assert (deleted.status_code, deleted.json()) == (401, INVALID)
    assert [row.event_id for row in await stored_events(pg_url, account.aws_account_id)] == [
        "r1",
        "r2",
        "r4",
        "r6",
    ]


async def test_bodies_that_are_not_events_are_refused(http, sandbox, pg_url):
    account = await push_account(http, sandbox)
    event = load_event("guardduty_finding", account.aws_account_id)

    oversized = {**event, "detail": {**event["detail"], "padding": "x" * (256 * 1024)}}
    response = await account.deliver(http, oversized)
    assert response.status_code == 413 and "error" in response.json()

    almost = {**event, "id": "just-under-the-limit", "detail": {**event["detail"], "padding": "x" * 200_000}}
    assert (await account.deliver(http, almost)).status_code == 202

    headers = account.destination.headers()
    for body in (b"{not json", b"[1, 2]", b""):
        response = await http.post("/ingest/aws-events", content=body, headers=headers)
        assert response.status_code == 400 and "error" in response.json(), body
    for field in ("id", "detail-type", "source", "account", "time", "region", "detail"):
        incomplete = {name: value for name, value in event.items() if name != field}
        response = await account.deliver(http, incomplete)
        assert response.status_code == 400 and field in response.json()["error"], field
    for field, value in (("detail", "text"), ("time", "yesterday"), ("account", 1234), ("resources", "arn")):
        response = await account.deliver(http, {**event, field: value})
        assert response.status_code == 400 and field in response.json()["error"], field
    # Documented shapes that are valid: no version, no resources, a non-UUID id, region "global".
    minimal = {k: v for k, v in event.items() if k not in ("version", "resources")}
    assert (
        await account.deliver(http, {**minimal, "id": "121345678-1234", "region": "global"})
    ).status_code == 202
    assert len(await stored_events(pg_url, account.aws_account_id)) == 2


async def test_a_redelivered_event_is_acknowledged_alike_and_processed_once(http, sandbox, pg_url):
    account = await push_account(http, sandbox)
    event = load_event("guardduty_finding", account.aws_account_id)
    first = await account.deliver(http, event)
    assert first.status_code == 202 and first.json() == {"event_id": event["id"], "status": "accepted"}
    await processed_event(pg_url, account.aws_account_id, event["id"])
    again = await asyncio.gather(*(account.deliver(http, event) for _ in range(5)))
    assert {(r.status_code, r.text) for r in again} == {(first.status_code, first.text)}

    # Deliveries of one new event racing each other store it once too.
    racing = load_event("guardduty_finding", account.aws_account_id, id="racing-delivery")
    answers = await asyncio.gather(*(account.deliver(http, racing) for _ in range(5)))
    assert {r.status_code for r in answers} == {202}
    await processed_event(pg_url, account.aws_account_id, "racing-delivery")

    rows = await stored_events(pg_url, account.aws_account_id)
    assert sorted(row.event_id for row in rows) == sorted([event["id"], "racing-delivery"])
    threat = await account.signals(http, scenario="threat")
    assert len(threat) == 1 and threat[0]["detected_by"] == "event"


async def test_the_account_rate_limit_answers_429_with_retry_after(http, sandbox, pg_url):
    account = await push_account(http, sandbox)
    answers = [
        await account.deliver(
            http, load_event("vigilare_test_event", account.aws_account_id, id=f"burst-{n}")
        )
        for n in range(INGEST_RATE_LIMIT + 2)
    ]
    assert [r.status_code for r in answers[:INGEST_RATE_LIMIT]] == [202] * INGEST_RATE_LIMIT
    refused = answers[INGEST_RATE_LIMIT]
    assert refused.status_code == 429 and "error" in refused.json()
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(await stored_events(pg_url, account.aws_account_id)) == INGEST_RATE_LIMIT
    # Another account is not slowed down by this one.
    other = await push_account(http, sandbox)
    assert (
        await other.deliver(http, load_event("vigilare_test_event", other.aws_account_id))
    ).status_code == 202


async def test_a_test_event_marks_push_connected_and_opens_no_signal(http, sandbox, pg_url):
    account = await push_account(http, sandbox)
    before = await account.signals(http)
    event = load_event("vigilare_test_event", account.aws_account_id)
    assert (await account.deliver(http, event)).status_code == 202
    row = await processed_event(pg_url, account.aws_account_id, event["id"])
    assert row.outcome == "connectivity check: push delivery works"
    assert (await account.details(http))["push"]["status"] == "connected"
    assert await account.signals(http) == before

    unhandled = load_event("ec2_instance_state_change", account.aws_account_id)
    assert (await account.deliver(http, unhandled)).status_code == 202
    row = await processed_event(pg_url, account.aws_account_id, unhandled["id"])
    assert row.outcome.startswith("no handler for aws.ec2")
    assert await account.signals(http) == before
