"""EC2 Fleet and Spot Fleet requests per enabled region: the capacity they ask for, in instance types
(with vCPUs and accelerators, as the compute collector judges instances) and target capacity.

A fleet launches and relaunches instances until it is deleted or cancelled: an attacker with stolen
keys asks for GPU capacity this way as often as with single instances. ``ec2:DescribeFleets``
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeFleets.html) and
``ec2:DescribeSpotFleetRequests``
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSpotFleetRequests.html) list the
requests with their launch template overrides or launch specifications; a launch template whose
instance type is not overridden is read with ``ec2:DescribeLaunchTemplateVersions``
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeLaunchTemplateVersions.html),
one call per template of an open fleet, at most ``MAX_TEMPLATES`` per region. Attribute-based
fleets (``InstanceRequirements``) are judged by their accelerator count and minimum vCPUs.

Freshness: hourly. A fleet request is intent; the instances it launches appear in
``ec2.compute_capacity`` (read at every scan) as soon as they run, so an hour's delay on the request
itself costs nothing, while two to three calls per region at every scan would cost the account's
API budget (and issue 16's 40-call steady state) for nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from vigilare.aws.collectors.compute import describe_instance_types, iso_or_none, vcpus_from_size
from vigilare.plugin import Collector, CollectorContext, as_datetime

FLEETS_EVERY = timedelta(hours=1)
MAX_TEMPLATES = 10
# Fleets that can still launch capacity (the API references' state lists); deleted_running and
# cancelled_running fleets launch nothing more, and their running instances are instances.
OPEN_FLEET_STATES = {"submitted", "active", "modifying"}


def _template_key(spec: dict[str, Any]) -> str | None:
    return spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName")


def _requirements(requirements: dict[str, Any] | None) -> dict[str, Any] | None:
    """What attribute-based selection asks for: accelerators (a minimum count, or accelerator types
    that "must be on the instance type") and a minimum of vCPUs
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceRequirements.html)."""
    if not requirements:
        return None
    count = requirements.get("AcceleratorCount") or {}
    types = list(requirements.get("AcceleratorTypes") or [])
    return {
        "Accelerated": (count.get("Min") or 0) >= 1 or (bool(types) and count.get("Max") != 0),
        "AcceleratorTypes": types,
        "MinVCpus": (requirements.get("VCpuCount") or {}).get("Min"),
    }


def _launch_choices(
    configs: list[dict[str, Any]], specifications: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each way the fleet may launch an instance: ``{"InstanceType", "Template", "Version",
    "Requirements", "Weight"}`` (type None when the launch template names it)."""
    choices: list[dict[str, Any]] = []
    for specification in specifications:  # Spot Fleet launch specifications name their type
        choices.append(
            {
                "InstanceType": specification.get("InstanceType"),
                "Template": None,
                "Version": None,
                "Requirements": _requirements(specification.get("InstanceRequirements")),
                "Weight": specification.get("WeightedCapacity"),
            }
        )
    for config in configs:
        spec = config.get("LaunchTemplateSpecification") or {}
        template, version = _template_key(spec), str(spec.get("Version") or "$Default")
        overrides = config.get("Overrides") or [{}]
        for override in overrides:
            choices.append(
                {
                    "InstanceType": override.get("InstanceType"),
                    "Template": template,
                    "Version": version,
                    "Requirements": _requirements(override.get("InstanceRequirements")),
                    "Weight": override.get("WeightedCapacity"),
                }
            )
    return choices


def _ec2_fleet(fleet: dict[str, Any]) -> dict[str, Any]:
    target = fleet.get("TargetCapacitySpecification") or {}
    return {
        "FleetId": fleet["FleetId"],
        "Kind": "EC2 Fleet",
        "State": fleet.get("FleetState", ""),
        "Type": fleet.get("Type", "maintain"),
        "CreateTime": iso_or_none(as_datetime(fleet.get("CreateTime"))),
        "TargetCapacity": target.get("TotalTargetCapacity") or 0,
        "CapacityUnit": target.get("TargetCapacityUnitType") or "units",
        "Choices": _launch_choices(fleet.get("LaunchTemplateConfigs") or [], []),
    }


def _spot_fleet(request: dict[str, Any]) -> dict[str, Any]:
    config = request.get("SpotFleetRequestConfig") or {}
    return {
        "FleetId": request["SpotFleetRequestId"],
        "Kind": "Spot Fleet",
        "State": request.get("SpotFleetRequestState", ""),
        "Type": config.get("Type", "maintain"),
        "CreateTime": iso_or_none(as_datetime(request.get("CreateTime"))),
        "TargetCapacity": config.get("TargetCapacity") or 0,
        "CapacityUnit": config.get("TargetCapacityUnitType") or "units",
        "Choices": _launch_choices(
            config.get("LaunchTemplateConfigs") or [], config.get("LaunchSpecifications") or []
        ),
    }


async def _template_types(
    ctx: CollectorContext, wanted: dict[str, set[str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(template, version asked): LaunchTemplateData}`` for the templates open fleets launch from."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for index, (template, versions) in enumerate(sorted(wanted.items())):
        if index >= MAX_TEMPLATES:
            ctx.record_error(f"launch-template/{template}", f"more than {MAX_TEMPLATES} launch templates")
            continue
        by = {"LaunchTemplateId" if template.startswith("lt-") else "LaunchTemplateName": template}
        answered = await ctx.paginate(
            "ec2",
            "describe_launch_template_versions",
            "LaunchTemplateVersions",
            Versions=sorted(versions),
            **by,
        )
        for version in answered:
            data = version.get("LaunchTemplateData") or {}
            number = str(version.get("VersionNumber"))
            found[(template, number)] = data
            if version.get("DefaultVersion"):
                found[(template, "$Default")] = data
        if answered:
            # $Latest is the highest version number AWS answered for the template.
            latest = max(answered, key=lambda version: int(version.get("VersionNumber") or 0))
            found[(template, "$Latest")] = latest.get("LaunchTemplateData") or {}
    return found


async def fetch_fleet_requests(ctx: CollectorContext) -> list[dict[str, Any]]:
    """The region's EC2 Fleets and Spot Fleet requests, each with ``FleetId``, ``Kind``, ``State``,
    ``CreateTime``, ``TargetCapacity``, ``CapacityUnit`` (units, vcpu or memory-mib) and
    ``InstanceTypes``: ``[{"InstanceType", "VCpus", "Accelerators", "Weight"}]``, or attribute-based
    ``Requirements``."""
    fleets = [_ec2_fleet(fleet) for fleet in await ctx.paginate("ec2", "describe_fleets", "Fleets")]
    fleets += [
        _spot_fleet(request)
        for request in await ctx.paginate("ec2", "describe_spot_fleet_requests", "SpotFleetRequestConfigs")
    ]
    wanted: dict[str, set[str]] = {}
    for fleet in fleets:
        if fleet["State"] not in OPEN_FLEET_STATES:
            continue
        for choice in fleet["Choices"]:
            if choice["InstanceType"] is None and choice["Requirements"] is None and choice["Template"]:
                wanted.setdefault(choice["Template"], set()).add(choice["Version"])
    templates = await _template_types(ctx, wanted) if wanted else {}
    for fleet in fleets:
        for choice in fleet["Choices"]:
            if choice["InstanceType"] is None and choice["Requirements"] is None and choice["Template"]:
                data = templates.get((choice["Template"], choice["Version"])) or {}
                choice["InstanceType"] = data.get("InstanceType")
                choice["Requirements"] = _requirements(data.get("InstanceRequirements"))
    names = sorted(
        {
            choice["InstanceType"]
            for fleet in fleets
            if fleet["State"] in OPEN_FLEET_STATES
            for choice in fleet["Choices"]
            if choice["InstanceType"]
        }
    )
    described = await describe_instance_types(ctx, names) if names else {}
    for fleet in fleets:
        types = []
        for choice in fleet.pop("Choices"):
            name = choice["InstanceType"]
            hardware = described.get(name, {}) if name else {}
            types.append(
                {
                    "InstanceType": name,
                    "VCpus": hardware.get("vcpus") or (vcpus_from_size(name) if name else None),
                    "Accelerators": hardware.get("accelerators"),
                    "Weight": choice["Weight"],
                    "Requirements": choice["Requirements"],
                }
            )
        fleet["InstanceTypes"] = types
    return fleets


FLEET_COLLECTORS = [
    Collector(
        key="ec2.fleet_requests",
        fetch=fetch_fleet_requests,
        regional=True,
        evidence=True,
        description=(
            "ec2:DescribeFleets, DescribeSpotFleetRequests, DescribeLaunchTemplateVersions (instance types "
            "of open fleets' launch templates) and DescribeInstanceTypes, hourly"
        ),
        freshness=FLEETS_EVERY,
    ),
]
