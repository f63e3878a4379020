"""The ``compute`` scenario's judgement of EC2 Fleet and Spot Fleet requests (``ec2.fleet_requests``).

An open fleet that may launch GPU/accelerated or >= 64 vCPU instances, created in a region the
account had not used for 30 days (and created within the last 24 h, or after Vigilare started
watching the region): CRITICAL, like the instances themselves, because an unfulfilled fleet keeps
retrying until capacity or quota lets it launch. The same fleet in a region with a baseline, created
in the last 24 h and asking for a large fleet (>= 256 vCPUs or >= 8 instances): HIGH.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from vigilare.plugin import Finding, Scenario, Severity, as_datetime, hours_ago, minute_of
from vigilare.scenarios.builtin.mining import LARGE_INSTANCE_VCPUS, is_mining_capable

OPEN_FLEET_STATES = {"submitted", "active", "modifying"}
LARGE_FLEET_VCPUS = 256
LARGE_FLEET_INSTANCES = 8
RECENT = timedelta(hours=24)
FLEET_DOCS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/manage-ec2-fleet.html"
SPOT_FLEET_DOCS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/cancel-spot-fleet.html"


def mining_choices(fleet: dict[str, Any]) -> list[str]:
    """The fleet's launch choices able to mine, in words ("p3.8xlarge (4 x NVIDIA V100)")."""
    able = []
    for choice in fleet.get("InstanceTypes", []):
        requirements = choice.get("Requirements") or {}
        if requirements.get("Accelerated"):
            able.append("any instance type with accelerators (attribute-based)")
        elif (requirements.get("MinVCpus") or 0) >= LARGE_INSTANCE_VCPUS:
            able.append(f"any instance type with >= {requirements['MinVCpus']} vCPUs (attribute-based)")
        elif choice.get("InstanceType") and is_mining_capable(choice):
            hardware = choice.get("Accelerators") or (
                f"{choice['VCpus']} vCPUs" if choice.get("VCpus") else "accelerated family"
            )
            able.append(f"{choice.get('InstanceType')} ({hardware})")
    return sorted(set(able))


def requested_vcpus(fleet: dict[str, Any]) -> int | None:
    """At least how many vCPUs the fleet's target capacity asks for (its smallest choice), if known."""
    target = fleet.get("TargetCapacity") or 0
    unit = fleet.get("CapacityUnit") or "units"
    if unit == "vcpu":
        return int(target)
    if unit != "units":
        return None
    per_unit = [
        (choice.get("VCpus") or (choice.get("Requirements") or {}).get("MinVCpus") or 0)
        / float(choice.get("Weight") or 1)
        for choice in fleet.get("InstanceTypes", [])
    ]
    known = [value for value in per_unit if value > 0]
    return int(target * min(known)) if known else None


def _fleet_arn(account: str, region: str, fleet: dict[str, Any]) -> str:
    kind = "fleet" if fleet.get("Kind") == "EC2 Fleet" else "spot-fleet-request"
    return f"arn:aws:ec2:{region}:{account}:{kind}/{fleet['FleetId']}"


def _act_on(region: str, fleet: dict[str, Any]) -> list[str]:
    return [f"{fleet.get('Kind', 'fleet')} {fleet['FleetId']} in {region}"]


def _cancel_advice(fleet: dict[str, Any]) -> str:
    if fleet.get("Kind") == "EC2 Fleet":
        return f"aws ec2 delete-fleets --fleet-ids {fleet['FleetId']} --terminate-instances"
    return (
        f"aws ec2 cancel-spot-fleet-requests --spot-fleet-request-ids {fleet['FleetId']} "
        "--terminate-instances"
    )


def fleet_findings(
    scenario: Scenario,
    account: str,
    region: str,
    fleets: list[dict[str, Any]],
    baselined_at: Any,
    watched_since: datetime | None,
    now: datetime,
) -> list[Finding]:
    """Findings for the region's open fleets; ``baselined_at(moment)`` says whether the region had a
    30-day baseline at that moment (the compute scenario's rule)."""
    findings = []
    for fleet in fleets:
        created = as_datetime(fleet.get("CreateTime"))
        able = mining_choices(fleet)
        if fleet.get("State") not in OPEN_FLEET_STATES or created is None or not able:
            continue
        recent = now - created <= RECENT
        seen_created = watched_since is not None and created >= watched_since - RECENT
        vcpus = requested_vcpus(fleet)
        target = fleet.get("TargetCapacity") or 0
        asks = f"target capacity {target} {fleet.get('CapacityUnit') or 'units'}" + (
            f" (at least {vcpus} vCPUs)" if vcpus and fleet.get("CapacityUnit") != "vcpu" else ""
        )
        details = {
            "fleet": fleet,
            "mining_capable": able,
            "requested_vcpus": vcpus,
            "act_on": _act_on(region, fleet),
        }
        docs = FLEET_DOCS if fleet.get("Kind") == "EC2 Fleet" else SPOT_FLEET_DOCS
        remediation = (
            f"If you did not create it, delete the request and its instances ({_cancel_advice(fleet)}), "
            "then find the access key that created it in CloudTrail and deactivate it."
        )
        if not baselined_at(created) and (recent or seen_created):
            findings.append(
                scenario.finding(
                    kind="fleet_request_new_region",
                    severity=Severity.CRITICAL,
                    title=(
                        f"{fleet.get('Kind')} {fleet['FleetId']} asks for GPU or very large instances in "
                        f"{region}, a region this account has not been using"
                    ),
                    description=(
                        f"{fleet.get('Kind')} {fleet['FleetId']} ({fleet.get('State')}, created "
                        f"{minute_of(created)}, {hours_ago(created, now)}) asks for {asks} of "
                        f"{'; '.join(able)} in {region}, where this account had no 30-day baseline. A "
                        "fleet keeps launching until its target is met: this is how stolen keys mine "
                        "crypto-currency."
                    ),
                    resource=_fleet_arn(account, region, fleet),
                    region=region,
                    remediation=remediation,
                    docs_url=docs,
                    details=details,
                )
            )
        elif recent and (
            (vcpus or 0) >= LARGE_FLEET_VCPUS
            or (fleet.get("CapacityUnit") in (None, "units") and target >= LARGE_FLEET_INSTANCES)
        ):
            findings.append(
                scenario.finding(
                    kind="large_fleet_request",
                    severity=Severity.HIGH,
                    title=(
                        f"Large {fleet.get('Kind')} {fleet['FleetId']} of GPU or very large instances "
                        f"in {region}"
                    ),
                    description=(
                        f"{fleet.get('Kind')} {fleet['FleetId']} was created {hours_ago(created, now)} in "
                        f"{region} and asks for {asks} of {'; '.join(able)}. The account works in {region}, "
                        "so this may be planned: confirm the fleet is yours, and delete it if not."
                    ),
                    resource=_fleet_arn(account, region, fleet),
                    region=region,
                    remediation=remediation,
                    docs_url=docs,
                    details=details,
                )
            )
    return findings
