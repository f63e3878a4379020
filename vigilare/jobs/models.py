"""The durable outbox: one row per job that must run, written in the transaction that asked for it.

A row lives until its job has run to an end (returned, failed, or given up its last try); the
relay hands rows the queue does not hold (lost with a Redis restart, or never handed because the
queue was down at commit time) to the queue again, under the same job id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vigilare.db.base import Base


class OutboxJob(Base):
    """A job to run: across tenants (the relay hands every tenant's jobs), so not tenant-scoped."""

    __tablename__ = "job_outbox"

    # The queue's job id (deterministic): a second hand-off of the same row is one job in the queue.
    job_id: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    args: Mapped[list[Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime]
    # Not to run before (a deferred job).
    available_at: Mapped[datetime]
    # When the relay next looks at the row: hands it over, or confirms that the queue holds it.
    check_at: Mapped[datetime] = mapped_column(index=True)
    # The last time the relay saw the job in the queue, or handed it there (None: not seen yet).
    handed_at: Mapped[datetime | None]
    # Hand-offs by the relay (the commit's own hand-off is not counted).
    handoffs: Mapped[int] = mapped_column(default=0)
