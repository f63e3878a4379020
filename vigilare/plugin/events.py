"""Events pushed by AWS (EventBridge) and the handlers that turn them into findings.

Re-exported by :mod:`vigilare.plugin`. A handler is the push-side twin of a scenario: where a scan
collects data and runs the scenario's ``detect`` over it, a handler reads one event and reports the
findings that event proves, with the fingerprints the scan gives the same state (so the next scan
updates those signals instead of duplicating them). An event is partial information: it opens,
updates or resolves only the findings it names, never the scenario's other signals.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Protocol

import msgspec

from vigilare.plugin.model import Finding


class AwsEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One EventBridge event as delivered to Vigilare (the envelope's fields, in Python names).

    ``detail_type`` is the envelope's ``detail-type``; ``time`` is when the event happened (AWS's
    clock), ``received_at`` when Vigilare stored it. ``id`` is EventBridge's event id: opaque (not
    always a UUID), unique per delivery attempt sequence, repeated on redelivery.
    """

    id: str
    source: str
    detail_type: str
    account: str
    time: datetime
    region: str
    detail: dict[str, Any]
    resources: tuple[str, ...] = ()
    received_at: datetime | None = None


class EventResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a handler concluded from one event.

    - ``findings``: states the event proves to exist now; each opens or updates its signal.
    - ``resolved``: states the event proves are over (a Health case ``closed``, a GuardDuty finding
      archived); the open signal with each one's fingerprint is resolved.
    - ``rescan``: the event says the account changed in a way the scan judges (a new IAM user, a
      trail updated): Vigilare scans the account now rather than at its next scheduled scan.
    - ``note``: a short line kept with the stored event (what the handler made of it).
    """

    findings: tuple[Finding, ...] = ()
    resolved: tuple[Finding, ...] = ()
    rescan: bool = False
    note: str = ""


class EventContext(Protocol):
    """What a handler may use while it handles one event."""

    @property
    def account_id(self) -> str:
        """The 12-digit AWS account the event belongs to (the connected account)."""

    @property
    def now(self) -> datetime:
        """When the event is being handled: "now" for the handler's scenario (ages, windows)."""

    async def detect(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        regional: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[Finding]:
        """Run the handler's scenario over data shaped as its collectors give it (global ``values``
        by data key, ``regional`` as ``{key: {region: value}}``), built from the event alone.

        The scenario's own ``detect`` writes the findings, so titles and fingerprints are exactly
        what a scan of the same state gives. Its checks apply (declared kinds and severities).
        """


class EventHandler(abc.ABC):
    """Handles the events of some ``sources`` (and ``detail_types``) for one scenario.

    Subclasses set the class attributes and implement :meth:`handle`. Findings must be the
    ``scenario``'s own, of kinds its ``emits`` declares. ``resolve_rule`` says in plain words how a
    signal opened by an event is resolved (``vigilare plugins`` and the docs show it). ``handle`` must
    not call AWS or block the event loop; it runs within ``time_budget_seconds``.
    """

    id: ClassVar[str]
    scenario: ClassVar[str]
    sources: ClassVar[tuple[str, ...]]
    detail_types: ClassVar[tuple[str, ...]] = ()
    """The ``detail-type`` values handled; empty: every event of the ``sources``."""
    resolve_rule: ClassVar[str] = ""
    time_budget_seconds: ClassVar[float] = 10.0

    def matches(self, event: AwsEvent) -> bool:
        """Whether this handler wants ``event`` (by source and detail type, unless overridden)."""
        return event.source in self.sources and (
            not self.detail_types or event.detail_type in self.detail_types
        )

    @abc.abstractmethod
    async def handle(self, event: AwsEvent, ctx: EventContext) -> EventResult:
        """What ``event`` proves: findings now present, findings now gone, a rescan wanted."""


def event_handler_error(handler: type[EventHandler]) -> str | None:
    """What is wrong with the class attributes of ``handler`` (checked at plugin load), or None."""
    for name in ("id", "scenario"):
        value = getattr(handler, name, None)
        if not isinstance(value, str) or not value:
            return f"has no string `{name}`"
    for name in ("sources", "detail_types"):
        value = getattr(handler, name, None)
        if not isinstance(value, tuple) or not all(isinstance(item, str) and item for item in value):
            return f"`{name}` must be a tuple of non-empty str"
    if not handler.sources:
        return "`sources` must name at least one event source"
    if not isinstance(handler.resolve_rule, str):
        return "`resolve_rule` must be a str"
    if handler.time_budget_seconds <= 0:
        return "needs a positive time budget"
    return None
