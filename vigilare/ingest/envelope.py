"""Reading an EventBridge event as an API destination delivers it: the matched event's envelope.

Envelope fields (EventBridge User Guide, "Amazon EventBridge events",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events.html): ``version``, ``id``,
``detail-type``, ``source``, ``account``, ``time``, ``region``, ``resources``, ``detail``. Required
here: ``id``, ``detail-type``, ``source``, ``account``, ``time``, ``region`` and ``detail``. Not
required: ``version`` (AWS's own console sign-in and scheduled event examples have none) and
``resources`` (may be empty). ``id`` is opaque (a documented Health example is not a UUID) and
``region`` is not checked against a list (Health events carry ``global``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from vigilare.errors import BadRequest
from vigilare.plugin.events import AwsEvent

MAX_BODY_BYTES = 256 * 1024
"""EventBridge's own limit for one event (PutEvents entry size): a larger body is not an event."""

_ACCOUNT = re.compile(r"^\d{12}$")
_TEXT_FIELDS = {"id": 256, "detail-type": 256, "source": 256, "region": 64}


def parse_event(body: bytes, received_at: datetime) -> tuple[AwsEvent, dict[str, Any]]:
    """The event and its envelope as received; a 400 that names the field when it is not one."""
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise BadRequest(
            "the body is not JSON: send the EventBridge event as the API destination does"
        ) from None
    if not isinstance(payload, dict):
        raise BadRequest("the body is not an EventBridge event: expected a JSON object")
    missing = [name for name in (*_TEXT_FIELDS, "account", "time", "detail") if name not in payload]
    if missing:
        raise BadRequest(f"the body is not an EventBridge event: missing {', '.join(missing)}")
    for name, limit in _TEXT_FIELDS.items():
        value = payload[name]
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise BadRequest(f"{name}: must be a non-empty string of at most {limit} characters")
    account = payload["account"]
    if not isinstance(account, str) or not _ACCOUNT.match(account):
        raise BadRequest("account: must be a 12-digit AWS account id")
    time = _timestamp(payload["time"])
    detail = payload["detail"]
    if not isinstance(detail, dict):
        raise BadRequest("detail: must be a JSON object")
    resources = payload.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(item, str) for item in resources):
        raise BadRequest("resources: must be a list of strings")
    event = AwsEvent(
        id=payload["id"],
        source=payload["source"],
        detail_type=payload["detail-type"],
        account=account,
        time=time,
        region=payload["region"],
        detail=detail,
        resources=tuple(resources),
        received_at=received_at,
    )
    return event, payload


def event_from_payload(payload: dict[str, Any], received_at: datetime) -> AwsEvent:
    """The event of a stored envelope (checked when it was received)."""
    return AwsEvent(
        id=payload["id"],
        source=payload["source"],
        detail_type=payload["detail-type"],
        account=payload["account"],
        time=_timestamp(payload["time"]),
        region=payload["region"],
        detail=payload["detail"],
        resources=tuple(payload.get("resources") or ()),
        received_at=received_at,
    )


def _timestamp(value: object) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise BadRequest("time: must be an ISO 8601 timestamp such as 2026-05-22T09:45:00Z")
