"""Scheduled scans: each account on its plan's interval, spread over it, once (recovery of stuck scans:
test_scans_recovery.py)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from vigilare.accounts.models import ACTIVE, AwsAccount
from vigilare.auth.models import Tenant
from vigilare.ids import new_id, utcnow
from vigilare.jobs import flush_after_commit
from vigilare.scans.models import Scan
from vigilare.scans.scheduler import first_scan_at, tick


class RecordingQueue:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...], str | None]] = []

    async def enqueue(
        self, name: str, *args: Any, job_id: str | None = None, defer_seconds: float = 0
    ) -> str:
        self.jobs.append((name, args, job_id))
        return job_id or ""

    async def close(self) -> None:
        pass


async def _tenant_with_accounts(session, plan: str, status: str, count: int, due_at) -> list[AwsAccount]:
    tenant = Tenant(
        id=new_id(),
        name=f"{plan}-{status}",
        plan=plan,
        status=status,
        trial_ends_at=utcnow() + timedelta(days=3),
    )
    session.add(tenant)
    await session.flush()
    accounts = []
    for index in range(count):
        account = AwsAccount(
            id=new_id(),
            tenant_id=tenant.id,
            aws_account_id=f"{100000000000 + index}",
            external_id="x",
            role_name="VigilareAudit",
            status=ACTIVE,
            connected_at=utcnow(),
            next_scan_at=due_at,
            tags=[],
            capabilities={},
        )
        session.add(account)
        accounts.append(account)
    await session.flush()
    return accounts


async def test_due_accounts_are_scheduled_once_and_moved_one_interval_on(db):
    now = utcnow()
    queue = RecordingQueue()
    async with db() as session:
        solo = await _tenant_with_accounts(session, "solo", "trialing", 1, now - timedelta(seconds=5))
        team = await _tenant_with_accounts(session, "team", "active", 3, now - timedelta(seconds=5))
        later = await _tenant_with_accounts(session, "agency", "active", 2, now + timedelta(minutes=2))
        canceled = await _tenant_with_accounts(session, "team", "canceled", 2, now - timedelta(seconds=5))
        await session.commit()

        result = await tick(session, now)
        await session.commit()
        await flush_after_commit(session, queue)
        assert result.scheduled == 4
        scanned = {args[0] for name, args, _ in queue.jobs if name == "scan_account"}
        assert len(scanned) == 4

        for account in solo + team + later + canceled:
            await session.refresh(account)
        assert all(
            timedelta(minutes=15) <= a.next_scan_at - (now - timedelta(seconds=5)) <= timedelta(minutes=15.8)
            for a in solo
        )
        assert all(
            timedelta(minutes=5) <= a.next_scan_at - (now - timedelta(seconds=5)) <= timedelta(minutes=5.3)
            for a in team
        )
        assert all(a.next_scan_at == now + timedelta(minutes=2) for a in later)  # not due yet
        # A canceled tenant's accounts keep their schedule but get no scans.
        scans_of_canceled = await session.scalar(
            select(func.count()).select_from(Scan).where(Scan.account_id.in_([a.id for a in canceled]))
        )
        assert scans_of_canceled == 0

        again = await tick(session, now)
        await session.commit()
        assert again.scheduled == 0


def test_accounts_are_spread_evenly_over_the_interval():
    now = utcnow().replace(microsecond=0)
    interval = timedelta(minutes=5)
    offsets = [(first_scan_at(new_id(), interval, now) - now).total_seconds() for _ in range(2000)]
    assert all(0 < offset <= interval.total_seconds() for offset in offsets)
    buckets = Counter(min(int(offset // 30), 9) for offset in offsets)  # ten 30-second buckets
    assert len(buckets) == 10
    assert all(120 <= count <= 280 for count in buckets.values()), buckets
