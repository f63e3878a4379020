"""Scoring an account from its open signals and keeping one history point per day."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.ids import new_id
from vigilare.scoring.checklist import ChecklistStep, build_checklist
from vigilare.scoring.formula import ScoreResult, compute_score
from vigilare.scoring.models import ScorePoint
from vigilare.signals.models import Signal
from vigilare.signals.service import open_signals


async def rescore(
    session: AsyncSession,
    account: AwsAccount,
    now: datetime,
    signals: Sequence[Signal] | None = None,
    *,
    today_point: int | None = None,
) -> ScoreResult:
    """Recompute the account's score, store it on the account and as today's history point.

    ``signals``: the account's open signals when the caller has them (a scan just applied them);
    read otherwise. Today's point is written in one statement (an upsert), not read first.
    ``today_point``: the score today's point already holds, when the caller knows it (see
    :func:`known_today_point`); an unchanged score then writes no point (most scans change nothing:
    at 100,000 accounts scanned every five minutes, that is 28 million row writes a day saved).
    """
    result = compute_score(list(signals) if signals is not None else await open_signals(session, account.id))
    account.current_srs = result.score
    if today_point is not None and today_point == result.score:
        return result
    if session.get_bind().dialect.name == "postgresql":
        await _upsert_point(session, account, now, result.score)
        return result
    day = now.date()
    point = await session.scalar(
        select(ScorePoint).where(ScorePoint.account_id == account.id, ScorePoint.day == day)
    )
    if point is None:
        session.add(
            ScorePoint(
                id=new_id(),
                tenant_id=account.tenant_id,
                account_id=account.id,
                day=day,
                srs=result.score,
                computed_at=now,
            )
        )
    else:
        point.srs, point.computed_at = result.score, now
    return result


def known_today_point(account: AwsAccount, last_rescored_at: datetime | None, now: datetime) -> int | None:
    """The score today's history point holds, if it is known without reading it: every rescore
    writes the account's score and today's point together, so after a rescore earlier today (e.g.
    the account's last completed scan, ``last_rescored_at``) today's point is the account's score."""
    if last_rescored_at is None or account.current_srs is None or last_rescored_at.date() != now.date():
        return None
    return account.current_srs


async def _upsert_point(session: AsyncSession, account: AwsAccount, now: datetime, score: int) -> None:
    statement = pg_insert(ScorePoint).values(
        id=new_id(),
        tenant_id=account.tenant_id,
        account_id=account.id,
        day=now.date(),
        srs=score,
        computed_at=now,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ScorePoint.account_id, ScorePoint.day],
            set_={"srs": statement.excluded.srs, "computed_at": statement.excluded.computed_at},
        ).execution_options(synchronize_session=False)
    )


async def score_history(session: AsyncSession, account_id: str, days: int, today: date) -> list[ScorePoint]:
    """The last ``days`` daily points, newest first."""
    since = today - timedelta(days=days - 1)
    return list(
        await session.scalars(
            select(ScorePoint)
            .where(ScorePoint.account_id == account_id, ScorePoint.day >= since)
            .order_by(ScorePoint.day.desc())
        )
    )


async def score_trends(
    session: AsyncSession, account_ids: Sequence[str], days: int, today: date
) -> dict[str, list[int]]:
    """The daily scores of the last ``days`` days of each account, oldest first, by account row id."""
    trends: dict[str, list[int]] = defaultdict(list)
    if not account_ids:
        return trends
    since = today - timedelta(days=days - 1)
    rows = await session.execute(
        select(ScorePoint.account_id, ScorePoint.srs)
        .where(ScorePoint.account_id.in_(account_ids), ScorePoint.day >= since)
        .order_by(ScorePoint.account_id, ScorePoint.day)
    )
    for account_id, srs in rows:
        trends[account_id].append(srs)
    return trends


async def current_score(session: AsyncSession, account_id: str, *, top_n: int) -> ScoreResult:
    """The account's score now, from its open signals, with what costs the most points."""
    return compute_score(await open_signals(session, account_id), top_n=top_n)


async def current_checklist(session: AsyncSession, account_id: str) -> list[ChecklistStep]:
    return build_checklist(await open_signals(session, account_id))
