"""workloads: mining capacity outside EC2 instances (SageMaker, Batch, ECS, Lambda, Fargate), per region,
judged against the region's baseline.

Through the sandbox, which answers as AWS documents (sandbox/vigilare_sandbox/seed_workloads.py and
fake_ecs.py name the pages): a training job stays InProgress while it runs
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html), ECS
clusters count their RUNNING tasks and tasks carry ``startedAt``
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html), Lambda publishes
account-level ``ConcurrentExecutions`` (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-concurrency.html)
and Fargate its vCPUs in ``AWS/Usage``
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/monitoring-fargate-usage.html).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW
from vigilare.aws.freshness import FreshnessPolicy
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.workloads import WorkloadsScenario
from vigilare.testing import collected_data
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed_workloads import (
    create_batch_environment,
    deploy_endpoint,
    put_fargate_vcpus,
    put_lambda_concurrency,
    run_ecs_tasks,
    start_notebook,
    start_training_job,
)

NEW = "ap-southeast-2"


async def test_gpu_sagemaker_in_a_region_without_baseline_is_high_and_names_each_workload(
    sandbox: Sandbox,
) -> None:
    start_notebook(sandbox, ACCOUNT_ID, NEW, "scratch", "ml.p3.2xlarge")
    start_training_job(sandbox, ACCOUNT_ID, NEW, "llm-finetune", "ml.p3.16xlarge", count=4)
    deploy_endpoint(sandbox, ACCOUNT_ID, NEW, "inference", "ml.g4dn.12xlarge", count=2)
    start_notebook(sandbox, ACCOUNT_ID, NEW, "small", "ml.t2.medium")  # not mining-capable

    report = await scan_sandbox(sandbox, [WorkloadsScenario])

    assert report.outcomes["workloads"].status == "ok"
    assert not report.collection_errors
    [finding] = report.findings
    assert (finding.kind, finding.severity) == ("sagemaker_gpu_new_region", Severity.HIGH)
    assert finding.region == NEW
    assert finding.details["act_on"] == [
        f"SageMaker endpoint inference (ml.g4dn.12xlarge x2) in {NEW}",
        f"SageMaker notebook scratch (ml.p3.2xlarge x1) in {NEW}",
        f"SageMaker training job llm-finetune (ml.p3.16xlarge x4) in {NEW}",
    ]
    assert "7 GPU" in finding.title and "small" not in finding.description


async def test_gpu_sagemaker_where_the_account_has_used_sagemaker_for_30_days_is_silent(
    sandbox: Sandbox,
) -> None:
    start_notebook(sandbox, ACCOUNT_ID, NEW, "team-notebook", "ml.t2.medium", days_ago=45)
    start_training_job(sandbox, ACCOUNT_ID, NEW, "nightly", "ml.p3.8xlarge", count=2)

    report = await scan_sandbox(sandbox, [WorkloadsScenario])

    assert report.findings == []


async def test_a_new_batch_gpu_environment_in_a_region_without_baseline_is_high(sandbox: Sandbox) -> None:
    first = await scan_sandbox(sandbox, [WorkloadsScenario])
    assert first.findings == []
    create_batch_environment(sandbox, ACCOUNT_ID, NEW, "gpu-spot", ["g5.12xlarge"], max_vcpus=512)
    create_batch_environment(sandbox, ACCOUNT_ID, NEW, "small", ["m5.large"], max_vcpus=16)

    report = await scan_sandbox(sandbox, [WorkloadsScenario], state=first.state)

    [finding] = report.findings
    assert (finding.kind, finding.severity, finding.region) == ("batch_gpu_new_region", Severity.HIGH, NEW)
    assert finding.details["act_on"] == [
        f"Batch compute environment gpu-spot (SPOT, up to 512 vCPUs, g5.12xlarge) in {NEW}"
    ]


async def test_batch_environments_defined_before_vigilare_watched_and_idle_are_silent(
    sandbox: Sandbox,
) -> None:
    create_batch_environment(sandbox, ACCOUNT_ID, NEW, "gpu-spot", ["g5.12xlarge"], max_vcpus=512)

    report = await scan_sandbox(sandbox, [WorkloadsScenario])

    assert report.findings == []


async def test_ecs_tasks_started_today_in_a_region_without_baseline(sandbox: Sandbox) -> None:
    run_ecs_tasks(sandbox, ACCOUNT_ID, NEW, "xmr", 20, vcpus=4, hours_ago=2)
    run_ecs_tasks(sandbox, ACCOUNT_ID, "eu-west-1", "web", 2, vcpus=1, hours_ago=3)
    run_ecs_tasks(sandbox, ACCOUNT_ID, "us-east-1", "api", 6, vcpus=2, hours_ago=24 * 60)

    report = await scan_sandbox(sandbox, [WorkloadsScenario])

    found = {(f.region, f.kind): f for f in report.findings}
    assert sorted(found) == [(NEW, "ecs_tasks_new_region"), ("eu-west-1", "ecs_tasks_new_region")]
    assert found[(NEW, "ecs_tasks_new_region")].severity is Severity.HIGH  # 80 vCPUs
    assert found[("eu-west-1", "ecs_tasks_new_region")].severity is Severity.MEDIUM
    assert found[(NEW, "ecs_tasks_new_region")].details["act_on"] == [
        f"ECS cluster xmr in {NEW}: 20 task(s) to stop"
    ]


async def test_lambda_and_fargate_bursts_over_the_baseline_or_in_a_new_region(sandbox: Sandbox) -> None:
    for day in range(2, 12):
        put_lambda_concurrency(sandbox, ACCOUNT_ID, "us-east-1", 60, days_ago=day)
        put_lambda_concurrency(sandbox, ACCOUNT_ID, "eu-west-1", 400, days_ago=day)
    put_lambda_concurrency(sandbox, ACCOUNT_ID, "us-east-1", 900)  # 15x its busiest day
    put_lambda_concurrency(sandbox, ACCOUNT_ID, "eu-west-1", 450)  # its usual load
    put_fargate_vcpus(sandbox, ACCOUNT_ID, NEW, 200, spot=True)  # none before

    report = await scan_sandbox(sandbox, [WorkloadsScenario])

    found = {(f.region, f.kind): f for f in report.findings}
    assert sorted(found) == [("ap-southeast-2", "fargate_burst"), ("us-east-1", "lambda_burst")]
    assert "over 10x its busiest day" in found[("us-east-1", "lambda_burst")].title
    assert "none in the two weeks before" in found[(NEW, "fargate_burst")].title
    assert all(f.severity is Severity.HIGH for f in report.findings)


async def test_a_clean_account_is_silent_and_costs_few_calls_per_region(sandbox: Sandbox) -> None:
    with sandbox.recording() as log:
        report = await scan_sandbox(sandbox, [WorkloadsScenario])

    assert report.findings == [] and not report.collection_errors
    operations = sorted(
        request.operation or request.path
        for request in log.requests
        if request.service in {"sagemaker", "ecs", "batch", "monitoring"}
    )
    # One of each per region (3 regions); REST-protocol Batch is named by its path.
    assert operations == sorted(
        [
            "/v1/describecomputeenvironments",
            "ListEndpoints",
            "ListNotebookInstances",
            "ListTrainingJobs",
            "GetMetricData",
            "ListClusters",
        ]
        * 3
    )


async def test_empty_regions_are_read_less_often_than_regions_with_workloads(sandbox: Sandbox) -> None:
    # us-east-1 runs a notebook and Lambda; the other two regions hold nothing.
    start_notebook(sandbox, ACCOUNT_ID, "us-east-1", "team", "ml.t2.medium")
    put_lambda_concurrency(sandbox, ACCOUNT_ID, "us-east-1", 20, days_ago=3)
    first = await scan_sandbox(sandbox, [WorkloadsScenario])

    def calls(log, service: str, operation: str) -> int:
        return len(log.to(service, operation))

    for minutes, expected in ((30, 0), (61, 1), (181, 3)):
        # Hourly where something runs; SageMaker and the metrics every 3 h where nothing ran.
        policy = FreshnessPolicy(now=datetime.now(UTC) + timedelta(minutes=minutes), full=False)
        with sandbox.recording() as log:
            await scan_sandbox(sandbox, [WorkloadsScenario], state=first.state, policy=policy)
        assert calls(log, "sagemaker", "ListNotebookInstances") == expected, minutes
        assert calls(log, "monitoring", "GetMetricData") == expected, minutes
        # ECS and Batch hold nothing anywhere: every 6 hours.
        assert calls(log, "ecs", "ListClusters") == 0, minutes

    six_hours = FreshnessPolicy(now=datetime.now(UTC) + timedelta(minutes=361), full=False)
    with sandbox.recording() as log:
        await scan_sandbox(sandbox, [WorkloadsScenario], state=first.state, policy=six_hours)
    assert calls(log, "ecs", "ListClusters") == 3


def _ec2(first_seen_days_ago: float | None) -> dict[str, object]:
    first = (NOW - timedelta(days=first_seen_days_ago)).isoformat() if first_seen_days_ago else None
    return {"instances": [], "spot_requests": [], "region_first_seen": first}


def _sagemaker(first_seen_days_ago: float | None) -> dict[str, object]:
    first = (NOW - timedelta(days=first_seen_days_ago)).isoformat() if first_seen_days_ago else None
    return {
        "notebooks": [],
        "training_jobs": [
            {
                "Name": "job",
                "Instances": [{"InstanceType": "ml.c5.18xlarge", "InstanceCount": 1, "VCpus": 72}],
            }
        ],
        "endpoints": [],
        "region_first_seen": first,
    }


async def test_an_ec2_baseline_makes_a_region_known_to_sagemaker_too() -> None:
    def data(ec2_days: float | None, sagemaker_days: float | None):
        return collected_data(
            regional={
                "ec2.compute_capacity": {NEW: _ec2(ec2_days)},
                "sagemaker.compute": {NEW: _sagemaker(sagemaker_days)},
            },
            account_id=ACCOUNT_ID,
            collected_at=NOW,
        )

    assert [f.kind for f in await WorkloadsScenario().detect(data(None, 2))] == ["sagemaker_gpu_new_region"]
    assert [f.kind for f in await WorkloadsScenario().detect(data(29, None))] == ["sagemaker_gpu_new_region"]
    assert await WorkloadsScenario().detect(data(31, None)) == []
    assert await WorkloadsScenario().detect(data(None, 31)) == []


async def test_a_kind_is_judged_only_when_its_data_was_collected() -> None:
    # A scan that read only EC2 (the workload keys were fresh) reports none of these kinds.
    data = collected_data(regional={"ec2.compute_capacity": {NEW: _ec2(None)}}, account_id=ACCOUNT_ID)
    assert await WorkloadsScenario().detect(data) == []
