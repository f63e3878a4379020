"""The one output form of a signal.

:func:`signal_view` turns a stored signal into a :class:`SignalView`, and every output takes its
fields from there: the API (:meth:`SignalView.api`: the fields of :class:`SignalOut`), the panic
package's ``signals.json`` (:meth:`SignalView.as_json`: every field), the CSV export
(:meth:`SignalView.csv_cells`: ``CSV_COLUMNS``) and the signals an alert keeps
(:meth:`SignalView.alert_snapshot`: ``ALERT_SNAPSHOT_FIELDS``). A new field is added in this module:
to the struct and :func:`signal_view`, then named in the outputs that show it (the API's fields are
those of ``SignalOut``, which ``SignalView`` extends).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

import msgspec

from vigilare.ids import isoformat
from vigilare.signals.models import SCAN
from vigilare.signals.schemas import SignalOut

CSV_COLUMNS: tuple[str, ...] = (
    "signal_id",
    "scenario",
    "kind",
    "severity",
    "title",
    "description",
    "region",
    "resource",
    "detected_at",
    "resolved_at",
    "detected_by",
)
"""The columns of the CSV export, in order (the panic package's ``signals.csv`` too)."""

ALERT_SNAPSHOT_FIELDS: tuple[str, ...] = ("severity", "scenario", "title", "region", "resource")
"""What an alert keeps of each signal that made it fire, for its notifications."""


class StoredSignal(Protocol):
    """What :func:`signal_view` reads: a :class:`vigilare.signals.models.Signal` row, or a test double."""

    @property
    def signal_id(self) -> str: ...
    @property
    def scenario(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def region(self) -> str | None: ...
    @property
    def resource(self) -> str | None: ...
    @property
    def remediation(self) -> str | None: ...
    @property
    def docs_url(self) -> str | None: ...
    @property
    def details(self) -> dict[str, Any] | None: ...
    @property
    def detected_at(self) -> datetime: ...
    @property
    def last_seen_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def detected_by(self) -> str | None: ...


class SignalView(SignalOut, frozen=True):
    """A signal in output form: text never None, timestamps ISO 8601 in UTC, plus its ``details``."""

    details: dict[str, Any]

    def api(self) -> SignalOut:
        """The API's signal (``GET /accounts/{id}/signals``): the fields of :class:`SignalOut`."""
        return SignalOut(**self.fields(SignalOut.__struct_fields__))

    def as_json(self) -> dict[str, Any]:
        """Every field, for the panic package's ``signals.json``."""
        return msgspec.structs.asdict(self)

    def csv_cells(self) -> list[str]:
        """One CSV row: the ``CSV_COLUMNS``, an empty cell for a signal not resolved."""
        return [value or "" for value in self.fields(CSV_COLUMNS).values()]

    def alert_snapshot(self) -> dict[str, Any]:
        """What an alert keeps of a signal that made it fire (``ALERT_SNAPSHOT_FIELDS``).

        A signal with no region or resource has None there, so notifications show nothing for it.
        """
        snapshot = self.fields(ALERT_SNAPSHOT_FIELDS)
        for name in ("region", "resource"):
            if name in snapshot:
                snapshot[name] = snapshot[name] or None
        return snapshot

    def fields(self, names: Iterable[str]) -> dict[str, Any]:
        """The named fields, in the order named."""
        return {name: getattr(self, name) for name in names}


def signal_view(signal: StoredSignal) -> SignalView:
    return SignalView(**_api_fields(signal), details=dict(signal.details or {}))


def signal_out(signal: StoredSignal) -> SignalOut:
    """The API's signal straight from a stored one (what ``signal_view(signal).api()`` answers)."""
    return SignalOut(**_api_fields(signal))


def signal_out_of_record(row: Any) -> SignalOut:
    """``signal_out`` of a row read in a ``TenantRead`` (``vigilare.signals.service``'s page
    statement: id, scenario, kind, severity, title, description, region, resource, remediation,
    docs_url, detected_at, last_seen_at, resolved_at, detected_by; its timestamps already written as
    the API writes them, ``vigilare.db.reads.utc_text``), by position: the same rules."""
    (
        signal_id,
        scenario,
        kind,
        severity,
        title,
        description,
        region,
        resource,
        remediation,
        docs_url,
        detected_at,
        last_seen_at,
        resolved_at,
        detected_by,
    ) = row
    return SignalOut(
        signal_id=signal_id,
        scenario=scenario,
        severity=severity,
        title=title,
        description=description or "",
        detected_at=detected_at or "",
        resolved_at=resolved_at,
        kind=kind,
        region=region or "",
        resource=resource or "",
        remediation=remediation or "",
        docs_url=docs_url or "",
        last_seen_at=last_seen_at or "",
        detected_by=detected_by or SCAN,
    )


def _api_fields(signal: StoredSignal) -> dict[str, Any]:
    return dict(
        signal_id=str(signal.signal_id),
        scenario=signal.scenario,
        severity=str(signal.severity),
        title=signal.title,
        description=signal.description or "",
        detected_at=isoformat(signal.detected_at) or "",
        resolved_at=isoformat(signal.resolved_at),
        kind=signal.kind,
        region=signal.region or "",
        resource=signal.resource or "",
        remediation=signal.remediation or "",
        docs_url=signal.docs_url or "",
        last_seen_at=isoformat(signal.last_seen_at) or "",
        detected_by=signal.detected_by or SCAN,
    )
