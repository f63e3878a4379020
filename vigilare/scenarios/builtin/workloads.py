"""Built-in ``workloads`` scenario: mining capacity outside EC2 instances.

Stolen keys mine wherever compute can be launched: SageMaker notebooks, training jobs and endpoints
(whose instances never appear in the account's EC2), Batch and ECS, Lambda and Fargate. Per region:

- ``sagemaker_gpu_new_region`` (HIGH): GPU / accelerated (``ml.p*``, ``ml.g*``, ``ml.inf*``,
  ``ml.trn*``) or >= 64 vCPU SageMaker instances running in a region without a baseline. In a
  region with one, GPU notebooks and endpoints are what ML teams run: nothing is reported (a spend
  spike there is the billing scenario's to see).
- ``batch_gpu_new_region`` (HIGH): an enabled Batch compute environment able to launch GPU types or
  >= 256 vCPUs, in a region without a baseline, that is scaling now or appeared since Vigilare
  started watching the region.
- ``ecs_tasks_new_region`` (HIGH from 64 vCPUs, else MEDIUM): ECS tasks started in the last 24 hours
  (or seen starting) in a region without a baseline.
- ``lambda_burst`` / ``fargate_burst`` (HIGH): the last 24 hours' peak Lambda concurrency (at least
  ``LAMBDA_MIN_CONCURRENCY``) or Fargate vCPUs (at least ``FARGATE_MIN_VCPUS``) above
  ``SPIKE_FACTOR`` times the busiest of the 14 days before; with no use in those 14 days, the region
  is new to the workload.

A region has a baseline when the account has used it for 30 days: EC2 instances
(``ec2.compute_capacity``) or the service's own first use (the scan state of its collector). None of
these kinds caps the score: they precede an AWS abuse case, they are not one.
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
    is_accelerated_type,
    minute_of,
    region_first_use,
)

RECENT_START = timedelta(hours=24)
LARGE_INSTANCE_VCPUS = 64
LARGE_BATCH_VCPUS = 256
LARGE_TASKS_VCPUS = 64
SPIKE_FACTOR = 10.0
LAMBDA_MIN_CONCURRENCY = 100.0
FARGATE_MIN_VCPUS = 64.0
MAX_NAMED = 10
SAGEMAKER_DOCS = "https://docs.aws.amazon.com/sagemaker/latest/dg/security.html"
BATCH_DOCS = "https://docs.aws.amazon.com/batch/latest/userguide/disable-compute-environment.html"
ECS_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/standalone-task-stop.html"
LAMBDA_DOCS = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html"
FARGATE_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/monitoring-fargate-usage.html"


def mining_capable(item: dict[str, Any], min_vcpus: int = LARGE_INSTANCE_VCPUS) -> bool:
    """GPU / accelerated hardware, or a very large instance (``item``: InstanceType, VCpus, Accelerators)."""
    return (
        bool(item.get("Accelerators"))
        or is_accelerated_type(str(item.get("InstanceType", "")))
        or (item.get("VCpus") or 0) >= min_vcpus
    )


def _first_use(data: CollectedData, region: str, *values: dict[str, Any] | None) -> datetime | None:
    """Since when the account uses ``region``: its EC2 baseline or the given collectors' own."""
    return region_first_use(data.per_region("ec2.compute_capacity").get(region), *values)


def _used_since(first_use: datetime | None) -> str:
    return f"since {day_of(first_use)}" if first_use else "never before"


def _named(names: list[str]) -> str:
    more = f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else ""
    return "; ".join(names[:MAX_NAMED]) + more


class WorkloadsScenario(Scenario):
    id = "workloads"
    title = "Mining capacity outside EC2: SageMaker, Batch, ECS, Lambda and Fargate"
    requires = ("sagemaker.compute", "containers.compute", "workloads.metrics", "ec2.compute_capacity")
    emits = {
        "sagemaker_gpu_new_region": (Severity.HIGH,),
        "batch_gpu_new_region": (Severity.HIGH,),
        "ecs_tasks_new_region": (Severity.HIGH, Severity.MEDIUM),
        "lambda_burst": (Severity.HIGH,),
        "fargate_burst": (Severity.HIGH,),
    }
    kind_requires = {
        "sagemaker_gpu_new_region": ("sagemaker.compute", "ec2.compute_capacity"),
        "batch_gpu_new_region": ("containers.compute", "ec2.compute_capacity"),
        "ecs_tasks_new_region": ("containers.compute", "ec2.compute_capacity"),
        "lambda_burst": ("workloads.metrics",),
        "fargate_burst": ("workloads.metrics",),
    }
    remediation = (
        "If nobody on your team runs this, stop it (SageMaker notebooks, training jobs and endpoints; "
        "Batch compute environments; ECS tasks and services; Lambda functions), find the caller in "
        "CloudTrail and deactivate its keys."
    )
    docs_url = "https://repost.aws/knowledge-center/potential-account-compromise"

    async def detect(self, data: CollectedData) -> list[Finding]:
        findings: list[Finding] = []
        now = data.collected_at
        if "sagemaker.compute" in data and "ec2.compute_capacity" in data:
            for region, value in sorted(data.per_region("sagemaker.compute").items()):
                if value:
                    findings += self._sagemaker(data, region, value, now)
        if "containers.compute" in data and "ec2.compute_capacity" in data:
            for region, value in sorted(data.per_region("containers.compute").items()):
                if value:
                    findings += self._batch(data, region, value, now)
                    findings += self._ecs(data, region, value, now)
        if "workloads.metrics" in data:
            for region, value in sorted(data.per_region("workloads.metrics").items()):
                findings += self._bursts(data.account_id, region, value or {}, now)
        return findings

    def _sagemaker(
        self, data: CollectedData, region: str, value: dict[str, Any], now: datetime
    ) -> list[Finding]:
        first_use = _first_use(data, region, value)
        if has_baseline(first_use, now):
            return []
        capable: list[tuple[str, str, dict[str, Any]]] = []
        for label, key in (
            ("notebook", "notebooks"),
            ("training job", "training_jobs"),
            ("endpoint", "endpoints"),
        ):
            for workload in value.get(key) or []:
                for item in workload.get("Instances") or []:
                    if mining_capable(item):
                        capable.append((label, str(workload["Name"]), item))
        if not capable:
            return []
        act_on = sorted(
            {
                f"SageMaker {label} {name} ({item['InstanceType']} x{item.get('InstanceCount', 1)}) "
                f"in {region}"
                for label, name, item in capable
            }
        )
        instances = sum(int(item.get("InstanceCount") or 1) for _, _, item in capable)
        return [
            self.finding(
                kind="sagemaker_gpu_new_region",
                severity=Severity.HIGH,
                title=(
                    f"{instances} GPU or very large SageMaker instance(s) running in {region}, a region "
                    "this account has not been using"
                ),
                description=(
                    f"SageMaker runs {instances} GPU or >= 64 vCPU instance(s) in {region}: "
                    f"{_named(act_on)}. "
                    f"The account has used {region} {_used_since(first_use)}, less than 30 days. SageMaker "
                    "instances never show among the account's EC2 instances, which is why stolen keys mine "
                    "there. If nobody on your team started them, stop the notebooks, training jobs and "
                    "endpoints and deactivate the keys that created them."
                ),
                resource=f"arn:aws:sagemaker:{region}:{data.account_id}:capacity/mining-capable",
                region=region,
                remediation=(
                    "Stop the notebook instances (StopNotebookInstance), training jobs (StopTrainingJob) and "
                    "delete the endpoints you did not create; find the caller in CloudTrail and deactivate "
                    "its keys."
                ),
                docs_url=SAGEMAKER_DOCS,
                details={
                    "workloads": [{"kind": label, "name": name, **item} for label, name, item in capable],
                    "region_first_seen": first_use.isoformat() if first_use else None,
                    "act_on": act_on,
                },
            )
        ]

    def _batch(self, data: CollectedData, region: str, value: dict[str, Any], now: datetime) -> list[Finding]:
        first_use = _first_use(data, region, value)
        if has_baseline(first_use, now):
            return []
        known = set(value.get("environments_at_watch_start") or [])
        flagged = []
        for environment in value.get("batch_environments") or []:
            if environment.get("State") != "ENABLED" or environment.get("Type") != "MANAGED":
                continue
            gpu = [name for name in environment.get("InstanceTypes") or [] if is_accelerated_type(name)]
            large = int(environment.get("MaxVCpus") or 0) >= LARGE_BATCH_VCPUS
            active = int(environment.get("DesiredVCpus") or 0) > 0 or environment.get("Arn") not in known
            if (gpu or large) and active:
                flagged.append((environment, gpu))
        if not flagged:
            return []
        act_on = [
            f"Batch compute environment {environment['Name']} ({environment.get('ResourceType')}, up to "
            f"{environment.get('MaxVCpus')} vCPUs{', ' + ', '.join(gpu) if gpu else ''}) in {region}"
            for environment, gpu in flagged
        ]
        return [
            self.finding(
                kind="batch_gpu_new_region",
                severity=Severity.HIGH,
                title=(
                    f"{len(flagged)} Batch compute environment(s) able to launch GPU or large capacity in "
                    f"{region}, a region this account has not been using"
                ),
                description=(
                    f"{_named(act_on)}. The account has used {region} {_used_since(first_use)}, less than "
                    "30 days; Batch launches these instances on its own as jobs arrive. If nobody on your "
                    "team created them, disable the environments and cancel their jobs."
                ),
                resource=f"arn:aws:batch:{region}:{data.account_id}:capacity/mining-capable",
                region=region,
                remediation=(
                    "Disable the compute environments (UpdateComputeEnvironment state DISABLED), cancel or "
                    "terminate their jobs, then delete them; deactivate the keys that created them."
                ),
                docs_url=BATCH_DOCS,
                details={
                    "environments": [environment for environment, _ in flagged],
                    "region_first_seen": first_use.isoformat() if first_use else None,
                    "act_on": act_on,
                },
            )
        ]

    def _ecs(self, data: CollectedData, region: str, value: dict[str, Any], now: datetime) -> list[Finding]:
        first_use = _first_use(data, region, value)
        watched_since = as_datetime(value.get("watched_since"))
        started: list[tuple[str, dict[str, Any]]] = []
        for cluster in value.get("ecs_clusters") or []:
            for task in cluster.get("Tasks") or []:
                moment = as_datetime(task.get("StartedAt"))
                if moment is None:
                    continue
                baselined = has_baseline(first_use, moment)
                recent = now - moment <= RECENT_START
                seen_starting = watched_since is not None and moment >= watched_since - RECENT_START
                if not baselined and (recent or seen_starting):
                    started.append((str(cluster["Name"]), task))
        if not started:
            return []
        vcpus = sum(float(task.get("VCpus") or 0) for _, task in started)
        severity = Severity.HIGH if vcpus >= LARGE_TASKS_VCPUS else Severity.MEDIUM
        clusters = sorted({name for name, _ in started})
        act_on = [
            f"ECS cluster {name} in {region}: {sum(1 for n, _ in started if n == name)} task(s) to stop"
            for name in clusters
        ]
        first = min(as_datetime(task["StartedAt"]) or now for _, task in started)
        return [
            self.finding(
                kind="ecs_tasks_new_region",
                severity=severity,
                title=(
                    f"{len(started)} ECS task(s) started in {region}, "
                    "a region this account has not been using"
                ),
                description=(
                    f"{len(started)} ECS task(s) ({vcpus:g} vCPUs) started in {region} "
                    f"since {minute_of(first)}, "
                    f"in cluster(s) {', '.join(clusters[:MAX_NAMED])}. The account has used {region} "
                    f"{_used_since(first_use)}, less than 30 days. If nobody on your team runs them, stop "
                    "the tasks and the services that restart them."
                ),
                resource=f"arn:aws:ecs:{region}:{data.account_id}:tasks/new-region",
                region=region,
                remediation=(
                    "Set the services' desired count to 0 or delete them, stop the tasks (StopTask), "
                    "deregister the task definitions you did not create and deactivate the keys used."
                ),
                docs_url=ECS_DOCS,
                details={
                    "tasks": [{"cluster": name, **task} for name, task in started],
                    "total_vcpus": vcpus,
                    "region_first_seen": first_use.isoformat() if first_use else None,
                    "act_on": act_on,
                },
            )
        ]

    def _bursts(self, account: str, region: str, value: dict[str, Any], now: datetime) -> list[Finding]:
        findings = []
        for kind, key, floor, unit, docs in (
            (
                "lambda_burst",
                "lambda_concurrency",
                LAMBDA_MIN_CONCURRENCY,
                "concurrent Lambda executions",
                LAMBDA_DOCS,
            ),
            ("fargate_burst", "fargate_vcpus", FARGATE_MIN_VCPUS, "Fargate vCPUs", FARGATE_DOCS),
        ):
            usage = value.get(key) or {}
            peak = float(usage.get("last_24h_peak") or 0)
            baseline = max([float(day) for day in usage.get("baseline_daily_peaks") or []] or [0.0])
            if peak < floor or peak <= SPIKE_FACTOR * baseline:
                continue
            if baseline == 0:
                title = f"{peak:,.0f} {unit} in {region}, with none in the two weeks before"
                versus = "no use at all in the 14 days before"
            else:
                title = (
                    f"{peak:,.0f} {unit} in {region}, over {SPIKE_FACTOR:.0f}x its busiest day in two weeks"
                )
                versus = f"a peak of {baseline:,.0f} on its busiest day of the 14 before"
            service = "Lambda" if kind == "lambda_burst" else "Fargate (ECS, EKS and Batch tasks)"
            arn_service = "lambda" if kind == "lambda_burst" else "ecs"
            findings.append(
                self.finding(
                    kind=kind,
                    severity=Severity.HIGH,
                    title=title,
                    description=(
                        f"In the 24 hours before {minute_of(now)}, {service} in {region} peaked at "
                        f"{peak:,.0f} {unit}, against {versus}. Bursts like this run crypto-mining or "
                        "attacks on stolen keys. If your team did not cause it, find what runs there and "
                        "the caller in CloudTrail."
                    ),
                    resource=f"arn:aws:{arn_service}:{region}:{account}:{key}",
                    region=region,
                    docs_url=docs,
                    details={
                        "last_24h_peak": peak,
                        "baseline_peak": baseline,
                        "act_on": [f"{service} in {region}: peak {peak:,.0f} {unit}"],
                    },
                )
            )
        return findings


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [WorkloadsScenario]
