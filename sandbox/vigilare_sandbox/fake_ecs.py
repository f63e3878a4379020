"""ECS's read calls the workloads collector makes (JSON 1.1, ``AmazonEC2ContainerServiceV20141113.*``).

moto's tasks never reach RUNNING (its task state machine goes to DEACTIVATING), its clusters keep
``runningTasksCount`` at 0 for Fargate tasks, and its DescribeTasks answers no ``startedAt`` nor
task-level ``cpu``. The stand-in answers these four operations from the account's seeded tasks
(``seed_workloads.run_ecs_tasks``) as AWS documents them; every other ECS operation stays moto's:

- ListClusters: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListClusters.html
- DescribeClusters (``runningTasksCount``: tasks in the RUNNING state):
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeClusters.html
- ListTasks (``desiredStatus`` filter): https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html
- DescribeTasks (``startedAt``, ``cpu`` in CPU units as a string, ``launchType``):
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html
"""

from __future__ import annotations

from typing import Any

from vigilare_sandbox.state import AccountState, EcsTask
from vigilare_sandbox.wire import WireResponse, json11_error, json11_ok

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
OPERATIONS = frozenset({"ListClusters", "DescribeClusters", "ListTasks", "DescribeTasks"})


def _cluster_arn(account_id: str, region: str, name: str) -> str:
    return f"arn:aws:ecs:{region}:{account_id}:cluster/{name}"


def _cluster_name(reference: str) -> str:
    """A cluster given by name or ARN; ECS calls without one use the ``default`` cluster."""
    return reference.rsplit("/", 1)[-1] if reference else "default"


def _tasks(account: AccountState, region: str, cluster: str | None = None) -> list[EcsTask]:
    return [
        task
        for task in account.ecs_tasks
        if task.region == region and (cluster is None or task.cluster_name == cluster)
    ]


def handle(
    account: AccountState, account_id: str, region: str, operation: str, body: dict[str, Any]
) -> WireResponse:
    if operation == "ListClusters":
        names = sorted({task.cluster_name for task in _tasks(account, region)})
        return json11_ok({"clusterArns": [_cluster_arn(account_id, region, name) for name in names]})
    if operation == "DescribeClusters":
        wanted = [_cluster_name(str(reference)) for reference in body.get("clusters") or ["default"]]
        known = {task.cluster_name for task in _tasks(account, region)}
        clusters = []
        for name in wanted:
            if name not in known:
                continue
            tasks = _tasks(account, region, name)
            clusters.append(
                {
                    "clusterArn": _cluster_arn(account_id, region, name),
                    "clusterName": name,
                    "status": "ACTIVE",
                    "registeredContainerInstancesCount": 0,
                    "runningTasksCount": sum(1 for task in tasks if task.last_status == "RUNNING"),
                    "pendingTasksCount": sum(1 for task in tasks if task.last_status == "PENDING"),
                    "activeServicesCount": 0,
                }
            )
        failures = [
            {"arn": _cluster_arn(account_id, region, name), "reason": "MISSING"}
            for name in wanted
            if name not in known
        ]
        return json11_ok({"clusters": clusters, "failures": failures})
    cluster = _cluster_name(str(body.get("cluster") or ""))
    if cluster not in {task.cluster_name for task in _tasks(account, region)}:
        return json11_error(400, "ClusterNotFoundException", "Cluster not found.")
    if operation == "ListTasks":
        desired = body.get("desiredStatus") or "RUNNING"
        arns = [task.task_arn for task in _tasks(account, region, cluster) if task.desired_status == desired]
        return json11_ok({"taskArns": arns[: int(body.get("maxResults") or 100)]})
    wanted_arns = set(body.get("tasks") or [])
    described = [
        {
            "taskArn": task.task_arn,
            "clusterArn": _cluster_arn(account_id, region, cluster),
            "launchType": task.launch_type,
            "cpu": task.cpu,
            "lastStatus": task.last_status,
            "desiredStatus": task.desired_status,
            "createdAt": task.started_at.timestamp(),
            "startedAt": task.started_at.timestamp(),
        }
        for task in _tasks(account, region, cluster)
        if task.task_arn in wanted_arns
    ]
    return json11_ok({"tasks": described, "failures": []})
