"""EventBridge events for the ingest tests: the documented fixtures, made about the test's account."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def load_event(name: str, account: str, *, now: datetime | None = None, **envelope: Any) -> dict[str, Any]:
    """The fixture ``name`` with its documented account id replaced by ``account`` everywhere.

    ``now`` moves the event's times (``time`` and a CloudTrail record's ``eventTime``) to that
    moment, for rules that only look at recent events; ``envelope`` overrides envelope fields.
    """
    text = (FIXTURES / f"{name}.json").read_text()
    documented = json.loads(text)["account"]
    event: dict[str, Any] = json.loads(text.replace(documented, account))
    if now is not None:
        stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event["time"] = stamp
        if "eventTime" in event["detail"]:
            event["detail"]["eventTime"] = stamp
    event.update(envelope)
    return event
