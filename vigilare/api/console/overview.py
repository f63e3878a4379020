"""The accounts overview: one page of accounts, most at risk first, each with what a glance needs.

Four queries per page whatever the number of accounts: the page of accounts, their score trends,
their latest scans and their open signals counted by severity, each from its domain's service.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.models import AwsAccount
from vigilare.accounts.service import accounts_worst_first
from vigilare.errors import BadRequest
from vigilare.plugin.model import Severity
from vigilare.scans.models import Scan
from vigilare.scans.service import latest_scans
from vigilare.scoring.service import score_trends
from vigilare.signals.service import open_counts_by_severity

PER_PAGE = 50
TREND_DAYS = 30


@dataclass(frozen=True)
class AccountRow:
    account: AwsAccount
    trend: list[int]
    last_scan: Scan | None
    # (severity, open signals) for each severity with any, most severe first
    open_signals: list[tuple[Severity, int]]


@dataclass(frozen=True)
class Overview:
    rows: list[AccountRow]
    total: int
    page: int
    pages: int


async def accounts_overview(session: AsyncSession, *, page: int, today: date) -> Overview:
    if page < 1:
        raise BadRequest("page: must be 1 or more")
    accounts, total = await accounts_worst_first(session, offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    ids = [account.id for account in accounts]
    trends = await score_trends(session, ids, TREND_DAYS, today)
    scans = await latest_scans(session, ids)
    counts = await open_counts_by_severity(session, ids)
    rows = [
        AccountRow(
            account=account,
            trend=trends.get(account.id, []),
            last_scan=scans.get(account.id),
            open_signals=[
                (severity, counts[account.id][severity])
                for severity in Severity
                if counts.get(account.id, {}).get(severity)
            ],
        )
        for account in accounts
    ]
    return Overview(rows=rows, total=total, page=page, pages=max(1, math.ceil(total / PER_PAGE)))
