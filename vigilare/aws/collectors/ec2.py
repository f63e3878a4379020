"""EC2 collectors, run in every enabled region."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from vigilare.plugin import Collector, CollectorContext


async def fetch_security_groups(ctx: CollectorContext) -> list[dict[str, Any]]:
    return await ctx.paginate("ec2", "describe_security_groups", "SecurityGroups")


async def fetch_network_interfaces(ctx: CollectorContext) -> list[dict[str, Any]]:
    return await ctx.paginate("ec2", "describe_network_interfaces", "NetworkInterfaces")


async def fetch_instances(ctx: CollectorContext) -> list[dict[str, Any]]:
    """Instances of every state, flattened out of their reservations."""
    reservations = await ctx.paginate("ec2", "describe_instances", "Reservations")
    return [instance for reservation in reservations for instance in reservation.get("Instances", [])]


EC2_COLLECTORS = [
    Collector(
        key="ec2.security_groups",
        fetch=fetch_security_groups,
        regional=True,
        evidence=True,
        description="ec2:DescribeSecurityGroups",
        freshness=timedelta(hours=1),
    ),
    Collector(
        key="ec2.network_interfaces",
        fetch=fetch_network_interfaces,
        regional=True,
        description="ec2:DescribeNetworkInterfaces (which security groups are in use)",
        freshness=timedelta(hours=1),
    ),
    Collector(
        key="ec2.instances",
        fetch=fetch_instances,
        regional=True,
        evidence=True,
        description="ec2:DescribeInstances",
        freshness=timedelta(hours=1),
    ),
]
