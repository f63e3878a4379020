"""The signals table, and how a finding fills a signal's columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vigilare.db.base import Base, TenantScoped, id_column
from vigilare.plugin.model import Finding

SCAN, EVENT = "scan", "event"


class Signal(Base, TenantScoped):
    """One occurrence of a finding: open until a complete scan of its scenario no longer sees it."""

    __tablename__ = "signals"
    __table_args__ = (
        # One open occurrence per fingerprint; a resolved one that comes back opens a new row.
        sa.Index(
            "uq_signals_open_fingerprint",
            "account_id",
            "fingerprint",
            unique=True,
            postgresql_where=sa.text("resolved_at IS NULL"),
            sqlite_where=sa.text("resolved_at IS NULL"),
        ),
        sa.Index("ix_signals_account_detected", "account_id", "detected_at", "id"),
    )

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("aws_accounts.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    scenario: Mapped[str] = mapped_column(sa.String(64), index=True)
    kind: Mapped[str] = mapped_column(sa.String(64))
    severity: Mapped[str] = mapped_column(sa.String(10))
    title: Mapped[str] = mapped_column(sa.String(500))
    description: Mapped[str] = mapped_column(sa.Text)
    region: Mapped[str] = mapped_column(sa.String(32))
    resource: Mapped[str] = mapped_column(sa.String(1024))
    remediation: Mapped[str] = mapped_column(sa.Text, default="")
    docs_url: Mapped[str] = mapped_column(sa.String(1024), default="")
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    detected_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    last_scan_id: Mapped[str | None] = mapped_column(sa.String(26))
    resolved_at: Mapped[datetime | None]
    # What first saw it: "scan", or "event" (pushed by the customer's EventBridge). Kept when a
    # later scan updates the signal; the event's own details stay in ``details`` until then.
    detected_by: Mapped[str] = mapped_column(sa.String(16), default=SCAN, server_default=SCAN)

    @property
    def signal_id(self) -> str:
        return self.id


# The columns a finding fills, each from the finding's field of the same name: a field added to both
# Finding and Signal is stored with no other change.
FINDING_COLUMNS: tuple[str, ...] = tuple(
    name for name in Finding.__struct_fields__ if name in Signal.__table__.columns
)


def finding_values(finding: Finding) -> dict[str, Any]:
    """The signal's column values from ``finding``, text cut to its column's length."""
    values: dict[str, Any] = {}
    for name in FINDING_COLUMNS:
        value = getattr(finding, name)
        length = getattr(Signal.__table__.columns[name].type, "length", None)
        if isinstance(value, str) and length is not None:
            value = str(value)[:length]  # a Severity becomes its plain value
        values[name] = msgspec.to_builtins(value)
    return values
