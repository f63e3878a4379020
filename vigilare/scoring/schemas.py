from __future__ import annotations

import msgspec


class HistoryPointOut(msgspec.Struct):
    date: str
    srs: int


class HistoryOut(msgspec.Struct):
    history: list[HistoryPointOut]


class ScenarioLossOut(msgspec.Struct):
    scenario: str
    points_lost: int
    signals: int


class CostlySignalOut(msgspec.Struct):
    signal_id: str
    scenario: str
    kind: str
    severity: str
    title: str
    resource: str | None
    points: float


class CapOut(msgspec.Struct):
    ceiling: int
    reasons: list[str]


class ScoreOut(msgspec.Struct):
    aws_account_id: str
    srs: int
    uncapped_srs: int
    cap: CapOut | None
    breakdown: list[ScenarioLossOut]
    top_signals: list[CostlySignalOut]


class ChecklistStepOut(msgspec.Struct):
    step: int
    title: str
    description: str
    docs_url: str


class ChecklistOut(msgspec.Struct):
    checklist: list[ChecklistStepOut]
