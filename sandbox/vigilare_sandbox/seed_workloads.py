"""Seed compute that runs outside the account's EC2 instances: SageMaker, Batch, ECS, Lambda, Fargate.

SageMaker and Batch are moto's; two behaviours are corrected on moto's own records, as AWS
documents them:

- A training job is ``InProgress`` until it ends (moto completes it at once):
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html
- ``CreationTime`` is when the resource was created (here: backdated, to seed a region's history).

ECS tasks live in the fake (``fake_ecs``); Lambda concurrency and Fargate vCPUs are the CloudWatch
metrics AWS publishes (``AWS/Lambda ConcurrentExecutions``:
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html; ``AWS/Usage
ResourceCount`` for Fargate vCPUs:
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/monitoring-fargate-usage.html).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from vigilare_sandbox.sandbox import Sandbox
from vigilare_sandbox.seed_aws import client_for
from vigilare_sandbox.state import EcsTask

_ROLE = "arn:aws:iam::{account}:role/sagemaker-execution"


def _backdate(record: object, days_ago: float) -> None:
    if days_ago:
        moment = datetime.now(UTC) - timedelta(days=days_ago)
        record.creation_time = moment  # type: ignore[attr-defined]


def start_notebook(
    sandbox: Sandbox, account_id: str, region: str, name: str, instance_type: str, *, days_ago: float = 0
) -> None:
    """An InService notebook instance (moto starts it at once)."""
    from moto.sagemaker.models import sagemaker_backends

    client_for(sandbox, account_id, "sagemaker", region).create_notebook_instance(
        NotebookInstanceName=name, InstanceType=instance_type, RoleArn=_ROLE.format(account=account_id)
    )
    _backdate(sagemaker_backends[account_id][region].notebook_instances[name], days_ago)


def start_training_job(
    sandbox: Sandbox, account_id: str, region: str, name: str, instance_type: str, count: int = 1
) -> None:
    """A training job still running (InProgress), on ``count`` instances of ``instance_type``."""
    from moto.sagemaker.models import sagemaker_backends

    client_for(sandbox, account_id, "sagemaker", region).create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "miner:latest", "TrainingInputMode": "File"},
        RoleArn=_ROLE.format(account=account_id),
        OutputDataConfig={"S3OutputPath": "s3://output/"},
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": count, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 86400},
    )
    sagemaker_backends[account_id][region].training_jobs[name].training_job_status = "InProgress"


def deploy_endpoint(
    sandbox: Sandbox, account_id: str, region: str, name: str, instance_type: str, count: int = 1
) -> None:
    """An InService endpoint serving one variant on ``count`` instances of ``instance_type``."""
    sagemaker = client_for(sandbox, account_id, "sagemaker", region)
    sagemaker.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn=_ROLE.format(account=account_id),
        PrimaryContainer={"Image": "model:latest"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": f"{name}-model",
                "InstanceType": instance_type,
                "InitialInstanceCount": count,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def create_batch_environment(
    sandbox: Sandbox,
    account_id: str,
    region: str,
    name: str,
    instance_types: list[str],
    *,
    max_vcpus: int,
    resource_type: str = "SPOT",
) -> None:
    """An ENABLED managed compute environment (no capacity launched yet: desiredvCpus 0)."""
    iam = client_for(sandbox, account_id, "iam", region)
    ec2 = client_for(sandbox, account_id, "ec2", region)
    role = iam.create_role(RoleName=f"{name}-batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=f"{name}-batch")["InstanceProfile"]["Arn"]
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    client_for(sandbox, account_id, "batch", region).create_compute_environment(
        computeEnvironmentName=name,
        type="MANAGED",
        state="ENABLED",
        serviceRole=role,
        computeResources={
            "type": resource_type,
            "minvCpus": 0,
            "maxvCpus": max_vcpus,
            "desiredvCpus": 0,
            "instanceTypes": instance_types,
            "subnets": [subnet],
            "securityGroupIds": [group],
            "instanceRole": profile,
        },
    )


def run_ecs_tasks(
    sandbox: Sandbox,
    account_id: str,
    region: str,
    cluster: str,
    count: int,
    *,
    vcpus: int = 1,
    hours_ago: float = 1,
) -> None:
    """``count`` RUNNING Fargate tasks of ``vcpus`` vCPUs each in ``cluster``, started ``hours_ago``."""
    started = datetime.now(UTC) - timedelta(hours=hours_ago)
    with sandbox.state.lock:
        account = sandbox.state.account(account_id)
        for _ in range(count):
            task_id = uuid.uuid4().hex
            account.ecs_tasks.append(
                EcsTask(
                    region=region,
                    cluster_name=cluster,
                    task_arn=f"arn:aws:ecs:{region}:{account_id}:task/{cluster}/{task_id}",
                    started_at=started,
                    cpu=str(vcpus * 1024),
                )
            )


def put_lambda_concurrency(
    sandbox: Sandbox, account_id: str, region: str, peak: float, *, days_ago: float = 0.1
) -> None:
    """Account-level ``ConcurrentExecutions`` (no dimension) of ``peak`` at one moment."""
    client_for(sandbox, account_id, "cloudwatch", region).put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "ConcurrentExecutions",
                "Timestamp": datetime.now(UTC) - timedelta(days=days_ago),
                "Value": peak,
                "Unit": "Count",
            }
        ],
    )


def put_fargate_vcpus(
    sandbox: Sandbox, account_id: str, region: str, vcpus: float, *, spot: bool = False, days_ago: float = 0.1
) -> None:
    """Fargate's vCPU usage (``AWS/Usage ResourceCount``) of ``vcpus`` at one moment."""
    client_for(sandbox, account_id, "cloudwatch", region).put_metric_data(
        Namespace="AWS/Usage",
        MetricData=[
            {
                "MetricName": "ResourceCount",
                "Dimensions": [
                    {"Name": "Service", "Value": "Fargate"},
                    {"Name": "Type", "Value": "Resource"},
                    {"Name": "Resource", "Value": "vCPU"},
                    {"Name": "Class", "Value": "Standard/Spot" if spot else "Standard/OnDemand"},
                ],
                "Timestamp": datetime.now(UTC) - timedelta(days=days_ago),
                "Value": vcpus,
                "Unit": "None",
            }
        ],
    )
