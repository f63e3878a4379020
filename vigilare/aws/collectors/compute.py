"""Compute capacity per enabled region: instances with their vCPUs and accelerators, spot requests,
and since when the account has used the region (its baseline, kept in the scan state)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from vigilare.plugin import Collector, CollectorContext, as_datetime

_TYPES_PER_CALL = 100  # DescribeInstanceTypes accepts at most 100 names
_USED_STATES = {"pending", "running", "stopping", "stopped"}

SPOT_EVERY = timedelta(hours=1)


def iso_or_none(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _accelerators(info: dict[str, Any]) -> str | None:
    """What accelerates an instance type, in words ("4 x NVIDIA V100"), or None."""
    for section, list_key in (
        ("GpuInfo", "Gpus"),
        ("InferenceAcceleratorInfo", "Accelerators"),
        ("NeuronInfo", "NeuronDevices"),
    ):
        devices = (info.get(section) or {}).get(list_key) or []
        if devices:
            return ", ".join(
                " ".join(
                    part
                    for part in (
                        f"{device.get('Count', 1)} x",
                        device.get("Manufacturer"),
                        device.get("Name"),
                    )
                    if part
                )
                for device in devices
            )
    return None


def _described(info: dict[str, Any]) -> dict[str, Any]:
    return {"vcpus": (info.get("VCpuInfo") or {}).get("DefaultVCpus"), "accelerators": _accelerators(info)}


async def describe_instance_types(ctx: CollectorContext, names: list[str]) -> dict[str, dict[str, Any]]:
    """vCPUs and accelerators per instance type. AWS refuses a whole call when one name is unknown
    in the region, so a refused batch is asked again one type at a time."""
    described: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), _TYPES_PER_CALL):
        chunk = names[start : start + _TYPES_PER_CALL]
        try:
            types = await ctx.paginate("ec2", "describe_instance_types", "InstanceTypes", InstanceTypes=chunk)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvalidInstanceType":
                raise
            types = []
            for name in chunk:
                try:
                    types += await ctx.paginate(
                        "ec2", "describe_instance_types", "InstanceTypes", InstanceTypes=[name]
                    )
                except ClientError as single:
                    if single.response.get("Error", {}).get("Code") != "InvalidInstanceType":
                        raise
                    # Unknown here: the scenario judges it by its family and size names instead.
        described.update({info["InstanceType"]: _described(info) for info in types})
    return described


def vcpus_from_size(instance_type: str) -> int | None:
    """vCPUs implied by the size name ("16xlarge" is 64 on current families), when AWS did not say."""
    size = instance_type.split(".", 1)[1] if "." in instance_type else ""
    if size == "xlarge":
        return 4
    if size.endswith("xlarge") and size[: -len("xlarge")].isdigit():
        return 4 * int(size[: -len("xlarge")])
    return None


async def fetch_compute_capacity(ctx: CollectorContext) -> dict[str, Any]:
    """``{"instances", "spot_requests", "region_first_seen", "watched_since"}`` for the region."""
    reservations = await ctx.paginate("ec2", "describe_instances", "Reservations")
    raw_instances = [
        instance for reservation in reservations for instance in reservation.get("Instances", [])
    ]
    previous_state = ctx.previous_state or {}
    spot_requests = previous_state.get("spot_requests")
    spot_read_at = as_datetime(previous_state.get("spot_read_at"))
    now = datetime.now(UTC)
    # Open spot requests are intent, not use (a fulfilled one is an instance above): read hourly.
    if (
        ctx.full
        or not isinstance(spot_requests, list)
        or spot_read_at is None
        or now - spot_read_at >= SPOT_EVERY
    ):
        spot_requests = await ctx.paginate("ec2", "describe_spot_instance_requests", "SpotInstanceRequests")
        spot_requests = [
            {
                "SpotInstanceRequestId": request["SpotInstanceRequestId"],
                "State": request.get("State", ""),
                "LaunchSpecification": {
                    "InstanceType": (request.get("LaunchSpecification") or {}).get("InstanceType")
                },
                "InstanceId": request.get("InstanceId"),
                "CreateTime": iso_or_none(as_datetime(request.get("CreateTime"))),
            }
            for request in spot_requests
        ]
        spot_read_at = now
    type_names = sorted({instance["InstanceType"] for instance in raw_instances})
    types = await describe_instance_types(ctx, type_names)

    instances = []
    used_since: list[datetime] = []
    for instance in raw_instances:
        state = (instance.get("State") or {}).get("Name", "")
        launched = as_datetime(instance.get("LaunchTime"))
        described = types.get(instance["InstanceType"], {})
        instances.append(
            {
                "InstanceId": instance["InstanceId"],
                "InstanceType": instance["InstanceType"],
                "State": state,
                "LaunchTime": launched.isoformat() if launched else None,
                "VCpus": described.get("vcpus") or vcpus_from_size(instance["InstanceType"]),
                "Accelerators": described.get("accelerators"),
                "Lifecycle": instance.get("InstanceLifecycle", "on-demand"),
            }
        )
        if state in _USED_STATES and launched:
            used_since.append(launched)
    requests = []
    for request in spot_requests:
        created = as_datetime(request.get("CreateTime"))
        requests.append(
            {
                "SpotInstanceRequestId": request["SpotInstanceRequestId"],
                "State": request.get("State", ""),
                "InstanceType": (request.get("LaunchSpecification") or {}).get("InstanceType"),
                "InstanceId": request.get("InstanceId"),
                "CreateTime": created.isoformat() if created else None,
            }
        )

    # The region's baseline starts at the earliest instance ever seen there: remembered, since
    # instances that ran here last month may be gone today. (Spot requests do not count: an open
    # request is intent, not use.)
    previous = as_datetime(previous_state.get("first_seen"))
    candidates = [moment for moment in (previous, *used_since) if moment is not None]
    first_seen = min(candidates) if candidates else None
    # Since when Vigilare has watched this region: launches after that are launches it saw happen.
    watched_since = as_datetime(previous_state.get("watched_since")) or datetime.now(UTC)
    ctx.save_state(
        {
            "first_seen": first_seen.isoformat() if first_seen else None,
            "watched_since": watched_since.isoformat(),
            "spot_requests": spot_requests,
            "spot_read_at": spot_read_at.isoformat(),
        }
    )
    return {
        "instances": instances,
        "spot_requests": requests,
        "region_first_seen": first_seen.isoformat() if first_seen else None,
        "watched_since": watched_since.isoformat(),
    }


COMPUTE_COLLECTORS = [
    Collector(
        key="ec2.compute_capacity",
        fetch=fetch_compute_capacity,
        regional=True,
        evidence=True,
        description=(
            "ec2:DescribeInstances, DescribeInstanceTypes (vCPUs, GPUs) and DescribeSpotInstanceRequests, "
            "with the region's first use kept in the scan state"
        ),
    ),
]
