"""Built-in ``compute`` scenario: crypto-mining capacity, the most common use of stolen AWS keys.

GPU / accelerated (``p*``, ``g*``, ``inf*``, ``trn*``, ``dl*``) or >= 64 vCPU instances launched in the
last 24 h in a region the account has used for less than 30 days: CRITICAL, and kept CRITICAL
while it runs when Vigilare saw it launch. The same capacity
launched in a region with a baseline: HIGH when it forms a large fleet. Open spot requests in a
region without a baseline: HIGH. A region's baseline starts at its first use ever seen (scan state).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from vigilare.plugin import (
    CollectedData,
    Finding,
    Scenario,
    Severity,
    as_datetime,
    day_of,
    has_baseline,
    hookimpl,
    hours_ago,
    minute_of,
)
from vigilare.scenarios.builtin.compute_fleets import fleet_findings
from vigilare.scenarios.builtin.compute_quotas import lightsail_findings, quota_findings
from vigilare.scenarios.builtin.mining import ACCELERATED_FAMILIES as ACCELERATED_FAMILIES
from vigilare.scenarios.builtin.mining import LARGE_INSTANCE_VCPUS as LARGE_INSTANCE_VCPUS
from vigilare.scenarios.builtin.mining import describe_instance, is_mining_capable
from vigilare.scenarios.builtin.mining import family_of as family_of
from vigilare.scenarios.builtin.mining import is_accelerated as is_accelerated

RECENT_LAUNCH = timedelta(hours=24)
# A fleet of big instances launched within a day, even where the account normally works.
LARGE_FLEET_INSTANCES = 8
LARGE_FLEET_VCPUS = 256
ACTIVE_STATES = {"pending", "running"}
OPEN_SPOT_STATES = {"open", "active"}
TERMINATE_DOCS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html"
SPOT_DOCS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-spot-instances-request.html"


def _mining_launched(capacity: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The region's running GPU or very large instances launched in the last 24 hours."""
    launched = []
    for instance in capacity.get("instances", []):
        moment = as_datetime(instance.get("LaunchTime"))
        recent = moment is not None and now - moment <= RECENT_LAUNCH
        if instance.get("State") in ACTIVE_STATES and recent and is_mining_capable(instance):
            launched.append(instance)
    return launched


def _instances_in(region: str, instances: list[dict[str, Any]]) -> list[str]:
    """Each instance to terminate, by id, type and region (the recovery checklist names these)."""
    return [
        f"instance {instance['InstanceId']} ({instance['InstanceType']}) in {region}"
        for instance in instances
    ]


class ComputeScenario(Scenario):
    id = "compute"
    title = "GPU and large compute capacity that looks like crypto-mining"
    requires = (
        "ec2.compute_capacity",
        "ec2.fleet_requests",
        "servicequotas.ec2_requests",
        "lightsail.instances",
    )
    emits = {
        "gpu_capacity_new_region": (Severity.CRITICAL,),
        "large_fleet": (Severity.HIGH,),
        "spot_requests": (Severity.HIGH,),
        "fleet_request_new_region": (Severity.CRITICAL,),
        "large_fleet_request": (Severity.HIGH,),
        "quota_increase_request": (Severity.HIGH, Severity.MEDIUM),
        "lightsail_instances": (Severity.HIGH,),
    }
    # Instances are read at every scan; fleet requests, quota requests and Lightsail hourly, judged
    # against the same region baseline (kept by ec2.compute_capacity).
    kind_requires = {
        "gpu_capacity_new_region": ("ec2.compute_capacity",),
        "large_fleet": ("ec2.compute_capacity",),
        "spot_requests": ("ec2.compute_capacity",),
        "fleet_request_new_region": ("ec2.compute_capacity", "ec2.fleet_requests"),
        "large_fleet_request": ("ec2.compute_capacity", "ec2.fleet_requests"),
        "quota_increase_request": ("ec2.compute_capacity", "servicequotas.ec2_requests"),
        "lightsail_instances": ("ec2.compute_capacity", "lightsail.instances"),
    }
    remediation = (
        "If you did not launch these instances, terminate them, cancel the spot requests that launch "
        "them, and check AMIs, snapshots, key pairs and launch templates in the same region; then "
        "rotate the access keys that were used (find them in CloudTrail)."
    )
    docs_url = TERMINATE_DOCS

    async def detect(self, data: CollectedData) -> list[Finding]:
        findings: list[Finding] = []
        fleets = data.per_region("ec2.fleet_requests")
        quotas = data.per_region("servicequotas.ec2_requests")
        lightsail = data.per_region("lightsail.instances")
        account, now = data.account_id, data.collected_at
        for region, capacity in sorted(data.per_region("ec2.compute_capacity").items()):
            findings += self._region(account, region, capacity, now)
            first_seen = as_datetime(capacity.get("region_first_seen"))

            def baseline(moment: datetime, first_seen: datetime | None = first_seen) -> bool:
                return has_baseline(first_seen, moment)

            watched_since = as_datetime(capacity.get("watched_since"))
            if fleets.get(region) is not None:
                findings += fleet_findings(
                    self, account, region, fleets[region], baseline, watched_since, now
                )
            if quotas.get(region) is not None:
                mining = [describe_instance(instance) for instance in _mining_launched(capacity, now)]
                findings += quota_findings(self, account, region, quotas[region], baseline, mining, now)
            if lightsail.get(region) is not None:
                findings += lightsail_findings(self, account, region, lightsail[region], baseline, now)
        return findings

    def _region(self, account: str, region: str, capacity: dict[str, Any], now: datetime) -> list[Finding]:
        first_seen = as_datetime(capacity.get("region_first_seen"))
        watched_since = as_datetime(capacity.get("watched_since"))

        baselined = has_baseline(first_seen, now)
        new_region: list[tuple[datetime, dict[str, Any]]] = []
        fleet: list[tuple[datetime, dict[str, Any]]] = []
        for instance in capacity.get("instances", []):
            launched = as_datetime(instance.get("LaunchTime"))
            if not (instance.get("State") in ACTIVE_STATES and launched and is_mining_capable(instance)):
                continue
            recent = now - launched <= RECENT_LAUNCH
            # Once flagged, capacity stays flagged while it runs: a launch Vigilare saw happen (within
            # a day before it started watching the region, or after) keeps its finding past 24 h.
            seen_launching = watched_since is not None and launched >= watched_since - RECENT_LAUNCH
            if not has_baseline(first_seen, launched) and (recent or seen_launching):
                new_region.append((launched, instance))
            elif recent:
                fleet.append((launched, instance))
        new_region.sort(key=lambda item: item[0])
        fleet.sort(key=lambda item: item[0])
        findings = []
        if new_region:
            findings.append(self._new_region_capacity(account, region, new_region, first_seen, now))
        vcpus = sum(instance.get("VCpus") or 0 for _, instance in fleet)
        if fleet and (len(fleet) >= LARGE_FLEET_INSTANCES or vcpus >= LARGE_FLEET_VCPUS):
            findings.append(self._large_fleet(account, region, fleet, vcpus, first_seen, now))
        if not baselined:
            spot = [
                request
                for request in capacity.get("spot_requests", [])
                if request.get("State") in OPEN_SPOT_STATES
            ]
            if spot:
                findings.append(self._spot_requests(account, region, spot, first_seen))
        return findings

    def _new_region_capacity(
        self,
        account: str,
        region: str,
        recent: list[tuple[datetime, dict[str, Any]]],
        first_seen: datetime | None,
        now: datetime,
    ) -> Finding:
        first_launch = recent[0][0]
        listed = "; ".join(describe_instance(instance) for _, instance in recent[:10])
        more = f" and {len(recent) - 10} more" if len(recent) > 10 else ""
        used_since = f"since {day_of(first_seen)}" if first_seen else "never before"
        return self.finding(
            kind="gpu_capacity_new_region",
            severity=Severity.CRITICAL,
            title=(
                f"{len(recent)} GPU or very large instance(s) launched in {region}, a region this "
                "account has not been using"
            ),
            description=(
                f"{len(recent)} instance(s) able to mine crypto-currency are running in {region}, "
                f"the first launched at {minute_of(first_launch)} ({hours_ago(first_launch, now)}): "
                f"{listed}{more}. When they started, this account had used {region} only "
                f"{used_since}, less than 30 days. This is the usual sign of stolen AWS keys. If nobody "
                "on your team launched them, terminate them now and cancel any spot requests there."
            ),
            resource=f"arn:aws:ec2:{region}:{account}:capacity/mining-capable",
            region=region,
            details={
                "instances": [instance for _, instance in recent],
                "region_first_seen": first_seen.isoformat() if first_seen else None,
                "act_on": _instances_in(region, [instance for _, instance in recent]),
            },
        )

    def _large_fleet(
        self,
        account: str,
        region: str,
        recent: list[tuple[datetime, dict[str, Any]]],
        vcpus: int,
        first_seen: datetime | None,
        now: datetime,
    ) -> Finding:
        first_launch = recent[0][0]
        return self.finding(
            kind="large_fleet",
            severity=Severity.HIGH,
            title=f"Large fleet of {len(recent)} GPU or very large instances launched in {region} today",
            description=(
                f"{len(recent)} GPU or >= 64 vCPU instances ({vcpus} vCPUs in all) were launched in {region} "
                f"in the last 24 hours, the first at {minute_of(first_launch)} "
                f"({hours_ago(first_launch, now)}). "
                f"The account has used {region} since {day_of(first_seen) if first_seen else 'unknown'}, "
                "so this may be planned work: confirm the fleet is yours, and terminate it if not."
            ),
            resource=f"arn:aws:ec2:{region}:{account}:capacity/large-fleet",
            region=region,
            details={
                "instances": [instance for _, instance in recent],
                "total_vcpus": vcpus,
                "act_on": _instances_in(region, [instance for _, instance in recent]),
            },
        )

    def _spot_requests(
        self, account: str, region: str, requests: list[dict[str, Any]], first_seen: datetime | None
    ) -> Finding:
        created = sorted(filter(None, (as_datetime(request.get("CreateTime")) for request in requests)))
        since = f" since {minute_of(created[0])}" if created else ""
        used = f"since {day_of(first_seen)}" if first_seen else "no earlier use seen"
        types = sorted(
            {str(request.get("InstanceType")) for request in requests if request.get("InstanceType")}
        )
        return self.finding(
            kind="spot_requests",
            severity=Severity.HIGH,
            title=(
                f"{len(requests)} open spot request(s) in {region}, a region this account has not been using"
            ),
            description=(
                f"{len(requests)} spot instance request(s) are open or active in {region}{since} "
                f"(instance types: {', '.join(types) or 'unknown'}). The account has used {region} "
                f"for less than 30 days ({used}). Spot "
                "requests keep relaunching instances after they are terminated: cancel the requests you "
                "did not make first, then terminate their instances."
            ),
            resource=f"arn:aws:ec2:{region}:{account}:spot-requests",
            region=region,
            remediation=(
                "Cancel the spot requests you did not make (ec2:CancelSpotInstanceRequests), then terminate "
                "the instances they launched and rotate the keys that created them."
            ),
            docs_url=SPOT_DOCS,
            details={
                "spot_requests": requests,
                "act_on": [
                    f"spot request {request.get('SpotInstanceRequestId')} in {region}" for request in requests
                ],
            },
        )


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [ComputeScenario]
