"""Push set-up, authentication of deliveries, storing events, and an account's push status.

The ingest route must answer well within EventBridge's 5-second timeout (a timeout is retried, and
a retry is a duplicate): it checks the secret, stores the event once by its id and queues its
processing for after the commit. Nothing else happens in the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare import metrics
from vigilare.accounts.models import ACTIVE, DISCONNECTED, AwsAccount
from vigilare.accounts.schemas import PushStatusOut
from vigilare.accounts.service import get_account
from vigilare.auth.roles import Principal
from vigilare.config import Settings
from vigilare.errors import Conflict, RateLimited, Unauthorized
from vigilare.ids import isoformat, new_id, utcnow
from vigilare.ingest.envelope import parse_event
from vigilare.ingest.jobs import event_job_id, process_aws_event
from vigilare.ingest.keys import HEADER_NAME, new_secret, part_matches, split_secret
from vigilare.ingest.models import IngestEvent, IngestKey
from vigilare.ingest.onboarding import (
    PushTarget,
    fallback_cli_script,
    push_regions,
    terraform_snippet,
    test_event_command,
)
from vigilare.ingest.schemas import EventAcceptedOut, PushSetupOut
from vigilare.jobs import enqueue_after_commit
from vigilare.plugin.events import AwsEvent
from vigilare.ratelimit import Counter

INGEST_PATH = "/ingest/aws-events"
# One body for every refused key (unknown, wrong, expired, replaced, of a disconnected account, or
# for another account's events): the answer tells an attacker nothing about which it was.
INVALID_KEY = "invalid ingest key"
ROTATION_OVERLAP = timedelta(hours=24)
# The snippets send an hourly heartbeat: six missed in a row means the delivery is broken.
STALE_AFTER = timedelta(hours=6)
# Deliveries with a bad key per client address per minute before they are answered 429.
FAILED_KEYS_PER_MINUTE = 60

NOT_CONFIGURED, WAITING, CONNECTED, STALE = "not_configured", "waiting", "connected", "stale"


async def set_up_push(
    session: AsyncSession, principal: Principal, aws_account_id: str, settings: Settings
) -> PushSetupOut:
    """Create the account's ingest secret, or rotate it: the replaced secret works 24 more hours,
    any older one stops now. Only a verified (ACTIVE) account: verification proved the customer
    controls the AWS account whose events the secret will vouch for."""
    account = await get_account(session, aws_account_id)
    if account.status == DISCONNECTED:
        raise Conflict("account is disconnected: connect it again before setting up push")
    if account.status != ACTIVE:
        raise Conflict(f"account is {account.status}: verify it before setting up push")
    # One set-up at a time per account: two concurrent rotations must not leave two current secrets.
    await session.execute(
        select(AwsAccount.id).where(AwsAccount.id == account.id).with_for_update(key_share=True)
    )
    now = utcnow()
    previous_until: datetime | None = None
    for key in await session.scalars(select(IngestKey).where(IngestKey.account_id == account.id)):
        if key.expires_at is None and key.created_at >= account.connected_at:
            key.expires_at = previous_until = now + ROTATION_OVERLAP
        else:  # already replaced once, expired, or from an earlier connection of the account
            await session.delete(key)
    secret = new_secret(settings.secret_key)
    session.add(
        IngestKey(
            id=secret.key_id,
            tenant_id=account.tenant_id,
            account_id=account.id,
            secret_hash=secret.secret_hash,
            created_at=now,
            created_by=principal.user_id,
            expires_at=None,
        )
    )
    await session.flush()
    target = PushTarget(
        aws_account_id=account.aws_account_id,
        ingest_url=settings.public_url.rstrip("/") + INGEST_PATH,
        header_name=HEADER_NAME,
        secret=secret.secret,
        regions=push_regions(await known_regions(session, account) or settings.scan_region_list),
    )
    return PushSetupOut(
        ingest_url=target.ingest_url,
        header_name=HEADER_NAME,
        secret=secret.secret,
        terraform_snippet=terraform_snippet(target),
        fallback_cli_script=fallback_cli_script(target),
        test_event_command=test_event_command(account.aws_account_id),
        previous_secret_valid_until=isoformat(previous_until),
    )


async def known_regions(session: AsyncSession, account: AwsAccount) -> list[str] | None:
    """The account's enabled regions, as its latest completed scan listed them (in the account's
    evidence, which each completed scan replaces)."""
    evidence = await session.scalar(select(AwsAccount.evidence).where(AwsAccount.id == account.id))
    regions = (evidence or {}).get("regions")
    return [str(region) for region in regions] if isinstance(regions, list) and regions else None


@dataclass(frozen=True, slots=True)
class IngestAccount:
    """The account a valid secret vouches for (the columns the route needs, nothing else)."""

    account_id: str
    tenant_id: str
    aws_account_id: str


async def authenticate(
    session: AsyncSession, settings: Settings, header_value: str | None, now: datetime
) -> IngestAccount:
    """The account the secret vouches for; :class:`Unauthorized` with the one body otherwise."""
    parts = split_secret(header_value)
    key_id, random_part = parts or ("", "-")
    found = None
    if parts is not None:
        # Columns, not entities: every delivery runs this, and the account's scan state is large.
        found = (
            await session.execute(
                select(
                    IngestKey.secret_hash,
                    IngestKey.created_at,
                    IngestKey.expires_at,
                    AwsAccount.id,
                    AwsAccount.tenant_id,
                    AwsAccount.aws_account_id,
                    AwsAccount.status,
                    AwsAccount.connected_at,
                )
                .join(AwsAccount, AwsAccount.id == IngestKey.account_id)
                .where(IngestKey.id == key_id)
            )
        ).first()
    # Compared in constant time even for an unknown key id (against a dummy), then judged.
    matches = part_matches(settings.secret_key, random_part, found.secret_hash if found else None)
    if (
        not matches
        or found is None
        or found.status != ACTIVE
        or found.created_at < found.connected_at
        or (found.expires_at is not None and found.expires_at <= now)
    ):
        raise Unauthorized(INVALID_KEY)
    return IngestAccount(account_id=found.id, tenant_id=found.tenant_id, aws_account_id=found.aws_account_id)


async def receive_event(
    session: AsyncSession,
    counter: Counter,
    settings: Settings,
    client: str,
    header_value: str | None,
    body: bytes,
) -> EventAcceptedOut:
    """Check the key and the event, apply the account's rate limit, store the event and queue it."""
    outcome = "refused"
    try:
        accepted = await _receive(session, counter, settings, client, header_value, body)
        outcome = "accepted" if accepted.new else "duplicate"
        return accepted.answer
    except RateLimited:
        outcome = "rate_limited"
        raise
    except Unauthorized:
        raise
    except Exception:
        outcome = "invalid"
        raise
    finally:
        metrics.INGEST_EVENTS.labels(outcome).inc()


@dataclass(frozen=True)
class _Accepted:
    answer: EventAcceptedOut
    new: bool


async def _receive(
    session: AsyncSession,
    counter: Counter,
    settings: Settings,
    client: str,
    header_value: str | None,
    body: bytes,
) -> _Accepted:
    now = utcnow()
    try:
        account = await authenticate(session, settings, header_value, now)
    except Unauthorized:
        await _count_refusal(counter, client)
        raise
    event, payload = parse_event(body, now)
    if event.account != account.aws_account_id:
        await _count_refusal(counter, client)
        raise Unauthorized(INVALID_KEY)
    limit = settings.ingest_rate_limit_per_minute
    if limit > 0:
        count, retry_after = await counter.hit(f"ingest:{account.account_id}", 60)
        if count > limit:
            raise RateLimited(
                f"more than {limit} events a minute for account {account.aws_account_id}: retry later",
                retry_after=retry_after,
            )
    new = await store_event(session, account, event, payload, now)
    return _Accepted(EventAcceptedOut(event_id=event.id), new)


async def _count_refusal(counter: Counter, client: str) -> None:
    count, retry_after = await counter.hit(f"ingest-refused:{client}", 60)
    if count > FAILED_KEYS_PER_MINUTE:
        raise RateLimited(
            "too many deliveries with an invalid ingest key: slow down", retry_after=retry_after
        )


async def store_event(
    session: AsyncSession, account: IngestAccount, event: AwsEvent, payload: dict[str, object], now: datetime
) -> bool:
    """Store the event once by its EventBridge id and queue its processing after the commit.

    A redelivery of an event already processed changes nothing; one stored but not processed yet
    (its job lost or still waiting) queues it again: the queue ignores a job id still waiting.
    Returns False for a redelivery.
    """
    row_id = new_id()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # Insert-or-nothing in one statement: two concurrent deliveries of one event store it once.
    result = await session.execute(
        insert(IngestEvent)
        .values(
            id=row_id,
            tenant_id=account.tenant_id,
            account_id=account.account_id,
            event_id=event.id,
            source=event.source,
            detail_type=event.detail_type,
            event_time=event.time,
            region=event.region,
            received_at=now,
            enqueued_at=now,
            recoveries=0,
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=["account_id", "event_id"])
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        existing = (
            await session.execute(
                select(IngestEvent.id, IngestEvent.processed_at).where(
                    IngestEvent.account_id == account.account_id, IngestEvent.event_id == event.id
                )
            )
        ).first()
        if existing is None or existing.processed_at is not None:
            return False
        enqueue_after_commit(session, process_aws_event, existing.id, job_id=event_job_id(existing.id))
        return False
    enqueue_after_commit(session, process_aws_event, row_id, job_id=event_job_id(row_id))
    return True


async def push_status(session: AsyncSession, account: AwsAccount, now: datetime) -> PushStatusOut:
    """``not_configured`` until push is set up for the account's current connection; ``waiting``
    until its first event arrives; ``connected`` while an event (the hourly heartbeat, a test event,
    anything) arrived within :data:`STALE_AFTER`; ``stale`` after that."""
    if account.status != ACTIVE:
        return PushStatusOut(status=NOT_CONFIGURED, last_event_at=None, events_24h=0)
    configured = await session.scalar(
        select(func.count())
        .select_from(IngestKey)
        .where(IngestKey.account_id == account.id, IngestKey.created_at >= account.connected_at)
    )
    if not configured:
        return PushStatusOut(status=NOT_CONFIGURED, last_event_at=None, events_24h=0)
    since_connected = (IngestEvent.account_id == account.id, IngestEvent.received_at >= account.connected_at)
    last = await session.scalar(select(func.max(IngestEvent.received_at)).where(*since_connected))
    recent = await session.scalar(
        select(func.count())
        .select_from(IngestEvent)
        .where(*since_connected, IngestEvent.received_at > now - timedelta(hours=24))
    )
    status = WAITING if last is None else CONNECTED if now - last <= STALE_AFTER else STALE
    return PushStatusOut(status=status, last_event_at=isoformat(last), events_24h=int(recent or 0))
