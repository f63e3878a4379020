"""The API's signal: ``GET /accounts/{id}/signals`` answers a page of these."""

from __future__ import annotations

import msgspec


# gc=False: a listing builds thousands of these a second; plain data, they are never in a reference
# cycle, so the garbage collector need not track them.
class SignalOut(msgspec.Struct, frozen=True, gc=False):
    """One signal as the API shows it (``SignalView`` adds what only exports show)."""

    signal_id: str
    scenario: str
    severity: str
    title: str
    description: str
    detected_at: str
    resolved_at: str | None
    kind: str
    region: str
    resource: str
    remediation: str
    docs_url: str
    last_seen_at: str
    detected_by: str
    """``scan``, or ``event`` when a pushed AWS event (EventBridge) opened the signal."""


class SignalsOut(msgspec.Struct):
    signals: list[SignalOut]
    count: int
    next_token: str | None
