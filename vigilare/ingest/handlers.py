"""Running the registered event handlers over one event.

Every handler whose ``matches`` accepts the event handles it, each within its time budget; one that
raises or times out is noted on the event and never stops the others. Findings are checked against
the handler's scenario like scan findings (its own id, declared kinds and severities) and collapse
to one per fingerprint, the most severe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vigilare.plugin.data import CollectedData
from vigilare.plugin.events import AwsEvent, EventHandler, EventResult
from vigilare.plugin.model import Finding, Scenario
from vigilare.scenarios.manager import ScenarioRegistry
from vigilare.scenarios.runner import most_severe_per_fingerprint, refusal_reason, run_detectors

logger = logging.getLogger("vigilare.ingest")

TEST_SOURCE = "vigilare.test"
HEARTBEAT = ("aws.events", "Scheduled Event")


def is_connectivity_check(event: AwsEvent) -> bool:
    """A test event (the command push set-up gives) or the hourly heartbeat: proof that delivery
    works, about nothing else."""
    return event.source == TEST_SOURCE or (event.source, event.detail_type) == HEARTBEAT


class HandlerError(Exception):
    """The handler's scenario refused to run over the data the handler built."""


class HandlerContext:
    """The :class:`~vigilare.plugin.EventContext` of one handler for one event."""

    def __init__(self, account_id: str, now: datetime, scenario: type[Scenario]) -> None:
        self._account_id = account_id
        self._now = now
        self._scenario = scenario

    @property
    def account_id(self) -> str:
        return self._account_id

    @property
    def now(self) -> datetime:
        return self._now

    async def detect(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        regional: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Finding]:
        given = set(values or {}) | set(regional or {})
        unknown = sorted(given - set(self._scenario.requires))
        if unknown:
            raise HandlerError(f"scenario {self._scenario.id!r} does not read {unknown}")
        data = CollectedData(
            account_id=self._account_id, collected_at=self._now, values=values, regional=regional
        )
        result = await run_detectors(data, [self._scenario])
        outcome = result.outcomes[self._scenario.id]
        if outcome.status != "ok":
            raise HandlerError(f"scenario {self._scenario.id!r} {outcome.status}: {outcome.error}")
        return result.findings


@dataclass
class HandledEvent:
    """What every matching handler concluded, merged."""

    findings: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    rescan: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def changes_signals(self) -> bool:
        return bool(self.findings or self.resolved)


async def handle_event(
    event: AwsEvent, registry: ScenarioRegistry, account_id: str, now: datetime
) -> HandledEvent:
    handled = HandledEvent()
    present: list[Finding] = []
    for handler_class in registry.event_handlers.values():
        handler = handler_class()
        if not handler.matches(event):
            continue
        scenario = registry.scenarios[handler.scenario]
        result = await _run(handler, scenario, event, account_id, now, handled.notes)
        if result is None:
            continue
        present += _declared(handler, scenario, result.findings, handled.notes)
        handled.resolved += _declared(handler, scenario, result.resolved, handled.notes)
        handled.rescan = handled.rescan or result.rescan
        if result.note:
            handled.notes.append(f"{handler.id}: {result.note}")
    handled.findings = most_severe_per_fingerprint(present, account_id)
    if not handled.notes:
        handled.notes.append(f"no handler for {event.source} / {event.detail_type}")
    return handled


async def _run(
    handler: EventHandler,
    scenario: type[Scenario],
    event: AwsEvent,
    account_id: str,
    now: datetime,
    notes: list[str],
) -> EventResult | None:
    try:
        result = await asyncio.wait_for(
            handler.handle(event, HandlerContext(account_id, now, scenario)), handler.time_budget_seconds
        )
    except TimeoutError:
        notes.append(f"{handler.id}: exceeded its time budget of {handler.time_budget_seconds:g} s")
        return None
    except Exception as exc:
        logger.exception("event handler %s failed on event %s", handler.id, event.id)
        notes.append(f"{handler.id} failed: {type(exc).__name__}: {exc}")
        return None
    if not isinstance(result, EventResult):
        notes.append(f"{handler.id} returned {type(result).__name__}, not an EventResult")
        return None
    return result


def _declared(
    handler: EventHandler, scenario: type[Scenario], findings: tuple[Finding, ...], notes: list[str]
) -> list[Finding]:
    kept = []
    for finding in findings:
        reason = refusal_reason(scenario, finding) if isinstance(finding, Finding) else "not a Finding"
        if reason is None:
            kept.append(finding)
        else:
            notes.append(f"{handler.id} refused: {reason}")
    return kept
