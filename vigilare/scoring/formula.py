"""The Security Risk Score (SRS): 0-100, higher is safer, computed from an account's open signals.

The formula, in four steps (docs/scoring.md has the same in prose and math, with a worked example):

1. **Base points by severity**: CRITICAL 50, HIGH 15, MEDIUM 5, LOW 1. Scenario and kind do not
   matter here, so third-party scenarios are scored like built-in ones.
2. **Diminishing repeats**: signals of one ``(scenario, kind)`` form a group, ordered worst first;
   the n-th signal of a group costs its base points times ``0.5 ** (n - 1)``. Fifty old access keys
   are one problem seen fifty times, not fifty problems.
3. **Bounded minor findings**: groups whose worst signal is HIGH or CRITICAL count in full. Groups
   made only of LOW signals count together at most 10 points; those plus the groups whose worst signal
   is MEDIUM count together at most 30 points. So any number of minor findings weighs less than one
   CRITICAL (50 points).
4. **Score**: ``round(100 * exp(-P / 100))`` where P is the sum of the points: every penalty point
   removes about 1 % of what is left, so the score falls fast at first and never below 0.
   When a signal that precedes an imminent suspension is open (an AWS Health risk or abuse event,
   the compromised-key quarantine policy, SES sending shut down, an invoice past due), the score is
   capped at 10 whatever else is true.

Every step is monotone, so opening a signal never raises the score, and all sums run over a canonical
order (and ``math.fsum``), so the input order never changes the result.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from vigilare.plugin.model import Severity
from vigilare.scoring.signals import ScorableSignal

MAX_SCORE = 100
SEVERITY_POINTS: Mapping[Severity, float] = {
    Severity.CRITICAL: 50.0,
    Severity.HIGH: 15.0,
    Severity.MEDIUM: 5.0,
    Severity.LOW: 1.0,
}
REPEAT_DECAY = 0.5
LOW_ONLY_BUDGET = 10.0
MINOR_BUDGET = 30.0
# P points multiply the score by exp(-P / SCALE): with 100, one point costs about 1 % of what is left.
SCALE = 100.0
SUSPENSION_CEILING = 10

# Signals after which AWS suspends or pauses unless the customer acts, with the reason shown to users.
SUSPENSION_CAPS: Mapping[tuple[str, str], str] = {
    ("abuse", "health_risk_event"): "AWS Health risk event open: AWS may suspend the account at its deadline",
    ("abuse", "health_abuse_event"): "AWS abuse report open: AWS may suspend the account at its deadline",
    ("iam", "quarantine_policy"): "AWS quarantined a compromised access key: a compromise case is open",
    ("email", "ses_shutdown"): "AWS shut down SES sending for this account",
    ("billing", "past_due"): "An invoice is past due: AWS suspends accounts with unpaid invoices",
}


@dataclass(frozen=True, slots=True)
class SignalCost:
    """What one signal costs. ``penalty`` is in formula points (step 3); ``points`` in score points.

    The ``points`` of all signals add up to ``100 - score``, including what a suspension cap took.
    """

    signal: ScorableSignal
    scenario: str
    kind: str
    severity: Severity
    title: str
    resource: str | None
    penalty: float
    points: float


@dataclass(frozen=True, slots=True)
class ScenarioLoss:
    """Score points lost to one scenario; the ``points`` of all scenarios add up to ``100 - score``."""

    scenario: str
    points: int
    signal_count: int


@dataclass(frozen=True, slots=True)
class CapTrigger:
    scenario: str
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class SuspensionCap:
    """Present whenever a suspension precursor is open, even if the formula already scored lower."""

    ceiling: int
    triggers: tuple[CapTrigger, ...]
    points: int  # score points the cap removed beyond the formula (0 when it was already below)


@dataclass(frozen=True, slots=True)
class ScoreResult:
    score: int
    uncapped_score: int
    penalty: float
    breakdown: tuple[ScenarioLoss, ...]  # most points lost first
    top_signals: tuple[SignalCost, ...]  # most points first
    cap: SuspensionCap | None


@dataclass(frozen=True, slots=True)
class _Entry:
    signal: ScorableSignal
    severity: Severity
    sort_key: tuple[str, str, int, str, str]


def compute_score(signals: Iterable[ScorableSignal], *, top_n: int = 5) -> ScoreResult:
    """Score an account's open signals. Raises ``ValueError`` for a severity outside the four known."""
    entries = sorted((_entry(s) for s in signals), key=lambda e: e.sort_key)
    if not entries:
        return ScoreResult(MAX_SCORE, MAX_SCORE, 0.0, (), (), None)

    penalties = _penalties(entries)
    total_penalty = math.fsum(penalties)
    uncapped = MAX_SCORE * math.exp(-total_penalty / SCALE)
    uncapped_score = _round_half_up(uncapped)
    capping = [i for i, e in enumerate(entries) if _cap_key(e.signal) in SUSPENSION_CAPS]
    score = min(uncapped_score, SUSPENSION_CEILING) if capping else uncapped_score

    points = _attribute_points(penalties, uncapped, capping, lost=MAX_SCORE - score)
    costs = [
        SignalCost(
            signal=e.signal,
            scenario=e.signal.scenario,
            kind=e.signal.kind,
            severity=e.severity,
            title=e.signal.title,
            resource=e.signal.resource,
            penalty=penalty,
            points=point,
        )
        for e, penalty, point in zip(entries, penalties, points, strict=True)
    ]
    ranked = sorted(range(len(costs)), key=lambda i: (-costs[i].points, entries[i].sort_key))
    return ScoreResult(
        score=score,
        uncapped_score=uncapped_score,
        penalty=total_penalty,
        breakdown=_breakdown(costs, lost=MAX_SCORE - score),
        top_signals=tuple(costs[i] for i in ranked[: max(top_n, 0)]),
        cap=_cap(entries, capping, uncapped_score - score),
    )


def _entry(signal: ScorableSignal) -> _Entry:
    severity = Severity.parse(signal.severity)
    # Within a (scenario, kind) group, the most severe first.
    key = (signal.scenario, signal.kind, -severity.rank, signal.resource or "", signal.title)
    return _Entry(signal, severity, key)


def _cap_key(signal: ScorableSignal) -> tuple[str, str]:
    return (signal.scenario, signal.kind)


def _penalties(entries: Sequence[_Entry]) -> list[float]:
    """Steps 1-3: points per entry, in the order of ``entries`` (sorted by group, worst first)."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, entry in enumerate(entries):
        groups[_cap_key(entry.signal)].append(index)

    raw = [0.0] * len(entries)
    low_only: list[int] = []
    medium_worst: list[int] = []
    for members in groups.values():
        for position, index in enumerate(members):
            raw[index] = SEVERITY_POINTS[entries[index].severity] * REPEAT_DECAY**position
        worst = entries[members[0]].severity
        if worst is Severity.LOW:
            low_only.extend(members)
        elif worst is Severity.MEDIUM:
            medium_worst.extend(members)

    # Scaling every member of a pool by one factor keeps each group's internal order and ratios.
    low_raw = math.fsum(raw[i] for i in low_only)
    low_scale = _budget_scale(low_raw, LOW_ONLY_BUDGET)
    minor_raw = math.fsum(raw[i] for i in medium_worst) + low_raw * low_scale
    minor_scale = _budget_scale(minor_raw, MINOR_BUDGET)
    penalties = list(raw)
    for i in low_only:
        penalties[i] = raw[i] * low_scale * minor_scale
    for i in medium_worst:
        penalties[i] = raw[i] * minor_scale
    return penalties


def _budget_scale(total: float, budget: float) -> float:
    return budget / total if total > budget else 1.0


def _attribute_points(
    penalties: Sequence[float], uncapped: float, capping: Sequence[int], *, lost: int
) -> list[float]:
    """Share the score points lost among signals, in proportion to their penalty.

    What a suspension cap removes beyond the formula goes to the signals that triggered it.
    """
    total_penalty = math.fsum(penalties)
    shares = [(MAX_SCORE - uncapped) * p / total_penalty for p in penalties]
    cap_extra = uncapped - SUSPENSION_CEILING
    if capping and cap_extra > 0:
        capping_penalty = math.fsum(penalties[i] for i in capping)
        for i in capping:
            shares[i] += cap_extra * penalties[i] / capping_penalty
    share_total = math.fsum(shares)
    return [s * lost / share_total for s in shares]


def _breakdown(costs: Sequence[SignalCost], *, lost: int) -> tuple[ScenarioLoss, ...]:
    """Whole points per scenario that add up exactly to ``lost`` (largest-remainder rounding)."""
    exact: dict[str, list[float]] = defaultdict(list)
    for cost in costs:
        exact[cost.scenario].append(cost.points)
    totals = {scenario: math.fsum(points) for scenario, points in exact.items()}
    whole = {scenario: math.floor(total) for scenario, total in totals.items()}
    by_remainder = sorted(totals, key=lambda s: (-(totals[s] - whole[s]), s))
    for scenario in by_remainder[: max(lost - sum(whole.values()), 0)]:
        whole[scenario] += 1
    losses = [ScenarioLoss(s, whole[s], len(exact[s])) for s in totals]
    return tuple(sorted(losses, key=lambda loss: (-loss.points, loss.scenario)))


def _cap(entries: Sequence[_Entry], capping: Sequence[int], points: int) -> SuspensionCap | None:
    if not capping:
        return None
    keys = sorted({_cap_key(entries[i].signal) for i in capping})
    triggers = tuple(CapTrigger(scenario, kind, SUSPENSION_CAPS[(scenario, kind)]) for scenario, kind in keys)
    return SuspensionCap(SUSPENSION_CEILING, triggers, max(points, 0))


def _round_half_up(value: float) -> int:
    return max(0, min(MAX_SCORE, math.floor(value + 0.5)))
