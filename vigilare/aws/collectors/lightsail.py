"""Lightsail instances per region offering Lightsail, with the region's first Lightsail use.

Lightsail virtual private servers are cheap, quick to create in bulk and billed apart from EC2:
stolen keys use them for spam, proxies and small-scale mining where nobody looks. Lightsail
``GetInstances`` (https://docs.aws.amazon.com/lightsail/2016-11-28/api-reference/API_GetInstances.html)
answers the region's instances with ``createdAt``, ``bundleId`` and ``hardware``. Lightsail is offered
in fewer regions than EC2 (botocore's endpoint data, as for SES): elsewhere nothing is called and
nothing is recorded, since there is nothing to read.

The region's first Lightsail instance ever seen is kept in the scan state (instances deleted since
still count as use), as ``ec2.compute_capacity`` keeps the first EC2 use.

Freshness: hourly. Lightsail has no GPU bundle (its largest has 16 vCPUs), so what it hosts hurts
through numbers and abuse reports, not in minutes; one call per Lightsail region an hour.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session

from vigilare.plugin import Collector, CollectorContext, as_datetime

LIGHTSAIL_EVERY = timedelta(hours=1)


@functools.cache
def lightsail_regions() -> frozenset[str]:
    """Regions where AWS offers Lightsail (botocore's endpoint data)."""
    return frozenset(botocore.session.get_session().get_available_regions("lightsail"))


async def fetch_lightsail_instances(ctx: CollectorContext) -> dict[str, Any] | None:
    """``{"instances": [{"Name", "Arn", "CreatedAt", "BundleId", "BlueprintId", "State", "CpuCount",
    "RamSizeInGb"}], "region_first_seen", "watched_since"}``; None where Lightsail is not offered."""
    if ctx.region not in lightsail_regions():
        return None
    answered = await ctx.paginate("lightsail", "get_instances", "instances")
    instances = []
    for instance in answered:
        created = as_datetime(instance.get("createdAt"))
        hardware = instance.get("hardware") or {}
        instances.append(
            {
                "Name": instance.get("name", ""),
                "Arn": instance.get("arn"),
                "CreatedAt": created.isoformat() if created else None,
                "BundleId": instance.get("bundleId"),
                "BlueprintId": instance.get("blueprintId"),
                "State": (instance.get("state") or {}).get("name", ""),
                "CpuCount": hardware.get("cpuCount"),
                "RamSizeInGb": hardware.get("ramSizeInGb"),
            }
        )
    previous = ctx.previous_state if isinstance(ctx.previous_state, dict) else {}
    moments = [as_datetime(previous.get("first_seen"))]
    moments += [as_datetime(instance["CreatedAt"]) for instance in instances]
    known = [moment for moment in moments if moment is not None]
    first_seen = min(known) if known else None
    watched_since = as_datetime(previous.get("watched_since")) or datetime.now(UTC)
    ctx.save_state(
        {
            "first_seen": first_seen.isoformat() if first_seen else None,
            "watched_since": watched_since.isoformat(),
        }
    )
    return {
        "instances": instances,
        "region_first_seen": first_seen.isoformat() if first_seen else None,
        "watched_since": watched_since.isoformat(),
    }


LIGHTSAIL_COLLECTORS = [
    Collector(
        key="lightsail.instances",
        fetch=fetch_lightsail_instances,
        regional=True,
        evidence=True,
        description=(
            "lightsail:GetInstances in each region offering Lightsail, with the region's first Lightsail "
            "use kept in the scan state, hourly"
        ),
        freshness=LIGHTSAIL_EVERY,
    ),
]
