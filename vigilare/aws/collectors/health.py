"""AWS Health RISK and ABUSE events: AWS's own notices that precede a suspension.

The Health API answers only on Business, Enterprise On-Ramp and Enterprise support plans; on Basic
and Developer it answers ``SubscriptionRequiredException``. That is the account's plan, not a
failure: the collector records the ``health_api`` capability as unavailable and returns None, and
the ``iam`` scenario's quarantine-policy check (free on every plan) stands in.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from vigilare.plugin import Collector, CollectorContext

HEALTH_CAPABILITY = "health_api"
HEALTH_REGION = "us-east-1"  # the Health API's global endpoint
HEALTH_SERVICES = ["RISK", "ABUSE"]
OPEN_STATUSES = ["open", "upcoming"]
_DETAILS_BATCH = 10  # DescribeEventDetails takes at most 10 event ARNs
_PLAN_ERRORS = {"SubscriptionRequiredException"}
UNAVAILABLE_REASON = (
    "The AWS Health API needs a Business, Enterprise On-Ramp or Enterprise support plan; "
    "Vigilare watches the compromised-key quarantine policy instead."
)


async def _details(ctx: CollectorContext, arns: list[str]) -> dict[str, dict[str, Any]]:
    details: dict[str, dict[str, Any]] = {}
    for start in range(0, len(arns), _DETAILS_BATCH):
        response = await ctx.call(
            "health", "describe_event_details", eventArns=arns[start : start + _DETAILS_BATCH]
        )
        for item in response.get("successfulSet", []):
            details[item["event"]["arn"]] = item
    return details


async def _entities(ctx: CollectorContext, event_arn: str) -> list[dict[str, Any]]:
    return await ctx.paginate(
        "health", "describe_affected_entities", "entities", filter={"eventArns": [event_arn]}
    )


async def fetch_health_events(ctx: CollectorContext) -> list[dict[str, Any]] | None:
    """Open and upcoming RISK/ABUSE events, each with ``description``, ``metadata`` and ``entities``.

    None when the support plan does not include the Health API (recorded as a capability).
    """
    health = ctx.in_region(HEALTH_REGION)
    try:
        events: list[dict[str, Any]] = await health.paginate(
            "health",
            "describe_events",
            "events",
            filter={"services": HEALTH_SERVICES, "eventStatusCodes": OPEN_STATUSES},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _PLAN_ERRORS:
            ctx.record_capability(HEALTH_CAPABILITY, False, UNAVAILABLE_REASON)
            return None
        raise
    ctx.record_capability(HEALTH_CAPABILITY, True)
    details = await _details(health, [event["arn"] for event in events])
    entities = await asyncio.gather(*(_entities(health, event["arn"]) for event in events))
    for event, affected in zip(events, entities, strict=True):
        detail = details.get(event["arn"], {})
        event["description"] = detail.get("eventDescription", {}).get("latestDescription", "")
        event["metadata"] = detail.get("eventMetadata", {})
        event["entities"] = affected
    return events


HEALTH_COLLECTORS = [
    Collector(
        key="health.events",
        fetch=fetch_health_events,
        evidence=True,
        description="health:DescribeEvents (RISK, ABUSE; open, upcoming) with details and affected entities",
        push_freshness=timedelta(hours=1),  # AWS Health events are pushed on every support plan
    ),
]
