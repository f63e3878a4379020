"""Issue 12 item 8: each recovery step names what to act on (keys, users, instances, regions)."""

from __future__ import annotations

from tests.support.accounts import connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from vigilare_sandbox.seed import seed_compromised_account

ACCOUNT = "220987654321"


def _step(steps: list[dict], title: str) -> dict:
    return next(step for step in steps if step["title"] == title)


async def test_the_checklist_names_the_exposed_key_and_the_gpu_instances_with_their_region(
    aws_client, sandbox
):
    seeded = seed_compromised_account(sandbox, ACCOUNT)
    headers = await owner_headers(aws_client, "owner@checklist.test")
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    await wait_for_scan(aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"])

    response = await aws_client.get(f"/accounts/{ACCOUNT}/recovery-checklist", headers=headers)
    steps = response.json()["checklist"]

    # The exposed-credentials case: the access key AWS named, not the Health event's ARN.
    risk = _step(steps, "Answer the AWS risk case before its deadline")["description"]
    assert f"access key {seeded.exposed_key.access_key_id}" in risk
    assert seeded.risk_event_arn not in risk
    # GPU capacity: each instance and its region, not a synthetic "capacity" ARN.
    gpu = _step(steps, "Terminate unrecognised GPU capacity")["description"]
    for instance_id in seeded.gpu_instance_ids:
        assert f"instance {instance_id} (" in gpu and f") in {seeded.gpu_region}" in gpu
    assert ":capacity/" not in gpu
    # The abuse report's instance, with its region.
    abuse = _step(steps, "Answer the AWS abuse report before its deadline")["description"]
    assert f"instance {seeded.gpu_instance_ids[0]} in {seeded.gpu_region}" in abuse
    # The quarantined user.
    quarantine = _step(steps, "Keep the quarantine policy and replace the exposed access keys")["description"]
    assert f"user {seeded.exposed_key.user_name}" in quarantine
    # The GPU quota increase asked for before the burst: the request id, with its region.
    quota = _step(steps, "Check GPU and vCPU quota increases you did not ask for")["description"]
    assert f"quota request {seeded.extra['gpu_quota_request_id']} (" in quota
    assert f") in {seeded.gpu_region}" in quota
