"""What the scoring, checklist and reply builders need to know about a signal.

These are structural types (``typing.Protocol``): an ORM row, a msgspec struct or a test dataclass
all qualify as long as they expose the attributes. A ``severity`` is the value of a
:class:`vigilare.plugin.Severity` (any letter case). Attributes are declared as read-only properties so
that a plain attribute of a narrower type (``str`` for ``str | None``) also satisfies them.
"""

from __future__ import annotations

from typing import Protocol


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
