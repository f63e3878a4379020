from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vigilare.db.base import Base, TenantScoped, Timestamps, id_column

PENDING, ACTIVE, DISCONNECTED = "PENDING", "ACTIVE", "DISCONNECTED"


class AwsAccount(Base, TenantScoped, Timestamps):
    __tablename__ = "aws_accounts"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "aws_account_id"),
        # The scheduler's due accounts: active ones only, by their next slot.
        sa.Index(
            "ix_aws_accounts_due",
            "next_scan_at",
            postgresql_where=sa.text(f"status = '{ACTIVE}'"),
            sqlite_where=sa.text(f"status = '{ACTIVE}'"),
        ),
    )

    id: Mapped[str] = id_column()
    # Not indexed alone: the unique (tenant_id, aws_account_id) index serves the tenant's rows, and
    # every index here is written again each time the scheduler moves ``next_scan_at``.
    tenant_id: Mapped[str] = mapped_column(
        sa.String(26), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    aws_account_id: Mapped[str] = mapped_column(sa.String(12))
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    external_id: Mapped[str] = mapped_column(sa.String(64))
    role_name: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20), default=PENDING)
    connected_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]
    current_srs: Mapped[int | None]
    last_scan_at: Mapped[datetime | None]
    last_successful_scan_at: Mapped[datetime | None]
    # What the customer's AWS plan lets us read, e.g. {"health_api": false} without Business support.
    capabilities: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # What the scan's collectors remember between scans (Cost Explorer cache, spend and region
    # baselines, GuardDuty poll times): vigilare.plugin.state; replaced after each completed scan.
    scan_state: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict, server_default="{}")
    # The latest collected data of every evidence key (vigilare.scanner.build_evidence), for the
    # panic package: replaced by a completed full scan, overlaid with what a partial one read (its
    # own row keeps only that). ~40 KB: deferred, loaded only where it is read.
    evidence: Mapped[dict[str, Any]] = mapped_column(
        sa.JSON, default=dict, server_default="{}", deferred=True
    )
    # Scheduling: when the next scheduled scan is due, and the lease that keeps scans of one account
    # from overlapping (held by a scan, renewed while it runs, expires if its worker dies). Each
    # taking of the lease increments its generation: the fencing token a run checks on every write.
    next_scan_at: Mapped[datetime | None]
    lease_scan_id: Mapped[str | None] = mapped_column(sa.String(26))
    lease_until: Mapped[datetime | None]
    lease_generation: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.aws_account_id}:role/{self.role_name}"
