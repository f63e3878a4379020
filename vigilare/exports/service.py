"""Reading an account's signals in batches, for exports of any size."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import and_, or_, select

from vigilare.db.engine import SessionOpener
from vigilare.db.tenancy import tenant_scope
from vigilare.scans.models import Signal

BATCH = 1000


async def iter_signals(
    session_factory: SessionOpener, tenant_id: str, account_id: str, batch: int = BATCH
) -> AsyncIterator[Signal]:
    """Every signal of the account, oldest first, one short tenant-scoped session per batch.

    A streamed response outlives its request's session, and a batch at a time keeps memory flat.
    """
    after: tuple[object, str] | None = None
    while True:
        async with session_factory() as session:
            tenant_scope(session, tenant_id)
            query = select(Signal).where(Signal.account_id == account_id)
            if after is not None:
                detected, last_id = after
                query = query.where(
                    or_(
                        Signal.detected_at > detected,
                        and_(Signal.detected_at == detected, Signal.id > last_id),
                    )
                )
            rows = list(await session.scalars(query.order_by(Signal.detected_at, Signal.id).limit(batch)))
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = (rows[-1].detected_at, rows[-1].id)
