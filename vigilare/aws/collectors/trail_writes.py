"""Risky write calls of the last 24 hours, from CloudTrail event history (``cloudtrail:LookupEvents``).

IAM, account and organization calls are global-service events, recorded in us-east-1; GuardDuty and
flow-log deletions are recorded in their own region. LookupEvents allows 2 requests a second per
account and region (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html),
and one request names one event, so each region's lookups share the account-and-region spacer with
the sign-in lookups, and the answer is kept in the scan state and asked again at most every
``REFRESH_EVERY`` (steady scans make no call; push covers the minutes in between). Each refresh asks
only for the time since the previous one and keeps the records of the last 24 hours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from vigilare.aws.collectors.cloudtrail import LOOKUP_EVENTS_RATE_PER_SECOND
from vigilare.aws.ratelimit import shared_spacer
from vigilare.plugin import Collector, CollectorContext, as_datetime

GLOBAL_EVENTS_REGION = "us-east-1"
WINDOW = timedelta(hours=24)
REFRESH_EVERY = timedelta(hours=1)
KEPT_RECORDS = 200
_PAGE_SIZE = 50
GLOBAL_EVENT_NAMES = (
    "CreateUser",
    "CreateAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "DeactivateMFADevice",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
    "UpdateAssumeRolePolicy",
    "EnableRegion",
    "LeaveOrganization",
)
REGIONAL_EVENT_NAMES = ("DeleteDetector", "UpdateDetector", "DeleteFlowLogs")
_KEPT_FIELDS = (
    "eventID",
    "eventName",
    "eventTime",
    "eventSource",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "userIdentity",
    "requestParameters",
    "errorCode",
)


def event_names_for(region: str) -> tuple[str, ...]:
    if region == GLOBAL_EVENTS_REGION:
        return GLOBAL_EVENT_NAMES + REGIONAL_EVENT_NAMES
    return REGIONAL_EVENT_NAMES


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    return {field: record[field] for field in _KEPT_FIELDS if field in record}


async def fetch_write_events(ctx: CollectorContext) -> dict[str, Any]:
    """``{"events": [CloudTrail records], "checked_until": iso}`` of the region's last 24 hours."""
    now = datetime.now(UTC)
    previous = ctx.previous_state if isinstance(ctx.previous_state, dict) else {}
    checked_until = as_datetime(previous.get("checked_until"))
    kept: list[dict[str, Any]] = [
        record
        for record in previous.get("events") or []
        if (moment := as_datetime(record.get("eventTime"))) is not None and now - moment <= WINDOW
    ]
    if checked_until is not None and now - checked_until < REFRESH_EVERY:
        ctx.save_state({"checked_until": checked_until.isoformat(), "events": kept})
        return {"events": kept, "checked_until": checked_until.isoformat()}

    start = max(checked_until, now - WINDOW) if checked_until is not None else now - WINDOW
    spacer = shared_spacer(ctx.account_id, ctx.region, LOOKUP_EVENTS_RATE_PER_SECOND)
    seen = {record.get("eventID") for record in kept}
    for event_name in event_names_for(ctx.region):
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": event_name}],
            "StartTime": start,
            "EndTime": now,
            "MaxResults": _PAGE_SIZE,
        }
        while True:
            async with spacer.slot():
                page = await ctx.call("cloudtrail", "lookup_events", **params)
            for event in page.get("Events", []):
                record = json.loads(event.get("CloudTrailEvent") or "{}")
                record.setdefault("eventName", event.get("EventName"))
                record.setdefault("eventID", event.get("EventId"))
                if record.get("eventID") not in seen:
                    seen.add(record.get("eventID"))
                    kept.append(_slim(record))
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
    kept.sort(key=lambda record: str(record.get("eventTime")), reverse=True)
    kept = kept[:KEPT_RECORDS]
    ctx.save_state({"checked_until": now.isoformat(), "events": kept})
    return {"events": kept, "checked_until": now.isoformat()}


TRAIL_WRITE_COLLECTORS = [
    Collector(
        key="cloudtrail.write_events",
        fetch=fetch_write_events,
        regional=True,
        evidence=True,
        description=(
            "cloudtrail:LookupEvents for risky writes of the last 24 h (IAM users, keys, login profiles, "
            "MFA, admin policies, role trust, GuardDuty, flow logs, regions, organization), "
            "at most hourly, sharing the 2 req/s budget"
        ),
        freshness=timedelta(hours=1),
    ),
]
