"""Compute that does not show up as EC2 instances of the account: SageMaker notebooks, training jobs
and endpoints (their instances run in AWS's accounts), ECS clusters and Batch compute environments,
and Lambda and Fargate concurrency. Stolen keys mine on all of them.

Freshness: hourly. What runs here costs money and, as mining, draws an AWS abuse case, but over
hours, not minutes. Most of an account's 17 regions hold none of this, and reading each of them
hourly would cost 6 calls x 17 regions an hour, so a region with nothing is looked at less often:

- SageMaker, and Lambda/Fargate concurrency (one GetMetricData): every ``IDLE_REGION_EVERY`` (3 h)
  where nothing ran in the 15 days before; SageMaker's instances are visible nowhere else.
- ECS and Batch: every ``IDLE_CONTAINERS_EVERY`` (6 h) where no cluster or compute environment
  exists; the EC2 capacity they launch is read at every scan (``ec2.compute_capacity``) and their
  Fargate capacity hourly or 3-hourly here.

Calls are bounded per region: one page of each list (100 items), and the describe calls for at most
``MAX_DESCRIBED`` training jobs, endpoints and ECS clusters.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session

from vigilare.aws.collectors.compute import describe_instance_types, iso_or_none, vcpus_from_size
from vigilare.plugin import Collector, CollectorContext, as_datetime

FRESHNESS = timedelta(hours=1)
IDLE_REGION_EVERY = timedelta(hours=3)
IDLE_CONTAINERS_EVERY = timedelta(hours=6)
MAX_DESCRIBED = 10
_PAGE = 100
_DAY = 86400
BASELINE_DAYS = 14


@functools.cache
def service_regions(service: str) -> frozenset[str]:
    """Regions where AWS offers ``service`` (botocore's endpoint data): elsewhere there is nothing to read."""
    return frozenset(botocore.session.get_session().get_available_regions(service))


def _earliest(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None


async def _hardware(ctx: CollectorContext, ml_types: set[str]) -> dict[str, dict[str, Any]]:
    """vCPUs and accelerators of SageMaker ``ml.`` types, from their EC2 twins (``ml.p3.2xlarge`` is a
    ``p3.2xlarge``): one DescribeInstanceTypes call for all, only when something runs."""
    twins = {ml_type: ml_type.removeprefix("ml.") for ml_type in ml_types}
    described = await describe_instance_types(ctx, sorted(set(twins.values()))) if twins else {}
    return {
        ml_type: {
            "VCpus": (described.get(twin) or {}).get("vcpus") or vcpus_from_size(twin),
            "Accelerators": (described.get(twin) or {}).get("accelerators"),
        }
        for ml_type, twin in twins.items()
    }


async def _training_jobs(ctx: CollectorContext) -> list[dict[str, Any]]:
    """InProgress training jobs, newest first; instance type and count for the first MAX_DESCRIBED
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html)."""
    listed = await ctx.call(
        "sagemaker",
        "list_training_jobs",
        StatusEquals="InProgress",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=_PAGE,
    )
    jobs = []
    for index, summary in enumerate(listed.get("TrainingJobSummaries", [])):
        job: dict[str, Any] = {
            "Name": summary["TrainingJobName"],
            "CreationTime": iso_or_none(as_datetime(summary.get("CreationTime"))),
            "Instances": [],
        }
        if index < MAX_DESCRIBED:
            described = await ctx.call("sagemaker", "describe_training_job", TrainingJobName=job["Name"])
            config = described.get("ResourceConfig") or {}
            groups = config.get("InstanceGroups") or [config]  # heterogeneous clusters name groups
            job["Instances"] = [
                {"InstanceType": group["InstanceType"], "InstanceCount": int(group.get("InstanceCount") or 1)}
                for group in groups
                if group.get("InstanceType")
            ]
        jobs.append(job)
    return jobs


async def _endpoints(ctx: CollectorContext, listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """InService endpoints with their variants' instance types (DescribeEndpoint names the config,
    DescribeEndpointConfig its instance types) for the newest MAX_DESCRIBED."""
    in_service = sorted(
        (endpoint for endpoint in listed if endpoint.get("EndpointStatus") == "InService"),
        key=lambda endpoint: str(iso_or_none(as_datetime(endpoint.get("CreationTime")))),
        reverse=True,
    )
    endpoints = []
    for index, summary in enumerate(in_service):
        endpoint: dict[str, Any] = {
            "Name": summary["EndpointName"],
            "CreationTime": iso_or_none(as_datetime(summary.get("CreationTime"))),
            "Instances": [],
        }
        if index < MAX_DESCRIBED:
            described = await ctx.call("sagemaker", "describe_endpoint", EndpointName=endpoint["Name"])
            running = {
                variant["VariantName"]: variant.get("CurrentInstanceCount")
                for variant in described.get("ProductionVariants", [])
            }
            config = await ctx.call(
                "sagemaker", "describe_endpoint_config", EndpointConfigName=described["EndpointConfigName"]
            )
            endpoint["Instances"] = [
                {
                    "InstanceType": variant["InstanceType"],
                    "InstanceCount": int(
                        running.get(variant["VariantName"]) or variant.get("InitialInstanceCount") or 1
                    ),
                }
                for variant in config.get("ProductionVariants", [])
                if variant.get("InstanceType")  # serverless variants have none
            ]
        endpoints.append(endpoint)
    return endpoints


async def fetch_sagemaker_compute(ctx: CollectorContext) -> dict[str, Any] | None:
    """``{"notebooks", "training_jobs", "endpoints", "region_first_seen", "watched_since"}``: InService
    notebooks, InProgress training jobs, InService endpoints, each with its ``Instances`` (type,
    count, vCPUs, accelerators); None where AWS offers no SageMaker."""
    if ctx.region not in service_regions("sagemaker"):
        return None
    now = datetime.now(UTC)
    previous = ctx.previous_state if isinstance(ctx.previous_state, dict) else {}
    notebooks_page = await ctx.call("sagemaker", "list_notebook_instances", MaxResults=_PAGE)
    all_notebooks = notebooks_page.get("NotebookInstances", [])
    endpoints_page = await ctx.call("sagemaker", "list_endpoints", MaxResults=_PAGE)
    all_endpoints = endpoints_page.get("Endpoints", [])
    jobs = await _training_jobs(ctx)
    notebooks = [
        {
            "Name": notebook["NotebookInstanceName"],
            "CreationTime": iso_or_none(as_datetime(notebook.get("CreationTime"))),
            "Instances": [{"InstanceType": notebook["InstanceType"], "InstanceCount": 1}],
        }
        for notebook in all_notebooks
        if notebook.get("NotebookInstanceStatus") == "InService" and notebook.get("InstanceType")
    ]
    endpoints = await _endpoints(ctx, all_endpoints)
    workloads = [*notebooks, *jobs, *endpoints]
    hardware = await _hardware(
        ctx, {item["InstanceType"] for workload in workloads for item in workload["Instances"]}
    )
    for workload in workloads:
        for item in workload["Instances"]:
            item.update(hardware.get(item["InstanceType"], {}))

    # The region's SageMaker baseline: the oldest notebook, endpoint or running job ever seen here
    # (stopped notebooks and failed endpoints count: they show the account works here).
    created = [as_datetime(item.get("CreationTime")) for item in [*all_notebooks, *all_endpoints, *jobs]]
    first_seen = _earliest(as_datetime(previous.get("first_seen")), *created)
    watched_since = as_datetime(previous.get("watched_since")) or now
    ctx.save_state({"first_seen": iso_or_none(first_seen), "watched_since": watched_since.isoformat()})
    if not (all_notebooks or all_endpoints or jobs):
        ctx.fresh_until(now + IDLE_REGION_EVERY)
    return {
        "notebooks": notebooks,
        "training_jobs": jobs,
        "endpoints": endpoints,
        "region_first_seen": iso_or_none(first_seen),
        "watched_since": watched_since.isoformat(),
    }


async def _batch_environments(ctx: CollectorContext) -> list[dict[str, Any]]:
    """Managed compute environments with what they may launch
    (https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeComputeEnvironments.html)."""
    if ctx.region not in service_regions("batch"):
        return []
    page = await ctx.call("batch", "describe_compute_environments", maxResults=_PAGE)
    environments = []
    for environment in page.get("computeEnvironments", []):
        resources = environment.get("computeResources") or {}
        environments.append(
            {
                "Name": environment.get("computeEnvironmentName"),
                "Arn": environment.get("computeEnvironmentArn"),
                "State": environment.get("state"),
                "Status": environment.get("status"),
                "Type": environment.get("type"),
                "ResourceType": resources.get("type"),  # EC2, SPOT, FARGATE, FARGATE_SPOT
                "InstanceTypes": list(resources.get("instanceTypes") or []),
                "MaxVCpus": int(resources.get("maxvCpus") or 0),
                "DesiredVCpus": int(resources.get("desiredvCpus") or 0),
            }
        )
    return environments


async def _ecs_clusters(ctx: CollectorContext) -> list[dict[str, Any]]:
    """ECS clusters with their running tasks and container instances (one ListClusters page, one
    DescribeClusters call: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeClusters.html)."""
    if ctx.region not in service_regions("ecs"):
        return []
    arns = (await ctx.call("ecs", "list_clusters", maxResults=_PAGE)).get("clusterArns", [])
    if not arns:
        return []
    described = await ctx.call("ecs", "describe_clusters", clusters=arns[:_PAGE])
    return [
        {
            "Name": cluster.get("clusterName"),
            "Arn": cluster.get("clusterArn"),
            "RunningTasks": int(cluster.get("runningTasksCount") or 0),
            "PendingTasks": int(cluster.get("pendingTasksCount") or 0),
            "ContainerInstances": int(cluster.get("registeredContainerInstancesCount") or 0),
        }
        for cluster in described.get("clusters", [])
        if cluster.get("status") == "ACTIVE"
    ]


async def _task_starts(ctx: CollectorContext, cluster_arn: str) -> list[dict[str, Any]]:
    """The running tasks of one cluster with their start and size (one ListTasks page, one
    DescribeTasks call: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html)."""
    arns = (
        await ctx.call("ecs", "list_tasks", cluster=cluster_arn, desiredStatus="RUNNING", maxResults=_PAGE)
    ).get("taskArns", [])
    if not arns:
        return []
    tasks = (await ctx.call("ecs", "describe_tasks", cluster=cluster_arn, tasks=arns[:_PAGE])).get(
        "tasks", []
    )
    return [
        {
            "TaskArn": task.get("taskArn"),
            "LaunchType": task.get("launchType"),
            "StartedAt": iso_or_none(as_datetime(task.get("startedAt") or task.get("createdAt"))),
            # Task-level cpu is in CPU units: 1024 is one vCPU.
            "VCpus": round(int(task.get("cpu") or 0) / 1024, 2),
        }
        for task in tasks
    ]


async def fetch_container_compute(ctx: CollectorContext) -> dict[str, Any]:
    """``{"batch_environments", "ecs_clusters", "region_first_seen", "watched_since",
    "environments_at_watch_start"}``. Running tasks are described (start times) only in a region
    without a container baseline yet, for at most MAX_DESCRIBED clusters."""
    now = datetime.now(UTC)
    previous = ctx.previous_state if isinstance(ctx.previous_state, dict) else {}
    environments = await _batch_environments(ctx)
    clusters = await _ecs_clusters(ctx)
    first_seen = as_datetime(previous.get("first_seen"))
    busy = [cluster for cluster in clusters if cluster["RunningTasks"]]
    for cluster in busy[:MAX_DESCRIBED]:
        # Once the region has 30 days of container use, start times no longer change the judgement.
        if first_seen is None or now - first_seen < timedelta(days=30):
            cluster["Tasks"] = await _task_starts(ctx, cluster["Arn"])
    starts = [as_datetime(task.get("StartedAt")) for cluster in busy for task in cluster.get("Tasks", [])]
    scaling = any(environment["DesiredVCpus"] for environment in environments)
    first_seen = _earliest(first_seen, *starts, now if (busy or scaling) and not starts else None)
    watched_since = as_datetime(previous.get("watched_since"))
    known = previous.get("environments_at_watch_start")
    if watched_since is None or not isinstance(known, list):
        # Environments already defined when Vigilare started watching are the account's own setup.
        known = sorted(str(environment["Arn"]) for environment in environments)
        watched_since = now
    ctx.save_state(
        {
            "first_seen": iso_or_none(first_seen),
            "watched_since": watched_since.isoformat(),
            "environments_at_watch_start": known,
        }
    )
    if not (environments or clusters):
        ctx.fresh_until(now + IDLE_CONTAINERS_EVERY)
    return {
        "batch_environments": environments,
        "ecs_clusters": clusters,
        "region_first_seen": iso_or_none(first_seen),
        "watched_since": watched_since.isoformat(),
        "environments_at_watch_start": known,
    }


_FARGATE = [
    {"Name": "Service", "Value": "Fargate"},
    {"Name": "Type", "Value": "Resource"},
    {"Name": "Resource", "Value": "vCPU"},
]
# Lambda's account-level concurrency (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html)
# and Fargate's vCPU usage (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/monitoring-fargate-usage.html).
METRIC_QUERIES: dict[str, dict[str, Any]] = {
    "lambda": {"Namespace": "AWS/Lambda", "MetricName": "ConcurrentExecutions"},
    "fargate_ondemand": {
        "Namespace": "AWS/Usage",
        "MetricName": "ResourceCount",
        "Dimensions": [*_FARGATE, {"Name": "Class", "Value": "Standard/OnDemand"}],
    },
    "fargate_spot": {
        "Namespace": "AWS/Usage",
        "MetricName": "ResourceCount",
        "Dimensions": [*_FARGATE, {"Name": "Class", "Value": "Standard/Spot"}],
    },
}


async def fetch_workload_metrics(ctx: CollectorContext) -> dict[str, Any]:
    """``{"lambda_concurrency": {...}, "fargate_vcpus": {...}}``, each ``{"last_24h_peak",
    "baseline_daily_peaks": [14 days, oldest first]}``: the daily Maximum of the 15 days to now, in
    one GetMetricData call (a period of one day suits CloudWatch's rules up to 63 days back)."""
    end = datetime.now(UTC).replace(microsecond=0)
    start = end - timedelta(days=BASELINE_DAYS + 1)
    response = await ctx.call(
        "cloudwatch",
        "get_metric_data",
        MetricDataQueries=[
            {
                "Id": name,
                "MetricStat": {"Metric": metric, "Period": _DAY, "Stat": "Maximum"},
                "ReturnData": True,
            }
            for name, metric in METRIC_QUERIES.items()
        ],
        StartTime=start,
        EndTime=end,
    )
    daily: dict[str, list[float]] = {name: [0.0] * (BASELINE_DAYS + 1) for name in METRIC_QUERIES}
    for result in response.get("MetricDataResults", []):
        for moment, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
            stamp = as_datetime(moment)
            if stamp is None or result.get("Id") not in daily:
                continue
            # Each datapoint is stamped with the start of its day-long period, counted from StartTime.
            day = min(max(int((stamp - start).total_seconds() // _DAY), 0), BASELINE_DAYS)
            days = daily[str(result["Id"])]
            days[day] = max(days[day], float(value))
    fargate = [a + b for a, b in zip(daily["fargate_ondemand"], daily["fargate_spot"], strict=True)]
    if not any(daily["lambda"]) and not any(fargate):
        ctx.fresh_until(end + IDLE_REGION_EVERY)  # neither ran here in 15 days
    return {
        "lambda_concurrency": {
            "last_24h_peak": daily["lambda"][-1],
            "baseline_daily_peaks": daily["lambda"][:-1],
        },
        "fargate_vcpus": {"last_24h_peak": fargate[-1], "baseline_daily_peaks": fargate[:-1]},
        "checked_at": end.isoformat(),
    }


WORKLOAD_COLLECTORS = [
    Collector(
        key="sagemaker.compute",
        fetch=fetch_sagemaker_compute,
        regional=True,
        evidence=True,
        description=(
            "sagemaker:ListNotebookInstances, ListTrainingJobs (+ DescribeTrainingJob), ListEndpoints "
            "(+ DescribeEndpoint, DescribeEndpointConfig), ec2:DescribeInstanceTypes for their hardware; "
            "hourly, every 3 hours in an empty region"
        ),
        freshness=FRESHNESS,
    ),
    Collector(
        key="containers.compute",
        fetch=fetch_container_compute,
        regional=True,
        evidence=True,
        description=(
            "batch:DescribeComputeEnvironments, ecs:ListClusters + DescribeClusters (ListTasks + "
            "DescribeTasks in a region without a baseline); hourly, every 6 hours in an empty region"
        ),
        freshness=FRESHNESS,
    ),
    Collector(
        key="workloads.metrics",
        fetch=fetch_workload_metrics,
        regional=True,
        evidence=True,
        description=(
            "cloudwatch:GetMetricData: AWS/Lambda ConcurrentExecutions and AWS/Usage Fargate vCPU, "
            "daily peaks of 15 days in one call; hourly, every 3 hours where neither ran"
        ),
        freshness=FRESHNESS,
    ),
]
