"""The Security Risk Score, the recovery checklist and the support reply.

``formula``, ``checklist`` and ``support_reply`` are pure logic over objects that satisfy the
protocols in ``vigilare.scoring.signals`` (no database, API or AWS); ``models`` and ``service``
keep the score on the account and its daily history.
"""

from vigilare.scoring.checklist import ChecklistStep, build_checklist, checklist_markdown
from vigilare.scoring.checklist_catalog import StepTemplate
from vigilare.scoring.formula import (
    CapTrigger,
    ScenarioLoss,
    ScoreResult,
    SignalCost,
    SuspensionCap,
    compute_score,
)
from vigilare.scoring.signals import LocatedSignal, ScorableSignal
from vigilare.scoring.support_reply import draft_support_reply

__all__ = [
    "CapTrigger",
    "ChecklistStep",
    "LocatedSignal",
    "ScenarioLoss",
    "ScorableSignal",
    "ScoreResult",
    "SignalCost",
    "StepTemplate",
    "SuspensionCap",
    "build_checklist",
    "checklist_markdown",
    "compute_score",
    "draft_support_reply",
]
