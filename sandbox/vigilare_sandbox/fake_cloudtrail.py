"""CloudTrail LookupEvents (JSON 1.1): the 90-day management-event history of one region."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from vigilare_sandbox.state import AccountState, TrailEvent
from vigilare_sandbox.wire import WireResponse, epoch_seconds, from_epoch, json11_error, json11_ok

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
_MAX_RESULTS = 50
_HISTORY = timedelta(days=90)


def _attribute_value(event: TrailEvent, key: str) -> str | None:
    values: dict[str, str | None] = {
        "EventId": event.event_id,
        "EventName": event.event_name,
        "ReadOnly": "true" if event.read_only else "false",
        "Username": event.username,
        "EventSource": event.event_source,
        "AccessKeyId": event.access_key_id,
    }
    return values.get(key)


def _matches_attribute(event: TrailEvent, key: str, value: str) -> bool:
    if key == "ResourceType":
        return any(resource_type == value for resource_type, _ in event.resources)
    if key == "ResourceName":
        return any(resource_name == value for _, resource_name in event.resources)
    return _attribute_value(event, key) == value


def _event_wire(event: TrailEvent) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "EventId": event.event_id,
        "EventName": event.event_name,
        "ReadOnly": "true" if event.read_only else "false",
        "EventTime": epoch_seconds(event.event_time),
        "EventSource": event.event_source,
        "Resources": [
            {"ResourceType": resource_type, "ResourceName": resource_name}
            for resource_type, resource_name in event.resources
        ],
        # AWS serves the whole record as a JSON string, not a nested object.
        "CloudTrailEvent": json.dumps(event.record),
    }
    if event.username is not None:
        wire["Username"] = event.username
    if event.access_key_id is not None:
        wire["AccessKeyId"] = event.access_key_id
    return wire


def lookup_events(account: AccountState, region: str, body: dict[str, Any]) -> WireResponse:
    attributes = body.get("LookupAttributes") or []
    if len(attributes) > 1:
        return json11_error(
            400, "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute."
        )
    now = datetime.now(UTC)
    start = from_epoch(body["StartTime"]) if "StartTime" in body else now - _HISTORY
    end = from_epoch(body["EndTime"]) if "EndTime" in body else now
    if start > end:
        return json11_error(400, "InvalidTimeRangeException", "Start time must be before end time.")
    max_results = int(body.get("MaxResults") or _MAX_RESULTS)
    if not 1 <= max_results <= _MAX_RESULTS:
        return json11_error(400, "InvalidMaxResultsException", "MaxResults must be between 1 and 50.")

    events = sorted(
        (
            event
            for event in account.trail_events
            if event.region == region
            and start <= event.event_time <= end
            and all(
                _matches_attribute(event, attribute["AttributeKey"], attribute["AttributeValue"])
                for attribute in attributes
            )
        ),
        key=lambda event: event.event_time,
        reverse=True,
    )
    offset = 0
    if body.get("NextToken"):
        try:
            offset = int(body["NextToken"])
        except ValueError:
            return json11_error(400, "InvalidNextTokenException", "Invalid NextToken.")
    page = events[offset : offset + max_results]
    payload: dict[str, Any] = {"Events": [_event_wire(event) for event in page]}
    if offset + max_results < len(events):
        payload["NextToken"] = str(offset + max_results)
    return json11_ok(payload)
