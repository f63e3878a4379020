"""Plain-words helpers shared by the built-in scenarios' titles and descriptions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def as_datetime(value: Any) -> datetime | None:
    """A timezone-aware datetime from botocore's datetimes or the credential report's ISO strings."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None  # "N/A", "no_information", "not_supported"
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def whole_days(since: datetime, now: datetime) -> int:
    return (now - since).days


def days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def hours_ago(since: datetime, now: datetime) -> str:
    hours = int((now - since).total_seconds() // 3600)
    if hours < 1:
        return "less than an hour ago"
    return "1 hour ago" if hours == 1 else f"{hours} hours ago"


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def minute_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def masked_key(access_key_id: str) -> str:
    """Enough of an access key id to recognise it, without repeating it in full in every message."""
    return f"{access_key_id[:4]}...{access_key_id[-4:]}" if len(access_key_id) > 8 else access_key_id


def iso(moment: datetime | None) -> str | None:
    """For finding details, which must stay plain JSON."""
    return moment.astimezone(UTC).isoformat() if moment else None
