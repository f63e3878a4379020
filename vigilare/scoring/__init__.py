"""Pure logic over open signals: the Security Risk Score, the recovery checklist, the support reply.

No database, API or AWS here: callers pass in objects that satisfy the protocols in
``vigilare.scoring.signals``.
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
from vigilare.scoring.signals import LocatedSignal, ScorableSignal, Severity, parse_severity
from vigilare.scoring.support_reply import draft_support_reply

__all__ = [
    "CapTrigger",
    "ChecklistStep",
    "LocatedSignal",
    "ScenarioLoss",
    "ScorableSignal",
    "ScoreResult",
    "Severity",
    "SignalCost",
    "StepTemplate",
    "SuspensionCap",
    "build_checklist",
    "checklist_markdown",
    "compute_score",
    "draft_support_reply",
    "parse_severity",
]
