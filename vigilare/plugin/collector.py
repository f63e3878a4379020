"""How a plugin teaches the scanner to fetch a new piece of AWS data (re-exported by vigilare.plugin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from vigilare.plugin.state import JsonValue


class CollectorContext(Protocol):
    """What a collector gets: the account's AWS access for one region, bounded and retried for it.

    Every call goes through the scan's per-account concurrency bound and reuses the scan's clients,
    so a collector never creates a client or a session itself.
    """

    @property
    def account_id(self) -> str: ...

    @property
    def region(self) -> str:
        """The region to read (the scan's home region for global collectors)."""
        ...

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """One API call, e.g. ``await ctx.call("iam", "get_account_summary")`` (botocore method names)."""
        ...

    async def paginate(self, service: str, operation: str, result_key: str, **params: Any) -> list[Any]:
        """All pages of a paginated operation, concatenating ``result_key`` of each page."""
        ...

    def in_region(self, region: str) -> CollectorContext:
        """The same context reading another region (e.g. a bucket's own region)."""
        ...

    def record_error(self, resource: str, error: str) -> None:
        """Note that one item could not be read while the rest were (the key becomes incomplete)."""
        ...

    @property
    def previous_state(self) -> JsonValue:
        """What this collector saved (for this region, when regional) at the account's last completed
        scan, or None the first time. See :mod:`vigilare.plugin.state`."""
        ...

    def save_state(self, value: JsonValue) -> None:
        """Remember plain JSON ``value`` for the next scan of this account (kept only if this scan
        completes). Not calling it keeps the previous value."""

    @property
    def full(self) -> bool:
        """True on a scan that collects everything (an account's first scan, a manual scan, a scan an
        event asked for): read everything, without the cursors and caches kept in the state."""
        ...

    def fresh_until(self, moment: datetime) -> None:
        """This run's data (in this region) stays fresh until ``moment``, instead of the collector's
        declared ``freshness`` from now: e.g. the credential report until AWS can regenerate it, or a
        region with nothing to watch for an hour. Scans before then do not collect it again."""

    def record_capability(self, name: str, available: bool, reason: str = "") -> None:
        """Note whether the account's AWS plan or settings allow an API (e.g. ``"health_api"``).

        An unavailable capability is an expected condition, not an error: the scan stays ``ok``, the
        account shows the gap, and this collector's key counts as incomplete so the signals of the
        scenarios reading it are not resolved for want of data.
        """
        ...


CollectorFunction = Callable[[CollectorContext], Awaitable[Any]]

EVERY_SCAN = timedelta(0)
"""The default freshness: the key is collected at every scan."""


@dataclass(frozen=True, slots=True)
class Collector:
    """Fetches one data key, once per scan (or once per enabled region when ``regional``).

    ``fetch`` raises on failure (botocore ``ClientError`` or anything else): the scanner records a
    :class:`CollectionError` for the key (and region) and carries on. ``evidence`` marks data worth
    keeping in the scan's evidence export (credential report, instances, ...).

    ``freshness`` is how old the data may get: a scheduled scan collects the key (in a region) only
    once its last collection there is that old, and the scenarios' signals that depend on it stay
    as they are (open, never resolved by a scan that did not look) in between. The default,
    :data:`EVERY_SCAN`, collects it at every scan. A first scan, a manual scan and a scan an event
    asked for collect every key. A region that failed is collected again at the next scan.

    ``push_freshness``: when the account's push ingest (EventBridge) is connected, the events it
    delivers keep this key current, and the scan collects it only this often (a slow
    reconciliation); None (the default) when push delivers nothing of this key.
    ``push_capability`` names the account capability push delivery of this key depends on (e.g.
    ``"cloudtrail_events"``: CloudTrail-delivered events need a logging trail); while a scan has
    recorded it unavailable, ``freshness`` applies.
    """

    key: str
    fetch: CollectorFunction
    regional: bool = False
    evidence: bool = False
    description: str = ""
    freshness: timedelta = EVERY_SCAN
    push_freshness: timedelta | None = None
    push_capability: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.freshness, timedelta) or self.freshness < EVERY_SCAN:
            raise ValueError(f"collector {self.key!r}: freshness must be a timedelta >= 0")
        if self.push_freshness is not None and (
            not isinstance(self.push_freshness, timedelta) or self.push_freshness < EVERY_SCAN
        ):
            raise ValueError(f"collector {self.key!r}: push_freshness must be a timedelta >= 0 or None")
