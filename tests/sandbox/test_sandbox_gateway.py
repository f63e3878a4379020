"""The gateway: moto's APIs reach moto unchanged, sts:AssumeRole trust is enforced for registered
roles (with their test knobs), reset forgets everything, the configured latency is added, and
requests are recorded when asked."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support.botocore_model import TRUSTED_CALLER, ApiCall, ClientFactory
from vigilare_sandbox import Sandbox, seed_events
from vigilare_sandbox.seed import register_customer_role
from vigilare_sandbox.seed_aws import assumed_credentials


def _moto_direct(sandbox: Sandbox, service: str, account_id: str, region: str = "us-east-1") -> Any:
    return boto3.client(
        service,
        endpoint_url=sandbox.moto_endpoint_url,
        region_name=region,
        **assumed_credentials(sandbox, account_id),
    )


async def test_moto_apis_pass_through_to_moto(sandbox: Sandbox, account_id: str, call_api: ApiCall) -> None:
    identity, _ = await call_api("sts", account_id, "get_caller_identity")
    await call_api("s3", account_id, "create_bucket", Bucket=f"through-gateway-{account_id}")
    await call_api("iam", account_id, "create_user", UserName="through-gateway")
    reservation, _ = await call_api(
        "ec2",
        account_id,
        "run_instances",
        region="sa-east-1",
        ImageId="ami-12c6146b",
        InstanceType="g5.xlarge",
        MinCount=1,
        MaxCount=1,
    )
    trails, _ = await call_api("cloudtrail", account_id, "describe_trails")  # CloudTrail, not faked

    assert identity["Account"] == account_id
    assert trails["trailList"] == []
    buckets = _moto_direct(sandbox, "s3", account_id).list_buckets()["Buckets"]
    assert [bucket["Name"] for bucket in buckets] == [f"through-gateway-{account_id}"]
    assert _moto_direct(sandbox, "iam", account_id).get_user(UserName="through-gateway")["User"]["Arn"] == (
        f"arn:aws:iam::{account_id}:user/through-gateway"
    )
    instances = _moto_direct(sandbox, "ec2", account_id, "sa-east-1").describe_instances()["Reservations"]
    assert instances[0]["Instances"][0]["InstanceId"] == reservation["Instances"][0]["InstanceId"]


def test_gateway_and_moto_give_the_same_answers(
    sandbox: Sandbox, account_id: str, make_client: ClientFactory
) -> None:
    through_gateway = make_client("iam", account_id)
    direct = _moto_direct(sandbox, "iam", account_id)
    through_gateway.create_user(UserName="same-answer")

    def answer(client: Any) -> tuple[int, str]:
        try:
            client.get_user(UserName="nobody")
        except ClientError as error:
            return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]
        raise AssertionError("moto found a user that does not exist")

    assert answer(through_gateway) == answer(direct) == (404, "NoSuchEntity")
    assert through_gateway.list_users()["Users"] == direct.list_users()["Users"]


def test_s3control_with_account_prefixed_host_reaches_moto(
    sandbox: Sandbox, account_id: str, make_client: ClientFactory
) -> None:
    s3control = make_client("s3control", account_id)

    def send_to_gateway_keeping_host(request: Any, **_: Any) -> None:
        original_host = request.url.split("/")[2]  # e.g. 4100...001.127.0.0.1:PORT
        request.headers["Host"] = original_host
        request.url = request.url.replace(original_host, sandbox.endpoint_url.removeprefix("http://"), 1)

    s3control.meta.events.register("before-send", send_to_gateway_keeping_host)
    s3control.put_public_access_block(
        AccountId=account_id,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "BlockPublicPolicy": True},
    )

    stored = s3control.get_public_access_block(AccountId=account_id)["PublicAccessBlockConfiguration"]
    assert stored["BlockPublicPolicy"] is True


@pytest.fixture
def customer_role(sandbox: Sandbox, account_id: str) -> str:
    return register_customer_role(sandbox, account_id, "VigilareAudit", "ext-7f3a9c", TRUSTED_CALLER)


async def test_assume_role_with_the_right_external_id_acts_in_the_customer_account(
    customer_role: str, account_id: str, call_api: ApiCall
) -> None:
    assumed, _ = await call_api(
        "sts",
        TRUSTED_CALLER,
        "assume_role",
        RoleArn=customer_role,
        RoleSessionName="scan",
        ExternalId="ext-7f3a9c",
    )

    assert assumed["AssumedRoleUser"]["Arn"].startswith(
        f"arn:aws:sts::{account_id}:assumed-role/VigilareAudit/"
    )


@pytest.mark.parametrize(
    ("caller", "external_id"),
    [(TRUSTED_CALLER, "ext-wrong"), (TRUSTED_CALLER, None), ("555566667777", "ext-7f3a9c")],
    ids=["wrong-external-id", "missing-external-id", "untrusted-caller-account"],
)
async def test_assume_role_refused_like_sts_does(
    customer_role: str, call_api: ApiCall, caller: str, external_id: str | None
) -> None:
    extra = {"ExternalId": external_id} if external_id is not None else {}

    with pytest.raises(ClientError) as refused:
        await call_api("sts", caller, "assume_role", RoleArn=customer_role, RoleSessionName="scan", **extra)

    error = refused.value.response
    assert error["Error"]["Code"] == "AccessDenied"
    assert error["Error"]["Type"] == "Sender"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert (
        f"is not authorized to perform: sts:AssumeRole on resource: {customer_role}"
        in error["Error"]["Message"]
    )


async def test_unregistered_roles_are_not_enforced(
    customer_role: str, account_id: str, call_api: ApiCall
) -> None:
    assumed, _ = await call_api(
        "sts",
        "555566667777",
        "assume_role",
        RoleArn=f"arn:aws:iam::{account_id}:role/Other",
        RoleSessionName="other",
    )

    assert assumed["Credentials"]["AccessKeyId"]


@pytest.mark.parametrize("how", ["Sandbox.reset", "POST /moto-api/reset through the gateway"])
def test_reset_forgets_moto_fake_and_trust_state(
    sandbox: Sandbox, account_id: str, make_client: ClientFactory, how: str
) -> None:
    make_client("s3", account_id).create_bucket(Bucket=f"before-reset-{account_id}")
    seed_events.add_abuse_event(sandbox, account_id, ["arn:aws:ec2:us-east-1:1:instance/i-1"])
    role_arn = register_customer_role(sandbox, account_id, "Guarded", "ext-1", TRUSTED_CALLER)

    if how == "Sandbox.reset":
        sandbox.reset()
    else:
        request = urllib.request.Request(sandbox.endpoint_url + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200

    assert make_client("s3", account_id).list_buckets()["Buckets"] == []
    assert make_client("health", account_id).describe_events()["events"] == []
    assert make_client("sts", "555566667777").assume_role(RoleArn=role_arn, RoleSessionName="after-reset")


@pytest.mark.parametrize("service", ["sts", "health"])
def test_latency_is_added_to_every_request(
    sandbox: Sandbox, account_id: str, make_client: ClientFactory, service: str
) -> None:
    client = make_client(service, account_id)
    call = client.get_caller_identity if service == "sts" else client.describe_events
    call()  # warm the connection
    sandbox.latency_ms = 250
    try:
        started = time.perf_counter()
        call()
        slow = time.perf_counter() - started
    finally:
        sandbox.latency_ms = 0
    started = time.perf_counter()
    call()
    fast = time.perf_counter() - started

    assert slow >= 0.25
    assert fast < slow - 0.2


def test_recording_keeps_each_signed_request_while_it_lasts(
    sandbox: Sandbox, account_id: str, make_client: ClientFactory
) -> None:
    sts = make_client("sts", account_id)
    health = make_client("health", account_id)

    with sandbox.recording() as log:
        sts.get_caller_identity()
        health.describe_events()
    sts.get_caller_identity()

    assert [(request.service, request.operation) for request in log.requests] == [
        ("sts", "GetCallerIdentity"),
        ("health", "DescribeEvents"),
    ]
    [identity_call] = log.to("sts", "GetCallerIdentity")
    assert identity_call.form()["Action"] == "GetCallerIdentity"
    assert log.to("health", "DescribeEvents")[0].json() == {}


def test_a_guarded_role_can_issue_credentials_that_expire_soon(
    sandbox: Sandbox, account_id: str, make_client: ClientFactory
) -> None:
    role_arn = f"arn:aws:iam::{account_id}:role/ShortSession"
    sandbox.register_guarded_role(
        role_arn, "ext-1", TRUSTED_CALLER, credentials_expire_in=timedelta(minutes=5)
    )

    assumed = make_client("sts", TRUSTED_CALLER).assume_role(
        RoleArn=role_arn, RoleSessionName="scan", ExternalId="ext-1", DurationSeconds=3600
    )

    left = assumed["Credentials"]["Expiration"] - datetime.now(UTC)
    assert timedelta(minutes=4) < left <= timedelta(minutes=5)


def test_a_guarded_role_can_report_its_credentials_in_another_account(
    sandbox: Sandbox, account_id: str, make_client: ClientFactory
) -> None:
    role_arn = f"arn:aws:iam::{account_id}:role/Elsewhere"
    sandbox.register_guarded_role(role_arn, "ext-1", TRUSTED_CALLER, caller_identity_account="555566667777")
    credentials = make_client("sts", TRUSTED_CALLER).assume_role(
        RoleArn=role_arn, RoleSessionName="scan", ExternalId="ext-1"
    )["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )

    identity = session.client(
        "sts", endpoint_url=sandbox.endpoint_url, region_name="us-east-1"
    ).get_caller_identity()
    session.client("s3", endpoint_url=sandbox.endpoint_url, region_name="us-east-1").create_bucket(
        Bucket=f"mine-{account_id}"
    )

    assert identity["Account"] == "555566667777"
    assert identity["Arn"].startswith("arn:aws:sts::555566667777:assumed-role/Elsewhere/")
    # Only GetCallerIdentity says so: the credentials still act in the role's own account.
    buckets = make_client("s3", account_id).list_buckets()["Buckets"]
    assert [bucket["Name"] for bucket in buckets] == [f"mine-{account_id}"]
