"""Stripe webhook events, stored once by their Stripe id before they are processed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vigilare.db.base import Base


class StripeEvent(Base):
    """One delivered Stripe event. Not tenant-scoped: it arrives before we know whose it is."""

    __tablename__ = "stripe_events"

    # Stripe's own event id (evt_...): a redelivered event finds its row and is not processed again.
    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(100))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    tenant_id: Mapped[str | None] = mapped_column(
        sa.String(26), sa.ForeignKey("tenants.id", ondelete="SET NULL"), index=True
    )
    # What processing did: "applied", or why the event changed nothing ("stale", "unknown customer"...).
    outcome: Mapped[str | None] = mapped_column(sa.String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
