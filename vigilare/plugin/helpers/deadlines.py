"""Finding the deadline AWS states in a Health event ("If you do not respond by <date>, we may suspend")."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# AWS writes the date after "by"; seen as ISO dates (with or without a time) and as "May 23, 2026".
_ISO = re.compile(
    r"\bby\s+(?P<date>\d{4}-\d{2}-\d{2})(?:[ T](?P<time>\d{1,2}:\d{2})(?::\d{2})?)?\s*(?:UTC|GMT|Z)?",
    re.IGNORECASE,
)
_WORDS = re.compile(
    r"\bby\s+(?P<date>(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\s+\d{1,2},?\s+\d{4})(?:,?\s+(?:at\s+)?(?P<time>\d{1,2}:\d{2})\s*(?P<ampm>AM|PM)?)?",
    re.IGNORECASE,
)
_METADATA_KEYS = ("deadline", "Deadline", "responseDeadline")


def _parse_time(text: str | None, ampm: str | None) -> tuple[int, int]:
    if not text:
        return 0, 0
    hour, minute = (int(part) for part in text.split(":"))
    if ampm and ampm.upper() == "PM" and hour < 12:
        hour += 12
    if ampm and ampm.upper() == "AM" and hour == 12:
        hour = 0
    return hour, minute


def _from_match(match: re.Match[str], date_format: str) -> datetime | None:
    date_text = " ".join(match.group("date").replace(",", "").split())
    try:
        day = datetime.strptime(date_text, date_format)
    except ValueError:
        return None
    groups = match.groupdict()
    hour, minute = _parse_time(groups.get("time"), groups.get("ampm"))
    return day.replace(hour=hour, minute=minute, tzinfo=UTC)


def find_deadline(description: str, metadata: dict[str, Any] | None = None) -> datetime | None:
    """AWS's deadline for an event (UTC), from its metadata or its text; None when it states none.

    ``metadata`` is the event's ``eventMetadata``: an ISO ``deadline`` (or ``Deadline``,
    ``responseDeadline``) there wins. Otherwise the text is searched for "by <date>", the date
    written as ``2026-05-23``, ``2026-05-23 17:00 UTC`` or ``May 23, 2026 at 5:00 PM``; a date
    without a time is midnight UTC.
    """
    for key in _METADATA_KEYS:
        value = (metadata or {}).get(key)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    match = _ISO.search(description)
    if match:
        return _from_match(match, "%Y-%m-%d")
    match = _WORDS.search(description)
    if match:
        return _from_match(match, "%B %d %Y")
    return None
