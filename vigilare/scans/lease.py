"""The per-account scan lease: at most one run of one scan of an account at a time, always.

A run takes the lease before it marks its scan running, renews it while it scans, and releases it
in the transaction that records the scan. Every taking increments the account's
``lease_generation``: the run's fencing token. A renewal, and the recording of the scan's results,
succeed only while the generation is still the run's own, so a run whose lease lapsed (its worker
was cut off from the database, or paused) and went to another run writes nothing; and the run stops
itself as soon as a renewal says the lease is gone, or when it could not renew before the lease
would lapse (it cannot know then whether another run holds it). A lease that is not renewed lapses
quickly, so recovery can hand a dead worker's scan to another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.ids import utcnow

logger = logging.getLogger("vigilare.scans")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Lease:
    """A run's hold on its account, valid while the account's lease generation is ``generation``."""

    account_id: str
    scan_id: str
    generation: int

    def held_on(self, account: AwsAccount) -> bool:
        """True when ``account`` (read under its row lock) is still leased to this run."""
        return account.lease_generation == self.generation and account.lease_scan_id == self.scan_id


class LeaseLost(Exception):
    """The run's lease went to another run, or could not be renewed before it would lapse."""


async def acquire_lease(
    session: AsyncSession, account_id: str, scan_id: str, seconds: float, now: datetime | None = None
) -> Lease | None:
    """Take the account's scan lease for a new run of ``scan_id``; None while another run (of this
    scan or another) holds it. Never re-entrant: two runs of one scan are two takings."""
    now = now or utcnow()
    generation = await session.scalar(
        update(AwsAccount)
        .where(
            AwsAccount.id == account_id,
            or_(
                AwsAccount.lease_scan_id.is_(None),
                AwsAccount.lease_until.is_(None),
                AwsAccount.lease_until < now,
            ),
        )
        .values(
            lease_scan_id=scan_id,
            lease_until=now + timedelta(seconds=seconds),
            lease_generation=AwsAccount.lease_generation + 1,
        )
        .returning(AwsAccount.lease_generation)
        .execution_options(synchronize_session=False)
    )
    return None if generation is None else Lease(account_id, scan_id, int(generation))


async def renew_lease(session: AsyncSession, lease: Lease, seconds: float) -> bool:
    """Extend the run's lease; False when it is no longer the run's (another run took it)."""
    result = await session.execute(
        update(AwsAccount)
        .where(
            AwsAccount.id == lease.account_id,
            AwsAccount.lease_generation == lease.generation,
            AwsAccount.lease_scan_id == lease.scan_id,
        )
        .values(lease_until=utcnow() + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_lease(session: AsyncSession, lease: Lease) -> None:
    await session.execute(
        update(AwsAccount)
        .where(AwsAccount.id == lease.account_id, AwsAccount.lease_generation == lease.generation)
        .values(lease_scan_id=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def lease_holder(session: AsyncSession, account_id: str) -> tuple[str | None, float]:
    """The scan whose run holds the account's lease, and for how many more seconds."""
    row = (
        await session.execute(
            select(AwsAccount.lease_scan_id, AwsAccount.lease_until).where(AwsAccount.id == account_id)
        )
    ).one_or_none()
    if row is None or row.lease_scan_id is None or row.lease_until is None:
        return None, 0.0
    return row.lease_scan_id, max(0.0, (row.lease_until - utcnow()).total_seconds())


async def run_leased(
    work: Coroutine[Any, Any, T],
    renew: Callable[[], Awaitable[bool]],
    seconds: float,
    valid_until: float,
) -> T:
    """Run ``work`` while the lease holds, renewing it every third of its length.

    ``valid_until`` is the event loop time by which the lease surely lapses unless renewed
    (measured from before it was taken). ``work`` is cancelled and ``LeaseLost`` raised as soon as
    a renewal finds the lease taken, or when no renewal got through in time: the run stops a
    little before its lease could go to another run.
    """
    loop = asyncio.get_running_loop()
    interval = max(seconds / 3, 0.1)
    margin = min(seconds / 10, 2.0)
    task = asyncio.ensure_future(work)
    try:
        while True:
            deadline = valid_until - margin
            wait = min(interval, deadline - loop.time())
            if wait > 0:
                done, _ = await asyncio.wait({task}, timeout=wait)
                if done:
                    return task.result()
            if loop.time() >= deadline:
                raise LeaseLost("the lease could not be renewed before it would lapse")
            sent = loop.time()
            try:
                async with asyncio.timeout(max(deadline - sent, 0.01)):
                    renewed = await renew()
            except Exception as exc:  # the database is unreachable: try again until the deadline
                logger.warning("could not renew a scan lease (%s: %s)", type(exc).__name__, exc)
                continue
            if not renewed:
                raise LeaseLost("another run took the lease")
            valid_until = sent + seconds
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
