from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vigilare.db.base import Base, TenantScoped, id_column


class ScorePoint(Base, TenantScoped):
    """One point per account and UTC day: the day's last computed score."""

    __tablename__ = "score_points"
    __table_args__ = (sa.UniqueConstraint("account_id", "day"),)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("aws_accounts.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(sa.Date)
    srs: Mapped[int]
    computed_at: Mapped[datetime]
