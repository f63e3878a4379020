"""Timestamps in, plain words out: what finding titles and descriptions say about time and keys.

Collected data carries times in several shapes (botocore ``datetime`` objects, with or without a
zone, the credential report's ISO strings, its ``"N/A"`` placeholders): :func:`as_datetime` reads
them all. The ``*_of`` and ``*_ago`` functions write them the way every Vigilare finding does, so a
third-party finding reads like a built-in one. Everything here is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


def as_datetime(value: Any) -> datetime | None:
    """A timezone-aware datetime from botocore's datetimes, ISO 8601 strings or the RFC 1123 form
    AWS Health events carry in EventBridge (``"Wed, 01 Aug 2018 06:27:57 GMT"``), else None.

    A naive datetime or string is taken as UTC. Anything unreadable (``"N/A"``,
    ``"no_information"``, ``"not_supported"``, None, a number) gives None, never an error.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            try:
                parsed = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def whole_days(since: datetime, now: datetime) -> int:
    """Complete days from ``since`` to ``now`` (0 for less than a day)."""
    return (now - since).days


def days_text(count: int) -> str:
    """``"1 day"``, ``"12 days"``."""
    return "1 day" if count == 1 else f"{count} days"


def hours_ago(since: datetime, now: datetime) -> str:
    """``"less than an hour ago"``, ``"1 hour ago"``, ``"30 hours ago"`` (whole hours, rounded down)."""
    hours = int((now - since).total_seconds() // 3600)
    if hours < 1:
        return "less than an hour ago"
    return "1 hour ago" if hours == 1 else f"{hours} hours ago"


def day_of(moment: datetime) -> str:
    """The UTC day of ``moment``: ``"2026-05-22"``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def minute_of(moment: datetime) -> str:
    """``moment`` to the minute: ``"2026-05-22 12:00 UTC"``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def masked_key(access_key_id: str) -> str:
    """Enough of an access key id to recognise it (``"AKIA...WXYZ"``), without repeating it in full."""
    return f"{access_key_id[:4]}...{access_key_id[-4:]}" if len(access_key_id) > 8 else access_key_id


def iso_utc(moment: datetime | None) -> str | None:
    """``moment`` as an ISO 8601 UTC string, or None: for finding ``details``, which must be plain JSON."""
    return moment.astimezone(UTC).isoformat() if moment else None
