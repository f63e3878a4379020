"""AWS Health (JSON 1.1, target prefix `AWSHealth_20160804`): events, details, affected entities."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from vigilare_sandbox.state import AccountState, AffectedEntity, HealthEvent
from vigilare_sandbox.wire import WireResponse, epoch_seconds, from_epoch, json11_error, json11_ok

TARGET_PREFIX = "AWSHealth_20160804."
_DEFAULT_PAGE = 100

_Item = TypeVar("_Item")


def _in_ranges(moment: datetime | None, ranges: list[dict[str, Any]] | None) -> bool:
    if not ranges:
        return True
    if moment is None:
        return False
    for bounds in ranges:
        after_start = "from" not in bounds or moment >= from_epoch(bounds["from"])
        before_end = "to" not in bounds or moment <= from_epoch(bounds["to"])
        if after_start and before_end:
            return True
    return False


def _matches(values: list[str] | None, actual: str | None) -> bool:
    return not values or actual in values


def _paginate(
    items: Sequence[_Item], body: dict[str, Any], max_page: int
) -> tuple[Sequence[_Item], str | None] | WireResponse:
    start = 0
    if body.get("nextToken"):
        try:
            start = int(body["nextToken"])
        except ValueError:
            return json11_error(400, "InvalidPaginationToken", "Invalid pagination token")
    size = min(int(body.get("maxResults") or max_page), max_page)
    page = items[start : start + size]
    next_token = str(start + size) if start + size < len(items) else None
    return page, next_token


def _event_wire(event: HealthEvent) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "arn": event.arn,
        "service": event.service,
        "eventTypeCode": event.event_type_code,
        "eventTypeCategory": event.event_type_category,
        "region": event.region,
        "startTime": epoch_seconds(event.start_time),
        "lastUpdatedTime": epoch_seconds(event.last_updated_time),
        "statusCode": event.status_code,
        "eventScopeCode": event.event_scope_code,
    }
    if event.end_time is not None:
        wire["endTime"] = epoch_seconds(event.end_time)
    return wire


def _entity_wire(entity: AffectedEntity, account_id: str) -> dict[str, Any]:
    return {
        "entityArn": entity.entity_arn,
        "eventArn": entity.event_arn,
        "entityValue": entity.entity_value,
        "awsAccountId": account_id,
        "lastUpdatedTime": epoch_seconds(entity.last_updated_time),
        "statusCode": entity.status_code,
        "tags": entity.tags,
    }


def _event_matches(event: HealthEvent, entities: list[AffectedEntity], event_filter: dict[str, Any]) -> bool:
    own_entities = [entity for entity in entities if entity.event_arn == event.arn]
    entity_arns = event_filter.get("entityArns")
    entity_values = event_filter.get("entityValues")
    return (
        _matches(event_filter.get("eventArns"), event.arn)
        and _matches(event_filter.get("eventTypeCodes"), event.event_type_code)
        and _matches(event_filter.get("services"), event.service)
        and _matches(event_filter.get("regions"), event.region)
        and _matches(event_filter.get("eventTypeCategories"), event.event_type_category)
        and _matches(event_filter.get("eventStatusCodes"), event.status_code)
        and _in_ranges(event.start_time, event_filter.get("startTimes"))
        and _in_ranges(event.end_time, event_filter.get("endTimes"))
        and _in_ranges(event.last_updated_time, event_filter.get("lastUpdatedTimes"))
        and (not entity_arns or any(entity.entity_arn in entity_arns for entity in own_entities))
        and (not entity_values or any(entity.entity_value in entity_values for entity in own_entities))
    )


def describe_events(account: AccountState, account_id: str, body: dict[str, Any]) -> WireResponse:
    event_filter = body.get("filter") or {}
    events = sorted(
        (
            event
            for event in account.health_events.values()
            if _event_matches(event, account.affected_entities, event_filter)
        ),
        key=lambda event: event.last_updated_time,
        reverse=True,
    )
    paged = _paginate(events, body, _DEFAULT_PAGE)
    if isinstance(paged, WireResponse):
        return paged
    page, next_token = paged
    payload: dict[str, Any] = {"events": [_event_wire(event) for event in page]}
    if next_token:
        payload["nextToken"] = next_token
    return json11_ok(payload)


def describe_event_details(account: AccountState, account_id: str, body: dict[str, Any]) -> WireResponse:
    arns = body.get("eventArns")
    if not arns:
        return json11_error(400, "ValidationException", "1 validation error detected: eventArns is required")
    successful: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for arn in arns:
        event = account.health_events.get(arn)
        if event is None:
            failed.append(
                {
                    "eventArn": arn,
                    "errorName": "UnknownEventArn",
                    "errorMessage": f"Event {arn} does not exist or is not visible to this account",
                }
            )
            continue
        successful.append(
            {
                "event": _event_wire(event),
                "eventDescription": {"latestDescription": event.description},
                "eventMetadata": event.metadata,
            }
        )
    return json11_ok({"successfulSet": successful, "failedSet": failed})


def describe_affected_entities(account: AccountState, account_id: str, body: dict[str, Any]) -> WireResponse:
    entity_filter = body.get("filter") or {}
    event_arns = entity_filter.get("eventArns")
    if not event_arns:
        return json11_error(
            400, "ValidationException", "1 validation error detected: filter.eventArns is required"
        )
    entities = [
        entity
        for entity in account.affected_entities
        if entity.event_arn in event_arns
        and _matches(entity_filter.get("entityArns"), entity.entity_arn)
        and _matches(entity_filter.get("entityValues"), entity.entity_value)
        and _matches(entity_filter.get("statusCodes"), entity.status_code)
        and _in_ranges(entity.last_updated_time, entity_filter.get("lastUpdatedTimes"))
    ]
    paged = _paginate(entities, body, _DEFAULT_PAGE)
    if isinstance(paged, WireResponse):
        return paged
    page, next_token = paged
    payload: dict[str, Any] = {"entities": [_entity_wire(entity, account_id) for entity in page]}
    if next_token:
        payload["nextToken"] = next_token
    return json11_ok(payload)


OPERATIONS: dict[str, Callable[[AccountState, str, dict[str, Any]], WireResponse]] = {
    "DescribeEvents": describe_events,
    "DescribeEventDetails": describe_event_details,
    "DescribeAffectedEntities": describe_affected_entities,
}


def handle(account: AccountState, account_id: str, operation: str, body: dict[str, Any]) -> WireResponse:
    if not account.support_plan.includes_health_api:
        # What AWS answers on Basic and Developer support plans.
        return json11_error(
            400,
            "SubscriptionRequiredException",
            "The AWS Health API is available only to accounts with a Business, Enterprise On-Ramp "
            "or Enterprise Support plan.",
        )
    handler = OPERATIONS.get(operation)
    if handler is None:
        return json11_error(400, "UnknownOperationException", f"Operation {operation} is not supported")
    return handler(account, account_id, body)
