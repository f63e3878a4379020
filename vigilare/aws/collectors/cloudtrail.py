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
POLL_OVERLAP = timedelta(minutes=10)
# Where CloudTrail records root console sign-ins (per partition's first region).
ROOT_SIGN_IN_REGIONS = frozenset({"us-east-1", "us-gov-west-1", "cn-north-1"})
OTHER_REGIONS_EVERY = timedelta(hours=1)


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


def _carried(records: Any, since: datetime) -> list[dict[str, Any]]:
    """Records kept from earlier polls that are still inside their window."""
    kept = []
    for record in records if isinstance(records, list) else []:
        when = _event_time(record)
        if isinstance(record, dict) and when is not None and when >= since:
            kept.append(record)
    return kept


def _event_time(record: Any) -> datetime | None:
    if not isinstance(record, dict) or not isinstance(record.get("eventTime"), str):
        return None
    try:
        moment = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _merge(*groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per CloudTrail ``eventID`` (an overlap between two polls reads some twice)."""
    merged: dict[str, dict[str, Any]] = {}
    for records in groups:
        for record in records:
            merged[str(record.get("eventID") or id(record))] = record
    return sorted(merged.values(), key=lambda record: str(record.get("eventTime", "")))


async def fetch_trail_events(ctx: CollectorContext) -> dict[str, Any]:
    """ConsoleLogin events of the last 24 hours and StopLogging / DeleteTrail of the last 7 days.

        ``{"console_logins": [record...], "trail_changes": [record...]}`` (records as CloudTrail logs
        them: ``userIdentity``, ``sourceIPAddress``, ``eventTime``, ``additionalEventData``...).

        Read incrementally: LookupEvents asks only for events since the last poll (its ``StartTime``,
        less a few minutes of overlap, as CloudTrail delivers events up to ~5 minutes late), and the
        records still inside their windows are carried in the scan state. CloudTrail records every
        root sign-in in us-east-1 ("AWS Management Console sign-in events", CloudTrail User Guide), so
        that region's sign-ins are read every scan; the other regions, and trail changes (judged with
    the trails' status, read hourly), hourly.
    """
    spacer = shared_spacer(ctx.account_id, ctx.region, LOOKUP_EVENTS_RATE_PER_SECOND)
    now = datetime.now(UTC)
    previous = {} if ctx.full else (ctx.previous_state or {})
    login_since = now - CONSOLE_LOGIN_WINDOW
    change_since = now - TRAIL_CHANGE_WINDOW
    logins_polled = _polled_at(previous.get("polled_at"))
    start = login_since if logins_polled is None else max(login_since, logins_polled - POLL_OVERLAP)
    logins = _merge(
        _carried(previous.get("console_logins"), login_since),
        await _lookup(ctx, spacer, "ConsoleLogin", start, now),
    )
    # Trail changes are judged with the trails' status, which is read hourly: read them as often.
    changes_polled = _polled_at(previous.get("changes_polled_at"))
    carried_changes = _carried(previous.get("trail_changes"), change_since)
    if changes_polled is not None and now - changes_polled < OTHER_REGIONS_EVERY:
        changes = carried_changes
    else:
        start = change_since if changes_polled is None else max(change_since, changes_polled - POLL_OVERLAP)
        fresh: list[dict[str, Any]] = []
        for event_name in TRAIL_CHANGE_EVENTS:
            fresh += await _lookup(ctx, spacer, event_name, start, now)
        changes = _merge(carried_changes, fresh)
        changes_polled = now
    ctx.save_state(
        {
            "polled_at": now.isoformat(),
            "changes_polled_at": changes_polled.isoformat(),
            "console_logins": logins,
            "trail_changes": changes,
        }
    )
    if ctx.region not in ROOT_SIGN_IN_REGIONS:
        ctx.fresh_until(now + OTHER_REGIONS_EVERY)
    return {"console_logins": logins, "trail_changes": changes}


def _polled_at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
        freshness=timedelta(hours=1),
    ),
    Collector(
        key="cloudtrail.events",
        fetch=fetch_trail_events,
        regional=True,
        evidence=True,
        description="cloudtrail:LookupEvents for ConsoleLogin, StopLogging and DeleteTrail (≤ 2 req/s)",
        push_freshness=timedelta(hours=1),  # root sign-ins and trail changes are pushed
        push_capability="cloudtrail_events",
    ),
]
