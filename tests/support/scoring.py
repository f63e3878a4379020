"""Signals and hypothesis strategies shared by the scoring tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hypothesis import strategies as st

from vigilare.plugin import Scenario, Severity
from vigilare.scenarios.manager import BUILTIN_ORIGIN, load_registry
from vigilare.scoring.formula import SUSPENSION_CAPS

SEVERITIES = tuple(severity.value for severity in Severity)


def _builtin_scenarios() -> list[type[Scenario]]:
    registry = load_registry()
    return [
        registry.scenarios[scenario_id]
        for plugin in registry.plugins
        if plugin.origin == BUILTIN_ORIGIN
        for scenario_id in plugin.scenario_ids
    ]


BUILTIN_SCENARIOS = _builtin_scenarios()
# Every kind the built-in scenarios declare in `emits`, read from the registry (never a list kept here).
BUILT_IN_KINDS: tuple[tuple[str, str], ...] = tuple(
    (scenario.id, kind) for scenario in BUILTIN_SCENARIOS for kind in scenario.emits
)
# Kinds the score and the checklist already answer although no scenario emits them yet (none now:
# billing/past_due, the last, is declared by the billing scenario). Each must leave this set when a
# scenario declares it.
PLANNED_KINDS: frozenset[tuple[str, str]] = frozenset()
# Every (scenario, kind, severity) any registered scenario (built-in or installed plugin) may report.
DECLARED_SEVERITIES: tuple[tuple[str, str, str], ...] = tuple(
    (scenario.id, kind, severity.value)
    for scenario in load_registry().scenarios.values()
    for kind, severity in scenario.declared_kinds()
)
THIRD_PARTY_KINDS: tuple[tuple[str, str], ...] = (
    ("acme_lambda_audit", "function_url_public"),
    ("acme_lambda_audit", "old_runtime"),
    ("corp.tags", "untagged_instance"),
)
CAPPING_KINDS = tuple(sorted(SUSPENSION_CAPS))
NON_CAPPING_KINDS = tuple(k for k in BUILT_IN_KINDS + THIRD_PARTY_KINDS if k not in SUSPENSION_CAPS)


@dataclass(frozen=True)
class Signal:
    scenario: str
    kind: str
    severity: str
    title: str = "A signal"
    resource: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class SignalRow:
    """A stored signal as the CSV export reads it."""

    signal_id: str
    scenario: str
    kind: str
    severity: str
    title: str
    description: str | None
    region: str | None
    resource: str | None
    detected_at: datetime
    resolved_at: datetime | None
    remediation: str = ""
    docs_url: str = ""
    details: dict[str, object] | None = None
    last_seen_at: datetime | None = None
    detected_by: str = "scan"


def signal_strategy(
    kinds: tuple[tuple[str, str], ...] = NON_CAPPING_KINDS,
    severities: tuple[str, ...] = SEVERITIES,
) -> st.SearchStrategy[Signal]:
    # Few resources and titles, so repeats of one (scenario, kind) and exact duplicates are common.
    return st.builds(
        lambda pair, severity, resource, title: Signal(pair[0], pair[1], severity, title, resource),
        st.sampled_from(kinds),
        st.sampled_from(severities),
        st.one_of(st.none(), st.sampled_from(["bucket-a", "i-0abc", "arn:aws:iam::1:user/x", "=cmd"])),
        st.sampled_from(["A signal", "Another signal"]),
    )


signal_lists = st.lists(signal_strategy(), max_size=40)
capping_signals = signal_strategy(kinds=CAPPING_KINDS)
