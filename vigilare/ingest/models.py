"""The ingest tables: per-account secrets and the events received."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vigilare.db.base import Base, TenantScoped, id_column


class IngestKey(Base, TenantScoped):
    """One ingest secret of an account. The secret itself is never stored: only its HMAC.

    The secret the customer holds is ``<id>.<random part>``; the id finds the row, the HMAC of the
    random part is compared in constant time. ``expires_at`` is None for the current secret; a
    rotation gives the replaced one 24 hours.
    """

    __tablename__ = "ingest_keys"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("aws_accounts.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(sa.String(26))
    expires_at: Mapped[datetime | None]


class IngestEvent(Base, TenantScoped):
    """An event received from the customer's EventBridge, stored once by its EventBridge id."""

    __tablename__ = "ingest_events"
    __table_args__ = (
        # EventBridge delivers at least once: a redelivery finds this row and is not processed again.
        sa.UniqueConstraint("account_id", "event_id", name="uq_ingest_events_account_event"),
        sa.Index("ix_ingest_events_account_received", "account_id", "received_at"),
        # Recovery looks for events whose job was lost: few rows, found without a scan.
        sa.Index(
            "ix_ingest_events_unprocessed",
            "enqueued_at",
            postgresql_where=sa.text("processed_at IS NULL"),
            sqlite_where=sa.text("processed_at IS NULL"),
        ),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("aws_accounts.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(sa.String(256))
    source: Mapped[str] = mapped_column(sa.String(256))
    detail_type: Mapped[str] = mapped_column(sa.String(256))
    event_time: Mapped[datetime]
    region: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[datetime]
    # When its processing job was last handed to the queue, and how often it had to be queued again.
    enqueued_at: Mapped[datetime]
    recoveries: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None]
    # What processing made of it: the handlers' notes, "connectivity check", or why it was ignored.
    outcome: Mapped[str | None] = mapped_column(sa.String(1000))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
