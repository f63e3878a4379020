"""A scan runs at most once at a time: a run that lost its lease writes nothing and stops; two jobs
of one scan run it once; and a scan whose run failed before it started (the database did not
answer) is tried again at once. The real scan job on PostgreSQL and the AWS sandbox."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.scans import store_connected_account
from tests.support.waiting import eventually
from vigilare.accounts.models import AwsAccount
from vigilare.db.engine import SessionFactory
from vigilare.ids import utcnow
from vigilare.jobs import JobContext
from vigilare.jobs.queue import InProcessQueue
from vigilare.scans.jobs import run_scan
from vigilare.scans.models import Scan
from vigilare.scans.service import MANUAL, create_scan
from vigilare.signals.models import Signal
from vigilare_sandbox import RequestLog, Sandbox
from vigilare_sandbox.seed_aws import create_public_bucket


async def _queued_scan(db: SessionFactory, sandbox: Sandbox) -> Scan:
    """A connected account with a public bucket (a finding) and a queued scan of it; its job waits
    in the outbox (nothing here hands it to a queue)."""
    account = await store_connected_account(db, sandbox)
    create_public_bucket(sandbox, account.aws_account_id, "fenced-bucket")
    async with db() as session:
        scan = create_scan(session, await session.get_one(AwsAccount, account.id), MANUAL)
        await session.commit()
    return scan


async def _scan(db: SessionFactory, scan_id: str) -> Scan:
    async with db() as session:
        return await session.get_one(Scan, scan_id)


async def _signal_count(db: SessionFactory) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(Signal)) or 0)


async def _running(db: SessionFactory, scan_id: str) -> bool:
    return (await _scan(db, scan_id)).status == "running"


async def _take_the_lease_over(db: SessionFactory, scan: Scan) -> None:
    """What a second run of the scan does once the first run's lease lapsed: take it, anew."""
    async with db() as session:
        await session.execute(
            update(AwsAccount)
            .where(AwsAccount.id == scan.account_id)
            .values(
                lease_generation=AwsAccount.lease_generation + 1,
                lease_scan_id=scan.id,
                lease_until=utcnow() + timedelta(seconds=60),
            )
        )
        await session.commit()


async def test_a_run_that_lost_its_lease_writes_nothing(aws_settings, db, sandbox, queue):
    # A long lease: this run does not renew it during the scan, so it only learns it lost the lease
    # when it records the scan.
    settings = msgspec.structs.replace(aws_settings, scan_lease_seconds=120)
    scan = await _queued_scan(db, sandbox)
    sandbox.latency_ms = 100
    context = JobContext(settings=settings, session_factory=db, queue=queue)
    run = asyncio.create_task(run_scan(context, scan.id))
    await eventually(lambda: _running(db, scan.id), timeout=30)
    await _take_the_lease_over(db, scan)

    assert await asyncio.wait_for(run, timeout=120) == "stopped: lease lost"
    after = await _scan(db, scan.id)
    # The scan belongs to the run that holds the lease now: nothing of the stale run was recorded.
    assert (after.status, after.finished_at, after.findings_count) == ("running", None, 0)
    assert await _signal_count(db) == 0


async def test_a_run_stops_as_soon_as_its_lease_is_taken(
    aws_settings, db, sandbox, queue, aws_requests: RequestLog
):
    settings = msgspec.structs.replace(aws_settings, scan_lease_seconds=3)  # renewed every second
    scan = await _queued_scan(db, sandbox)
    sandbox.latency_ms = 300  # the whole scan would take far longer than this test waits
    context = JobContext(settings=settings, session_factory=db, queue=queue)
    run = asyncio.create_task(run_scan(context, scan.id))
    await eventually(lambda: _running(db, scan.id), timeout=30)
    await _take_the_lease_over(db, scan)
    taken = time.monotonic()

    assert await asyncio.wait_for(run, timeout=30) == "stopped: lease lost"
    stopped_in = time.monotonic() - taken
    await asyncio.sleep(1)  # the calls in flight when it stopped land
    calls = len(aws_requests.requests)
    await asyncio.sleep(2)
    assert len(aws_requests.requests) == calls  # and no new one: it stopped calling AWS
    assert stopped_in < settings.scan_lease_seconds
    assert (await _scan(db, scan.id)).finished_at is None


async def test_two_runs_of_one_scan_at_once_scan_it_once(aws_settings, db, sandbox, queue):
    scan = await _queued_scan(db, sandbox)
    sandbox.latency_ms = 50
    context = JobContext(settings=aws_settings, session_factory=db, queue=queue)
    outcomes = await asyncio.wait_for(
        asyncio.gather(run_scan(context, scan.id), run_scan(context, scan.id)), timeout=120
    )
    # One run scanned; the other found the scan running under its lease and left it alone.
    assert sorted(outcomes) in (["already running", "succeeded"], ["already running", "partial"]), outcomes
    after = await _scan(db, scan.id)
    assert after.attempts == 1 and after.status in ("succeeded", "partial")


class FlakyDatabase:
    """The database refuses the first ``failures`` sessions (a restart, a dropped connection)."""

    def __init__(self, factory: SessionFactory, failures: int) -> None:
        self.factory = factory
        self.failures = failures

    def __call__(self) -> AsyncSession:
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("BEGIN", {}, ConnectionResetError("the database closed the connection"))
        return self.factory()


async def test_a_scan_whose_run_failed_before_it_started_is_tried_again(aws_settings, db, sandbox):
    scan = await _queued_scan(db, sandbox)
    flaky = FlakyDatabase(db, failures=1)
    queue = InProcessQueue(aws_settings, flaky)  # type: ignore[arg-type]
    try:
        await queue.enqueue("scan_account", scan.id, job_id=f"scan:{scan.id}")
        await queue.drain(timeout=60)
    finally:
        await queue.close()
    after = await _scan(db, scan.id)
    assert flaky.failures == 0
    assert after.status in ("succeeded", "partial") and after.attempts == 1
