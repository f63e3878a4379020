"""Pure logic over open signals: the Security Risk Score, the recovery checklist, the support reply.

No database, API or AWS here: callers pass in objects that satisfy the protocols in
``vigilare.scoring.signals``.
"""

from vigilare.scoring.formula import (
    CapTrigger,
    ScenarioLoss,
    ScoreResult,
    SignalCost,
    SuspensionCap,
    compute_score,
)
from vigilare.scoring.signals import LocatedSignal, ScorableSignal, Severity, parse_severity

__all__ = [
    "CapTrigger",
    "LocatedSignal",
    "ScenarioLoss",
    "ScorableSignal",
    "ScoreResult",
    "Severity",
    "SignalCost",
    "SuspensionCap",
    "compute_score",
    "parse_severity",
]
