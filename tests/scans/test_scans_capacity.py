"""A worker process runs at most ``scan_full_concurrency`` full scans at once: a full scan beyond
it waits for a slot with its lease held and renewed (never lost, never taken over), while a
scheduled scan that collects only what is due runs at once. The real scan job on PostgreSQL and the
AWS sandbox; the test takes the process's only full-scan slot itself, so nothing depends on timing."""

from __future__ import annotations

import asyncio
from datetime import datetime

import msgspec
import pytest
from sqlalchemy import func, select

from tests.support.scans import store_connected_account
from tests.support.waiting import eventually
from vigilare.accounts.models import AwsAccount
from vigilare.config import ConfigError, Settings
from vigilare.db.engine import SessionFactory
from vigilare.ids import utcnow
from vigilare.jobs import JobContext
from vigilare.scans.capacity import FullScanSlots, full_scan_slots
from vigilare.scans.jobs import run_scan
from vigilare.scans.models import Scan
from vigilare.scans.service import MANUAL, SCHEDULED, create_scan
from vigilare.signals.models import Signal
from vigilare_sandbox import RequestLog, Sandbox
from vigilare_sandbox.seed_aws import create_public_bucket


async def _account(db: SessionFactory, sandbox: Sandbox, aws_account_id: str, bucket: str) -> AwsAccount:
    """A connected account with a public bucket (a finding)."""
    create_public_bucket(sandbox, aws_account_id, bucket)
    return await store_connected_account(db, sandbox, aws_account_id)


async def _queue_scan(db: SessionFactory, account: AwsAccount, trigger: str) -> str:
    async with db() as session:
        scan = create_scan(session, await session.get_one(AwsAccount, account.id), trigger)
        await session.commit()
        return scan.id


async def _scan(db: SessionFactory, scan_id: str) -> Scan:
    async with db() as session:
        return await session.get_one(Scan, scan_id)


async def _lease_until(db: SessionFactory, account_id: str) -> datetime | None:
    async with db() as session:
        return await session.scalar(select(AwsAccount.lease_until).where(AwsAccount.id == account_id))


async def _signals_of(db: SessionFactory, account_id: str) -> int:
    async with db() as session:
        count = await session.scalar(
            select(func.count()).select_from(Signal).where(Signal.account_id == account_id)
        )
        return int(count or 0)


async def test_a_full_scan_beyond_the_cap_waits_with_its_lease_renewed_while_partial_scans_run(
    aws_settings, db, sandbox, queue, aws_requests: RequestLog
):
    # One full scan at a time.
    settings = msgspec.structs.replace(aws_settings, scan_full_concurrency=1)
    context = JobContext(settings=settings, session_factory=db, queue=queue)
    # The scan that waits has a short lease (renewed every 2 s): it outlives it only if renewed.
    short_lease = JobContext(
        settings=msgspec.structs.replace(settings, scan_lease_seconds=6), session_factory=db, queue=queue
    )
    scanned = await _account(db, sandbox, "210987654321", "scanned-before")
    waiting = await _account(db, sandbox, "210987654322", "waits-for-a-slot")
    # A first (full) scan of one account while the slot is free: its next scheduled scan is partial.
    assert await run_scan(context, await _queue_scan(db, scanned, MANUAL)) in ("succeeded", "partial")

    # Something else holds the process's only full-scan slot.
    slots = full_scan_slots(1)
    release = asyncio.Event()
    holder = asyncio.create_task(slots.run(release.wait()))
    await eventually(lambda: _true(slots.running == 1))
    aws_requests.clear()

    manual = await _queue_scan(db, waiting, MANUAL)
    run = asyncio.create_task(run_scan(short_lease, manual))
    # It took its account's lease and is running, waiting for the slot: nothing asked of AWS yet.
    await eventually(lambda: _status_is(db, manual, "running"))
    await eventually(lambda: _true(slots.waiting == 1))
    first_lease = await _lease_until(db, waiting.id)
    assert first_lease is not None

    # A scheduled scan of the account scanned before collects only what is due: it does not wait.
    scheduled = await _queue_scan(db, scanned, SCHEDULED)
    assert await asyncio.wait_for(run_scan(context, scheduled), timeout=120) in ("succeeded", "partial")
    assert aws_requests.requests  # the scheduled scan called AWS ...
    assert not aws_requests.to("sts", "AssumeRole")  # ... with reused credentials; no full scan started

    # The waiting scan still holds its lease after the moment it was first taken until: renewed.
    await eventually(lambda: _held_past(db, waiting.id, first_lease), timeout=60)
    assert not run.done() and slots.waiting == 1

    # The slot comes free: the waiting scan runs, under the lease it kept, and records its findings.
    release.set()
    await holder
    assert await asyncio.wait_for(run, timeout=120) in ("succeeded", "partial")
    after = await _scan(db, manual)
    assert after.attempts == 1 and after.finished_at is not None
    assert await _signals_of(db, waiting.id) > 0
    assert (slots.running, slots.waiting) == (0, 0)


async def test_a_wait_cancelled_gives_no_slot_away_and_starts_nothing():
    slots = FullScanSlots(1)
    release = asyncio.Event()
    holder = asyncio.create_task(slots.run(release.wait()))
    started: list[str] = []

    async def work(name: str) -> str:
        started.append(name)
        return name

    cancelled = asyncio.create_task(slots.run(work("cancelled")))
    later = asyncio.create_task(slots.run(work("later")))
    await eventually(lambda: _true(slots.waiting == 2))
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert slots.waiting == 1 and started == []

    release.set()
    await holder
    assert await later == "later"
    assert started == ["later"] and (slots.running, slots.waiting) == (0, 0)


def test_the_full_scan_cap_must_allow_one_scan():
    with pytest.raises(ConfigError, match="VIGILARE_SCAN_FULL_CONCURRENCY"):
        Settings.from_env({"VIGILARE_SCAN_FULL_CONCURRENCY": "0"})


async def _true(value: bool) -> bool:
    return value


async def _status_is(db: SessionFactory, scan_id: str, status: str) -> bool:
    return (await _scan(db, scan_id)).status == status


async def _held_past(db: SessionFactory, account_id: str, first_until: datetime) -> bool:
    until = await _lease_until(db, account_id)
    return utcnow() > first_until and until is not None and until > utcnow()
