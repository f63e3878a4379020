"""Periodic jobs run once per period across every process and machine.

Each executor (the arq worker's cron, the API's in-process loop) fires a periodic job at the
period's boundaries, in every process. Before running, a process claims the period's slot in the
database (``periodic_runs``, one row per job and slot): the first claim wins and the others skip,
so ``vigilare worker --processes 4`` on three machines, or several API processes without Redis,
still run the scheduler's tick once per tick period. Rows older than a day are pruned.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from vigilare.db.base import Base
from vigilare.db.engine import SessionFactory
from vigilare.db.tenancy import cross_tenant

KEEP = timedelta(days=1)
RUNNER = f"{socket.gethostname()}:{os.getpid()}"


class PeriodicRun(Base):
    __tablename__ = "periodic_runs"

    job: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    # The period's number since the epoch: round(time / period).
    slot: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    started_at: Mapped[datetime]
    # host:pid of the process that ran it.
    runner: Mapped[str] = mapped_column(sa.String(300))


def slot_of(now: datetime, period_seconds: float) -> int:
    """The period ``now`` belongs to; rounding (not flooring) keeps a process whose clock is a
    little behind, or whose timer fired a little early, on the same slot as the others."""
    return round(now.timestamp() / period_seconds)


async def claim_slot(session_factory: SessionFactory, job: str, period_seconds: float, now: datetime) -> bool:
    """True when this process is the one to run ``job`` for the period of ``now``."""
    slot = slot_of(now, period_seconds)
    async with session_factory() as session:
        cross_tenant(session)  # a row of no tenant's, written by every process
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        claimed = await session.execute(
            insert(PeriodicRun)
            .values(job=job, slot=slot, started_at=now, runner=RUNNER[:300])
            .on_conflict_do_nothing(index_elements=["job", "slot"])
            .returning(PeriodicRun.slot)
        )
        won = claimed.first() is not None
        if won:
            await session.execute(
                sa.delete(PeriodicRun).where(PeriodicRun.job == job, PeriodicRun.started_at < now - KEEP)
            )
        await session.commit()
    return won


def seconds_to_next_boundary(now: datetime, period_seconds: float) -> float:
    """How long until the next multiple of the period (every process fires at the same moments)."""
    elapsed = now.timestamp() % period_seconds
    return period_seconds - elapsed
