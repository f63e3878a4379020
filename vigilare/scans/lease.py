"""The per-account scan lease: one scan of an account at a time, taken over when its worker dies.

The scan job renews the lease while it runs; a lease that is not renewed lapses quickly, so the
scheduler can hand a dead worker's scan to another worker.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.ids import utcnow


async def acquire_lease(session: AsyncSession, account_id: str, scan_id: str, seconds: int) -> bool:
    """Take (or renew) the account's scan lease for this scan; False if another scan holds it."""
    now = utcnow()
    result = await session.execute(
        update(AwsAccount)
        .where(
            AwsAccount.id == account_id,
            or_(
                AwsAccount.lease_scan_id.is_(None),
                AwsAccount.lease_scan_id == scan_id,
                AwsAccount.lease_until < now,
            ),
        )
        .values(lease_scan_id=scan_id, lease_until=now + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_lease(session: AsyncSession, account_id: str, scan_id: str) -> None:
    await session.execute(
        update(AwsAccount)
        .where(AwsAccount.id == account_id, AwsAccount.lease_scan_id == scan_id)
        .values(lease_scan_id=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


async def lease_remaining(session: AsyncSession, account_id: str) -> float:
    until: datetime | None = await session.scalar(
        select(AwsAccount.lease_until).where(AwsAccount.id == account_id)
    )
    return max(0.0, (until - utcnow()).total_seconds()) if until else 0.0
