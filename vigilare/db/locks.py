"""Serialising read-then-write decisions on one row, on PostgreSQL and on SQLite alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession


async def lock_row(session: AsyncSession, entity: Any, row_id: str) -> None:
    """Hold ``entity`` row ``row_id`` until the session's transaction ends.

    Another transaction that locks the same row waits here until this one commits or rolls back,
    and then reads what it wrote. So a count followed by an insert (a limit) made after this call
    cannot be interleaved with another's.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite has no row locks and begins a transaction only
    at its first write: a write that changes nothing takes the database's write lock now.
    """
    if session.get_bind().dialect.name == "sqlite":
        table = entity.__table__
        # Every column to itself, those with an ``onupdate`` too (``updated_at`` must not move).
        unchanged = {column.name: column for column in table.columns if column.onupdate is not None}
        await session.execute(update(table).where(table.c.id == row_id).values(id=table.c.id, **unchanged))
    else:
        await session.execute(select(entity.id).where(entity.id == row_id).with_for_update())
