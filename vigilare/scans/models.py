from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vigilare.db.base import Base, TenantScoped, id_column
from vigilare.ids import utcnow

QUEUED, RUNNING, SUCCEEDED, PARTIAL, FAILED = "queued", "running", "succeeded", "partial", "failed"
FINISHED = (SUCCEEDED, PARTIAL, FAILED)
# The predicate of ix_scans_unfinished_account, written as the scheduler's query writes it: "not
# finished" (the same rows as the recovery index's "queued or running", but a different expression,
# so that the planner never reads the recovery index in its place).
NOT_FINISHED = "status NOT IN ('succeeded', 'partial', 'failed')"


class Scan(Base, TenantScoped):
    __tablename__ = "scans"
    __table_args__ = (
        sa.Index("ix_scans_account_trigger_queued", "account_id", "trigger", "queued_at"),
        # One scheduled scan per slot of an account, whatever the schedulers do.
        sa.Index("uq_scans_account_slot", "account_id", "scheduled_for", unique=True),
        # Whether an account's previous scan is unfinished (the scheduler's "busy"), from the few
        # unfinished scans rather than every scan the account had.
        sa.Index(
            "ix_scans_unfinished_account",
            "account_id",
            postgresql_where=sa.text(NOT_FINISHED),
            sqlite_where=sa.text(NOT_FINISHED),
        ),
        # Recovery looks at unfinished scans only, longest untouched first.
        sa.Index(
            "ix_scans_unfinished_handed_at",
            "handed_at",
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[str] = id_column()
    # Not indexed alone (nor is status): the indexes above lead with it, and each index is written
    # for every scan the scheduler inserts and every change of a scan's status.
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("aws_accounts.id", ondelete="CASCADE"))
    # verify, scheduled, manual or event (asked for by a pushed AWS event)
    trigger: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default=QUEUED)
    queued_at: Mapped[datetime]
    # A scheduled scan: the slot of the account's schedule it is for (null for other triggers).
    scheduled_for: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    # The scan's job: handed to the queue this many times after the first (its job id says which),
    # last handed (or seen waiting in the queue, or taken) at ``handed_at``.
    handoffs: Mapped[int] = mapped_column(default=0, server_default="0")
    handed_at: Mapped[datetime] = mapped_column(default=utcnow)
    error: Mapped[str | None] = mapped_column(sa.Text)
    # Per scenario: {"iam": {"status": "ok", "duration_ms": 812, "findings": 3, "error": null}, ...}
    outcomes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    collection_errors: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    # Notable collected data (credential report, instances per region, ...) for the evidence export.
    evidence: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    findings_count: Mapped[int] = mapped_column(default=0)
