from __future__ import annotations

from typing import Annotated, cast

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.service import get_account
from vigilare.auth.guards import requires_role
from vigilare.auth.roles import VIEWER
from vigilare.errors import BadRequest
from vigilare.ids import utcnow
from vigilare.scoring.schemas import (
    CapOut,
    ChecklistOut,
    ChecklistStepOut,
    CostlySignalOut,
    HistoryOut,
    HistoryPointOut,
    ScenarioLossOut,
    ScoreOut,
)
from vigilare.scoring.service import current_checklist, current_score, score_history
from vigilare.signals.models import Signal

MAX_HISTORY_DAYS = 365


class ScoreController(Controller):
    """An account's score, its history and the recovery checklist.

    Mounted under ``/accounts/{account_id}`` by the route table (``api/routes.py``).
    """

    path = "/"
    tags = ["Accounts"]

    @get("/score-history", summary="Get risk score history", guards=[requires_role(VIEWER)])
    async def history(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        days: Annotated[int, QueryParameter(ge=1, le=MAX_HISTORY_DAYS)] = 30,
    ) -> HistoryOut:
        if not 1 <= days <= MAX_HISTORY_DAYS:
            raise BadRequest(f"days: must be between 1 and {MAX_HISTORY_DAYS}")
        account = await get_account(db_session, account_id)
        points = await score_history(db_session, account.id, days, utcnow().date())
        return HistoryOut(history=[HistoryPointOut(date=p.day.isoformat(), srs=p.srs) for p in points])

    @get("/score", summary="Current score with its breakdown", guards=[requires_role(VIEWER)])
    async def score(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> ScoreOut:
        account = await get_account(db_session, account_id)
        result = await current_score(db_session, account.id, top_n=10)
        cap = None
        if result.cap is not None:
            cap = CapOut(ceiling=result.cap.ceiling, reasons=[t.reason for t in result.cap.triggers])
        return ScoreOut(
            aws_account_id=account.aws_account_id,
            srs=result.score,
            uncapped_srs=result.uncapped_score,
            cap=cap,
            breakdown=[
                ScenarioLossOut(scenario=b.scenario, points_lost=b.points, signals=b.signal_count)
                for b in result.breakdown
            ],
            top_signals=[
                CostlySignalOut(
                    signal_id=cast(Signal, c.signal).id,
                    scenario=c.scenario,
                    kind=c.kind,
                    severity=str(c.severity),
                    title=c.title,
                    resource=c.resource,
                    points=round(c.points, 2),
                )
                for c in result.top_signals
            ],
        )

    @get("/recovery-checklist", summary="Get suspension recovery checklist", guards=[requires_role(VIEWER)])
    async def checklist(
        self,
        account_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> ChecklistOut:
        account = await get_account(db_session, account_id)
        steps = await current_checklist(db_session, account.id)
        return ChecklistOut(
            checklist=[
                ChecklistStepOut(step=s.step, title=s.title, description=s.description, docs_url=s.docs_url)
                for s in steps
            ]
        )
