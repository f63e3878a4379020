"""CloudTrail collectors: the trails and their logging status, and the few events that matter.

LookupEvents allows 2 requests a second per account and region, and that budget is the customer's
own: each region's lookups go through a :class:`RequestSpacer` kept under that rate.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from vigilare.aws.ratelimit import RequestSpacer, shared_spacer
from vigilare.plugin import Collector, CollectorContext

LOOKUP_EVENTS_RATE_PER_SECOND = 1.8  # AWS allows 2; a margin for clock differences
CONSOLE_LOGIN_WINDOW = timedelta(hours=24)
TRAIL_CHANGE_WINDOW = timedelta(days=7)
TRAIL_CHANGE_EVENTS = ("StopLogging", "DeleteTrail")
_PAGE_SIZE = 50


def _trail_account(trail: dict[str, Any]) -> str:
    parts = str(trail.get("TrailARN", "")).split(":")
    return parts[4] if len(parts) > 5 else ""


async def fetch_trails(ctx: CollectorContext) -> list[dict[str, Any]]:
    """The trails whose home is this region, each with its GetTrailStatus answer under ``Status``.

    Shadow trails are asked for, because that is the only way a member account of an AWS
    Organization sees its organization's trail (DescribeTrails ``includeShadowTrails``); each trail
    is kept once, in its home region. An organization trail (``IsOrganizationTrail``, owned by the
    management account) is marked ``OrganizationTrail`` with the account that ``ManagedBy`` it.
    """
    response = await ctx.call("cloudtrail", "describe_trails", includeShadowTrails=True)
    trails: list[dict[str, Any]] = [
        trail for trail in response.get("trailList", []) if trail.get("HomeRegion", ctx.region) == ctx.region
    ]
    for trail in trails:
        owner = _trail_account(trail)
        if trail.get("IsOrganizationTrail") or (owner and owner != ctx.account_id):
            trail["OrganizationTrail"] = True
            trail["ManagedBy"] = owner
        trail["Status"] = await ctx.call("cloudtrail", "get_trail_status", Name=trail["TrailARN"])
    return trails


async def _lookup(
    ctx: CollectorContext, spacer: RequestSpacer, event_name: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Every event named ``event_name`` in the window, as full CloudTrail records."""
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": event_name}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": _PAGE_SIZE,
    }
    records: list[dict[str, Any]] = []
    while True:
        async with spacer.slot():
            page = await ctx.call("cloudtrail", "lookup_events", **params)
        for event in page.get("Events", []):
            record = json.loads(event.get("CloudTrailEvent") or "{}")
            record.setdefault("eventName", event.get("EventName"))
            records.append(record)
        if not page.get("NextToken"):
            return records
        params["NextToken"] = page["NextToken"]


async def fetch_trail_events(ctx: CollectorContext) -> dict[str, Any]:
    """ConsoleLogin events of the last 24 hours and StopLogging / DeleteTrail of the last 7 days.

    ``{"console_logins": [record...], "trail_changes": [record...]}`` (records as CloudTrail logs
    them: ``userIdentity``, ``sourceIPAddress``, ``eventTime``, ``additionalEventData``...).
    """
    spacer = shared_spacer(ctx.account_id, ctx.region, LOOKUP_EVENTS_RATE_PER_SECOND)
    now = datetime.now(UTC)
    logins = await _lookup(ctx, spacer, "ConsoleLogin", now - CONSOLE_LOGIN_WINDOW, now)
    changes: list[dict[str, Any]] = []
    for event_name in TRAIL_CHANGE_EVENTS:
        changes += await _lookup(ctx, spacer, event_name, now - TRAIL_CHANGE_WINDOW, now)
    return {"console_logins": logins, "trail_changes": changes}


CLOUDTRAIL_COLLECTORS = [
    Collector(
        key="cloudtrail.trails",
        fetch=fetch_trails,
        regional=True,
        evidence=True,
        description=(
            "cloudtrail:DescribeTrails (trails homed in each region, organization trails included) "
            "+ GetTrailStatus"
        ),
    ),
    Collector(
        key="cloudtrail.events",
        fetch=fetch_trail_events,
        regional=True,
        evidence=True,
        description="cloudtrail:LookupEvents for ConsoleLogin, StopLogging and DeleteTrail (≤ 2 req/s)",
    ),
]
