"""What the scoring, checklist and reply builders need to know about a signal.

These are structural types (``typing.Protocol``): an ORM row, a msgspec struct or a test dataclass
all qualify as long as they expose the attributes. Attributes are declared as read-only properties so
that a plain attribute of a narrower type (``str`` for ``str | None``) also satisfies them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Severity(StrEnum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"

    @property
    def rank(self) -> int:
        """0 for CRITICAL up to 3 for LOW: sorting by rank puts the worst first."""
        return _RANK[self]


_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


def parse_severity(value: str) -> Severity:
    """Accept any letter case; anything else is a bug in the producer, so it raises ``ValueError``."""
    try:
        return Severity(value.upper())
    except ValueError:
        raise ValueError(
            f"unknown severity {value!r}; expected one of {[s.value for s in Severity]}"
        ) from None


class ScorableSignal(Protocol):
    """An open signal as the Security Risk Score sees it."""

    @property
    def scenario(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def resource(self) -> str | None: ...


class LocatedSignal(ScorableSignal, Protocol):
    """An open signal with its region, as the recovery checklist and the support reply need it."""

    @property
    def region(self) -> str | None: ...
