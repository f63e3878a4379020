"""The onboarding role grants what the workloads collectors call when there is something to describe.

The general policy test scans the compromised-account seed, which runs no SageMaker, ECS or Batch:
the describe calls (DescribeTrainingJob, DescribeEndpoint, DescribeEndpointConfig, ListTasks,
DescribeTasks) happen only when workloads exist, so this scan seeds them (stand-in pages named in
sandbox/vigilare_sandbox/seed_workloads.py and fake_ecs.py).
"""

from __future__ import annotations

from tests.support.aws import ROLE_NAME, sentinel_session
from tests.support.iam_actions import called_operation, is_read_only
from vigilare.accounts.onboarding import ADDITIONS_ACTIONS
from vigilare.scanner import ScanTarget, scan_account
from vigilare.scenarios.manager import ONLY_BUILTINS, load_registry
from vigilare_sandbox.seed_workloads import (
    create_batch_environment,
    deploy_endpoint,
    put_lambda_concurrency,
    run_ecs_tasks,
    start_notebook,
    start_training_job,
)

ACCOUNT = "230987654322"
REGION = "ap-southeast-2"


async def test_workload_collectors_call_only_granted_read_only_actions(sandbox):
    start_notebook(sandbox, ACCOUNT, REGION, "nb", "ml.p3.2xlarge")
    start_training_job(sandbox, ACCOUNT, REGION, "job", "ml.p3.16xlarge", count=2)
    deploy_endpoint(sandbox, ACCOUNT, REGION, "ep", "ml.g4dn.12xlarge")
    create_batch_environment(sandbox, ACCOUNT, REGION, "gpu", ["g5.12xlarge"], max_vcpus=512)
    run_ecs_tasks(sandbox, ACCOUNT, REGION, "xmr", 3, vcpus=4)
    put_lambda_concurrency(sandbox, ACCOUNT, REGION, 500)
    registry = load_registry(allowed=[ONLY_BUILTINS])
    keys = ["sagemaker.compute", "containers.compute", "workloads.metrics"]
    with sandbox.recording() as log:
        report = await scan_account(
            ScanTarget(aws_account_id=ACCOUNT, role_name=ROLE_NAME, external_id="ext-policy"),
            [registry.scenarios["workloads"]],
            collectors=registry.collectors,
            endpoint_url=sandbox.endpoint_url,
            regions=[REGION],
            extra_data=keys,
            base_session=sentinel_session(),
        )
    assert not report.collection_errors, report.collection_errors
    called = {op for r in log.requests if r.service != "sts" and (op := called_operation(r)) is not None}
    actions = {op.iam_action for op in called}
    # The describe paths ran (the point of seeding): each is named here so a silent skip fails.
    assert {
        "sagemaker:DescribeTrainingJob",
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "ecs:ListTasks",
        "ecs:DescribeTasks",
        "ec2:DescribeInstanceTypes",
    } <= actions
    missing = sorted(action for action in actions if action not in ADDITIONS_ACTIONS)
    assert not missing, f"add to ADDITIONS_ACTIONS in vigilare/accounts/onboarding.py: {missing}"
    assert all(is_read_only(action) for action in actions)
