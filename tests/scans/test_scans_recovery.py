"""Recovery of scans whose run is gone, done in SQL, oldest first, following the configured lease and
tick: every lapsed scan among many healthy ones is found in one pass; a queued scan whose job still
waits in the queue is left to it; a scan whose job a dead worker took, or whose worker was killed
mid-scan, ends within lease + tick + scan timeout; two workers racing one scan run it once. Real
`vigilare worker` processes, the real Redis, the AWS sandbox."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from tests.support.process import start_worker, stop, wait_for_text
from tests.support.scans import store_connected_account
from tests.support.services import REDIS_URL
from tests.support.waiting import eventually
from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.config import Settings
from vigilare.db.engine import SessionFactory
from vigilare.ids import new_id, utcnow
from vigilare.jobs import JobState, unit_of_work
from vigilare.jobs.queue import ArqQueue
from vigilare.scans.models import QUEUED, RUNNING, Scan
from vigilare.scans.recovery import recover_scans
from vigilare.scans.service import MANUAL, create_scan, scan_job_id
from vigilare.signals.models import Signal
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed_aws import create_public_bucket, create_quarantined_user

LEASE = timedelta(seconds=60)
# arq marks a job taken with this key, for as long as its longest job may run (+ 10 s).
IN_PROGRESS_MS = 320_000


@pytest.fixture
async def arq_queue(settings: Settings, redis_flush: None):
    queue = await ArqQueue.connect(msgspec.structs.replace(settings, redis_url=REDIS_URL))
    try:
        yield queue
    finally:
        await queue.close()


def _scan(account: AwsAccount, status: str, handed_at) -> Scan:
    return Scan(
        id=new_id(),
        tenant_id=account.tenant_id,
        account_id=account.id,
        trigger="scheduled",
        status=status,
        queued_at=handed_at,
        handed_at=handed_at,
        started_at=handed_at if status == RUNNING else None,
        attempts=1 if status == RUNNING else 0,
        outcomes={},
        collection_errors=[],
        evidence={},
    )


async def _accounts(session, count: int) -> list[AwsAccount]:
    tenant = Tenant(id=new_id(), name="Many", plan="agency", status="active")
    session.add(tenant)
    await session.flush()
    accounts = [
        AwsAccount(
            id=new_id(),
            tenant_id=tenant.id,
            aws_account_id=f"{300000000000 + index}",
            external_id="x",
            role_name="VigilareAudit",
            status=ACTIVE,
            connected_at=utcnow(),
            tags=[],
            capabilities={},
        )
        for index in range(count)
    ]
    session.add_all(accounts)
    await session.flush()
    return accounts


async def test_every_lapsed_scan_among_many_healthy_ones_is_recovered_in_one_pass(db, arq_queue):
    now = utcnow()
    lapsed: list[str] = []
    async with db() as session:
        accounts = await _accounts(session, 540)
        for index, account in enumerate(accounts):
            # 520 healthy runs (their leases renewed) listed first, then 20 whose worker died.
            dead = index >= 520
            scan = _scan(account, RUNNING, now - timedelta(minutes=10) + timedelta(seconds=index))
            session.add(scan)
            account.lease_scan_id = scan.id
            account.lease_until = now - timedelta(seconds=1) if dead else now + timedelta(minutes=30)
            if dead:
                lapsed.append(scan.id)
        await session.commit()

    async with unit_of_work(db, arq_queue, cross_tenant=True) as session:
        result = await recover_scans(session, arq_queue, now, LEASE)
    assert (result.handed, result.waiting, result.failed) == (20, 0, 0)
    new_jobs = [scan_job_id(scan_id, 1) for scan_id in lapsed]
    assert set((await arq_queue.states(new_jobs)).values()) == {JobState.WAITING}

    # A lease later, those jobs still wait for a worker: left to the queue, not handed again.
    async with unit_of_work(db, arq_queue, cross_tenant=True) as session:
        again = await recover_scans(session, arq_queue, now + LEASE, LEASE)
    assert (again.handed, again.waiting) == (0, 20)
    async with db() as session:
        handoffs = dict((await session.execute(select(Scan.id, Scan.handoffs))).tuples().all())
    assert {scan_id for scan_id, count in handoffs.items() if count} == set(lapsed)


async def test_a_queued_scan_gets_a_new_job_only_when_its_job_is_not_waiting(db, arq_queue):
    now = utcnow()
    async with db() as session:
        waiting, taken, lost, fresh = await _accounts(session, 4)
        scans = {
            "waiting": _scan(waiting, QUEUED, now - timedelta(minutes=5)),  # behind a long queue
            "taken": _scan(taken, QUEUED, now - timedelta(minutes=5)),  # taken by a worker that died
            "lost": _scan(lost, QUEUED, now - timedelta(minutes=5)),  # Redis lost it
            "fresh": _scan(fresh, QUEUED, now - timedelta(seconds=5)),  # just queued
        }
        session.add_all(scans.values())
        await session.commit()
    redis = Redis.from_url(REDIS_URL)
    try:
        for name in ("waiting", "taken", "fresh"):
            await arq_queue.enqueue("scan_account", scans[name].id, job_id=scan_job_id(scans[name].id))
        await redis.set(f"arq:in-progress:{scan_job_id(scans['taken'].id)}", b"1", px=IN_PROGRESS_MS)
    finally:
        await redis.aclose()

    async with unit_of_work(db, arq_queue, cross_tenant=True) as session:
        result = await recover_scans(session, arq_queue, now, LEASE)
    assert (result.handed, result.waiting) == (2, 1)
    states = await arq_queue.states([scan_job_id(scans[name].id, 1) for name in ("taken", "lost", "waiting")])
    assert states == {
        scan_job_id(scans["taken"].id, 1): JobState.WAITING,
        scan_job_id(scans["lost"].id, 1): JobState.WAITING,
    }


# Real workers: a short lease and tick, as an operator may configure them. The lease is long enough
# for a run to renew it on a machine whose cores are busy with other work (a run that cannot renew
# in time stops, and is recovered: correct, but another attempt). The scan timeout leaves a manual
# scan of the sandbox (about 17 s on a quiet machine, twice that beside other tests) room to finish
# rather than be cut off near the bound.


@pytest.fixture
def worker_settings(aws_settings: Settings, redis_flush: None) -> Settings:
    return msgspec.structs.replace(
        aws_settings,
        redis_url=REDIS_URL,
        scan_lease_seconds=10,
        scheduler_tick_seconds=1,
        scan_timeout_seconds=60,
        outbox_relay_seconds=0.5,
    )


def bound(settings: Settings) -> float:
    lease, tick = settings.scan_lease_seconds, settings.scheduler_tick_seconds
    return float(lease + tick + settings.scan_timeout_seconds)


class Workers:
    def __init__(self, settings: Settings, folder: Path) -> None:
        self.settings = settings
        self.folder = folder
        self.processes: list = []

    def start(self) -> object:
        log = self.folder / f"worker-{len(self.processes)}.log"
        process = start_worker(self.settings, log)
        self.processes.append(process)
        wait_for_text(log, "ready: taking jobs", timeout=90)
        return process

    def stop(self) -> None:
        for process in self.processes:
            stop(process)


@pytest.fixture
def workers(worker_settings: Settings, tmp_path: Path):
    running = Workers(worker_settings, tmp_path)
    try:
        yield running
    finally:
        running.stop()


async def _connected_account(db: SessionFactory, sandbox: Sandbox) -> AwsAccount:
    account = await store_connected_account(db, sandbox)
    create_quarantined_user(sandbox, account.aws_account_id, "leaky")
    create_public_bucket(sandbox, account.aws_account_id, "recovered-bucket")
    return account


async def _ended(db: SessionFactory, scan_id: str) -> Scan | None:
    async with db() as session:
        scan = await session.get_one(Scan, scan_id)
        return scan if scan.finished_at is not None else None


async def _status(db: SessionFactory, scan_id: str) -> str:
    async with db() as session:
        return (await session.get_one(Scan, scan_id)).status


class TakenByAWorkerThatDies:
    """The scan's job is taken by a worker that dies before it marks the scan running: in Redis,
    the job stays queued and marked in progress (until arq's long in-progress timeout)."""

    def __init__(self, queue: ArqQueue) -> None:
        self.queue = queue

    async def enqueue(self, name: str, *args: object, job_id: str | None = None, defer_seconds: float = 0):
        assert job_id is not None
        await self.queue.pool.set(f"arq:in-progress:{job_id}", b"1", px=IN_PROGRESS_MS)
        return await self.queue.enqueue(name, *args, job_id=job_id, defer_seconds=defer_seconds)


async def test_a_scan_whose_job_a_dead_worker_took_ends_within_lease_tick_and_timeout(
    worker_settings, db, sandbox, workers
):
    account = await _connected_account(db, sandbox)
    workers.start()
    queue = await ArqQueue.connect(worker_settings)
    try:
        async with unit_of_work(db, TakenByAWorkerThatDies(queue), cross_tenant=True) as session:  # type: ignore[arg-type]
            scan = create_scan(session, await session.get_one(AwsAccount, account.id), MANUAL)
        died_at = time.monotonic()
        ended = await eventually(lambda: _ended(db, scan.id), timeout=bound(worker_settings) + 30)
        took = time.monotonic() - died_at
    finally:
        await queue.close()
    print(f"\nscan taken by a dead worker ended {took:.1f}s later (bound {bound(worker_settings):.0f}s)")
    assert ended.status in ("succeeded", "partial") and ended.attempts == 1
    assert took <= bound(worker_settings)


async def test_a_scan_whose_worker_is_killed_mid_scan_ends_within_lease_tick_and_timeout(
    worker_settings, db, sandbox, workers
):
    account = await _connected_account(db, sandbox)
    first = workers.start()
    queue = await ArqQueue.connect(worker_settings)
    try:
        sandbox.latency_ms = 250  # the scan is surely in flight when its worker is killed
        async with unit_of_work(db, queue, cross_tenant=True) as session:
            scan = create_scan(session, await session.get_one(AwsAccount, account.id), MANUAL)

        async def running() -> bool:
            return await _status(db, scan.id) == "running"

        await eventually(running, timeout=60)
        workers.start()  # the survivor, ready before the kill
        first.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
        killed_at = time.monotonic()
        sandbox.latency_ms = 0
        ended = await eventually(lambda: _ended(db, scan.id), timeout=bound(worker_settings) + 30)
        took = time.monotonic() - killed_at
    finally:
        await queue.close()
    print(f"\nscan of a killed worker ended {took:.1f}s after the kill (bound {bound(worker_settings):.0f}s)")
    assert ended.status in ("succeeded", "partial") and ended.attempts == 2
    assert took <= bound(worker_settings)
    async with db() as session:
        keys = [
            (s.scenario, s.kind, s.region, s.resource)
            for s in await session.scalars(select(Signal).where(Signal.resolved_at.is_(None)))
        ]
    assert keys and len(keys) == len(set(keys))


async def test_two_workers_racing_one_scan_run_it_once(worker_settings, db, sandbox, workers):
    account = await _connected_account(db, sandbox)
    workers.start()
    workers.start()
    queue = await ArqQueue.connect(worker_settings)
    try:
        sandbox.latency_ms = 50
        async with unit_of_work(db, queue, cross_tenant=True) as session:
            scan = create_scan(session, await session.get_one(AwsAccount, account.id), MANUAL)
            # As the old five-minute sweep did: the same scan queued again under another job id.
            extra = scan_job_id(scan.id, 1000)
        extras = [queue.enqueue("scan_account", scan.id, job_id=f"{extra}:{n}") for n in range(3)]
        await asyncio.gather(*extras)
        ended = await eventually(lambda: _ended(db, scan.id), timeout=120)
        await asyncio.sleep(3)  # every other job of the scan has run by now
    finally:
        await queue.close()
    after = await _ended(db, scan.id)
    assert after is not None and after.attempts == 1 and ended.status in ("succeeded", "partial")
