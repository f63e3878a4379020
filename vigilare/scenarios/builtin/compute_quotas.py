"""The ``compute`` scenario's judgement of EC2 vCPU quota increase requests
(``servicequotas.ec2_requests``) and Lightsail instances (``lightsail.instances``).

Quota requests come before a mining burst: a new account's GPU quota is 0 or a few vCPUs, so stolen
keys ask for more first. A request of the last 7 days (any status but ``INVALID_REQUEST``) for a
GPU/accelerated family's quota (G and VT, P, Inf, Trn, DL; on-demand or spot): MEDIUM where the
account works, HIGH in a region without a 30-day baseline or where mining-capable instances launched
in the last 24 h. A standard-family quota request counts in a region without a baseline, or when it
asks for >= 256 vCPUs.

Lightsail instances created in the last 24 h (or created since Vigilare started watching, while
they run) in a region where neither EC2 nor Lightsail has been used for 30 days, or 5 or more
created within 24 h anywhere: HIGH.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from vigilare.plugin import Finding, Scenario, Severity, as_datetime, has_baseline, hours_ago, minute_of

LARGE_STANDARD_VCPUS = 256
IGNORED_STATUSES = {"INVALID_REQUEST"}
RECENT = timedelta(hours=24)
LIGHTSAIL_BURST = 5
ACTIVE_LIGHTSAIL_STATES = {"pending", "running"}
QUOTA_DOCS = "https://docs.aws.amazon.com/servicequotas/latest/userguide/request-quota-increase.html"
LIGHTSAIL_DOCS = "https://docs.aws.amazon.com/lightsail/latest/userguide/delete-an-instance.html"

Baseline = Callable[[datetime], bool]


def _vcpus(value: Any) -> str:
    return f"{float(value):g}" if isinstance(value, int | float) else "?"


def quota_findings(
    scenario: Scenario,
    account: str,
    region: str,
    requests: list[dict[str, Any]],
    baselined_at: Baseline,
    mining_now: list[str],
    now: datetime,
) -> list[Finding]:
    """One finding per quota with a recent increase request (its latest), in ``region``."""
    latest: dict[str, dict[str, Any]] = {}
    for request in requests:
        if request.get("Status") in IGNORED_STATUSES or as_datetime(request.get("Created")) is None:
            continue
        code = str(request.get("QuotaCode"))
        if code not in latest or str(request["Created"]) > str(latest[code]["Created"]):
            latest[code] = request
    findings = []
    for code, request in sorted(latest.items()):
        created = as_datetime(request["Created"])
        assert created is not None
        new_region = not baselined_at(created)
        desired = request.get("DesiredValue") or 0
        if not request.get("Accelerated") and not new_region and desired < LARGE_STANDARD_VCPUS:
            continue
        reasons = []
        if new_region:
            reasons.append(f"{region} is a region this account has not been using")
        if mining_now:
            reasons.append(
                f"GPU or very large instances launched there in the last 24 hours: {', '.join(mining_now)}"
            )
        severity = Severity.HIGH if reasons else Severity.MEDIUM
        name = request.get("QuotaName") or code
        asked = f"{name}, {_vcpus(desired)} vCPUs, {request.get('Status')}"
        act_on = f"quota request {request.get('Id')} ({asked}) in {region}"
        findings.append(
            scenario.finding(
                kind="quota_increase_request",
                severity=severity,
                title=f'Increase of the EC2 quota "{name}" to {_vcpus(desired)} vCPUs requested in {region}',
                description=(
                    f"Someone asked AWS at {minute_of(created)} ({hours_ago(created, now)}) to raise the "
                    f'quota "{name}" ({code}) in {region} to {_vcpus(desired)} vCPUs; the request is '
                    f"{request.get('Status')}"
                    + (f" (support case {request['CaseId']})" if request.get("CaseId") else "")
                    + ". Stolen keys ask for GPU and vCPU quota before they launch mining fleets"
                    + (
                        f": {'; '.join(reasons)}."
                        if reasons
                        else ". If your team did not ask for it, treat the keys as stolen."
                    )
                ),
                resource=f"arn:aws:servicequotas:{region}:{account}:ec2/{code}",
                region=region,
                remediation=(
                    "If nobody on your team asked for this quota, reply to the support case to withdraw it, "
                    "find the caller of RequestServiceQuotaIncrease in CloudTrail and deactivate its keys."
                ),
                docs_url=QUOTA_DOCS,
                details={"request": request, "requested_by": request.get("Requester"), "act_on": [act_on]},
            )
        )
    return findings


def lightsail_findings(
    scenario: Scenario,
    account: str,
    region: str,
    lightsail: dict[str, Any],
    ec2_baselined_at: Baseline,
    now: datetime,
) -> list[Finding]:
    """New Lightsail instances in a region without a baseline, or a burst of them, in ``region``."""
    first_seen = as_datetime(lightsail.get("region_first_seen"))
    watched_since = as_datetime(lightsail.get("watched_since"))

    def baselined_at(moment: datetime) -> bool:
        return has_baseline(first_seen, moment) or ec2_baselined_at(moment)

    new_region, recent = [], []
    for instance in lightsail.get("instances", []):
        created = as_datetime(instance.get("CreatedAt"))
        if created is None or instance.get("State") not in ACTIVE_LIGHTSAIL_STATES:
            continue
        is_recent = now - created <= RECENT
        seen_created = watched_since is not None and created >= watched_since - RECENT
        if not baselined_at(created) and (is_recent or seen_created):
            new_region.append((created, instance))
        elif is_recent:
            recent.append((created, instance))
    if new_region:
        flagged, why = new_region, f"{region} is a region this account has not been using"
    elif len(recent) >= LIGHTSAIL_BURST:
        flagged, why = recent, f"{len(recent)} were created within 24 hours"
    else:
        return []
    flagged.sort(key=lambda item: item[0])
    listed = [
        f"Lightsail instance {instance.get('Name')} ({instance.get('BundleId')}) in {region}"
        for _, instance in flagged
    ]
    return [
        scenario.finding(
            kind="lightsail_instances",
            severity=Severity.HIGH,
            title=f"{len(flagged)} new Lightsail instance(s) in {region}: {why}",
            description=(
                f"{len(flagged)} Lightsail instance(s) were created in {region}, the first at "
                f"{minute_of(flagged[0][0])} ({hours_ago(flagged[0][0], now)}): "
                f"{', '.join(str(instance.get('Name')) for _, instance in flagged[:10])}"
                f"{' and more' if len(flagged) > 10 else ''}. {why[0].upper()}{why[1:]}. Stolen keys create "
                "Lightsail servers in bulk for spam, proxies and mining, billed apart from EC2."
            ),
            resource=f"arn:aws:lightsail:{region}:{account}:Instance/new",
            region=region,
            remediation=(
                "If nobody on your team created them, delete the instances (aws lightsail delete-instance "
                "--instance-name NAME in their region), check Lightsail key pairs and snapshots there, and "
                "deactivate the keys that created them (CloudTrail: CreateInstances)."
            ),
            docs_url=LIGHTSAIL_DOCS,
            details={"instances": [instance for _, instance in flagged], "act_on": listed},
        )
    ]
