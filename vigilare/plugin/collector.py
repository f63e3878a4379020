"""How a plugin teaches the scanner to fetch a new piece of AWS data (re-exported by vigilare.plugin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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

    def record_capability(self, name: str, available: bool, reason: str = "") -> None:
        """Note whether the account's AWS plan or settings allow an API (e.g. ``"health_api"``).

        An unavailable capability is an expected condition, not an error: the scan stays ``ok``, the
        account shows the gap, and this collector's key counts as incomplete so the signals of the
        scenarios reading it are not resolved for want of data.
        """
        ...


CollectorFunction = Callable[[CollectorContext], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Collector:
    """Fetches one data key, once per scan (or once per enabled region when ``regional``).

    ``fetch`` raises on failure (botocore ``ClientError`` or anything else): the scanner records a
    :class:`CollectionError` for the key (and region) and carries on. ``evidence`` marks data worth
    keeping in the scan's evidence export (credential report, instances, ...).
    """

    key: str
    fetch: CollectorFunction
    regional: bool = False
    evidence: bool = False
    description: str = ""
