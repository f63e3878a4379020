"""Direct AWS calls (vigilare.aws.direct): the request botocore would send, the answers it would give.

The proof that a direct request is accepted by AWS is that it is byte for byte the request botocore
sends for the same call at the same moment — URL, body, headers and the SigV4 ``Authorization``
(AWS General Reference, "Create a signed AWS API request": the canonical request, string to sign
and signing key) — with the endpoint and signing scope AWS's endpoint rules give (no local endpoint:
IAM from a eu-west-1 client signs for us-east-1 at iam.amazonaws.com). The sandbox does not check
signatures, so the answers are compared against botocore's client on the same stand-in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aioboto3
import pytest
from botocore.credentials import ReadOnlyCredentials
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.support.aws import EXTERNAL_ID, ROLE_NAME, AccountClients, scan_sandbox
from tests.support.findings import ACCOUNT_ID
from tests.support.net import free_port
from vigilare.aws import direct
from vigilare.aws.clients import shared_clients, signing_as
from vigilare.aws.session import SHARED_POOL_SIZE, AccountSession, client_config, scan_signing_session
from vigilare.config import Settings
from vigilare_sandbox import Sandbox

CREDENTIALS = ReadOnlyCredentials("ASIAEXAMPLEKEY000001", "c2VjcmV0LWtleS1mb3ItdGVzdHM", "session//token+=")
MOMENT = datetime(2026, 11, 29, 13, 5, 7, tzinfo=UTC)

# The calls of a steady-state scan (bench/scan_throughput.py), with parameters as collectors send them.
STEADY_CALLS = [
    pytest.param(
        "ec2",
        "describe_instances",
        {"Filters": [{"Name": "instance-state-name", "Values": ["pending", "running"]}], "MaxResults": 1000},
        id="ec2-DescribeInstances",
    ),
    pytest.param("iam", "get_account_summary", {}, id="iam-GetAccountSummary"),
    pytest.param(
        "iam",
        "list_entities_for_policy",
        {"PolicyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3", "EntityFilter": "User"},
        id="iam-ListEntitiesForPolicy",
    ),
    pytest.param(
        "health",
        "describe_events",
        {"filter": {"eventStatusCodes": ["open", "upcoming"]}, "maxResults": 100},
        id="health-DescribeEvents",
    ),
    pytest.param(
        "cloudtrail",
        "lookup_events",
        {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}],
            "StartTime": datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
            "MaxResults": 50,
        },
        id="cloudtrail-LookupEvents",
    ),
    pytest.param("sts", "get_caller_identity", {}, id="sts-GetCallerIdentity"),
]


class _Captured(Exception):
    """Not an error: how the test stops botocore just before it sends."""

    def __init__(self, request: Any) -> None:
        self.request = request


async def _real_client(service: str, region: str = "eu-west-1", endpoint_url: str | None = None) -> Any:
    """A shared scan client as scans get them, with AWS's own endpoint rules unless a local endpoint."""
    config = client_config(
        service, endpoint_url=endpoint_url, max_pool_connections=SHARED_POOL_SIZE, retries=False
    )
    return await shared_clients().get(scan_signing_session(), service, region, endpoint_url, config)


async def _botocore_request(client: Any, operation: str, params: dict[str, Any]) -> Any:
    """The request botocore's client would put on the wire for this call at MOMENT."""

    def capture(request: Any, **_: Any) -> None:
        raise _Captured(request)

    class Frozen:
        async def get_frozen_credentials(self) -> ReadOnlyCredentials:
            return CREDENTIALS

        async def get_account_id(self) -> None:
            return None

    client.meta.events.register_first("before-send", capture)
    try:
        with pytest.MonkeyPatch.context() as patch, signing_as(Frozen()):
            patch.setattr("botocore.auth.get_current_datetime", lambda: MOMENT.replace(tzinfo=None))
            with pytest.raises(_Captured) as captured:
                await getattr(client, operation)(**params)
    finally:
        client.meta.events.unregister("before-send", capture)
    return captured.value.request


@pytest.mark.parametrize(("service", "operation", "params"), STEADY_CALLS)
async def test_a_direct_request_is_the_request_botocore_signs_and_sends(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    client = await _real_client(service)
    plan = await direct.plan_for(client, operation)
    assert plan is not None, direct.unknown_handlers(client, client.meta.method_to_api_mapping[operation])

    expected = await _botocore_request(client, operation, params)
    sent = direct.build_request(plan, dict(params), CREDENTIALS, MOMENT)

    assert sent.method == expected.method
    assert sent.url == expected.url
    expected_body = expected.body.encode() if isinstance(expected.body, str) else expected.body
    assert sent.body == expected_body
    ignored = {"user-agent", "amz-sdk-invocation-id", "amz-sdk-request", "content-length"}
    expected_headers = {
        k.lower(): v.decode() if isinstance(v, bytes) else v
        for k, v in expected.headers.items()
        if k.lower() not in ignored
    }
    assert {k.lower(): v for k, v in sent.headers.items() if k.lower() not in ignored} == expected_headers
    # The signature itself (and so the canonical request, scope and key), not only its presence.
    assert sent.headers["Authorization"] == expected_headers["authorization"]
    if service == "iam":
        # A global service: one endpoint, signed for us-east-1 whatever the client's region.
        assert sent.url == "https://iam.amazonaws.com/"
        assert "/20261129/us-east-1/iam/aws4_request" in sent.headers["Authorization"]
    if service == "ec2":
        assert sent.url == "https://ec2.eu-west-1.amazonaws.com/"


async def test_a_retried_call_is_signed_again_at_its_own_moment() -> None:
    client = await _real_client("ec2")
    plan = await direct.plan_for(client, "describe_instances")
    assert plan is not None
    first = direct.build_request(plan, {}, CREDENTIALS, MOMENT)
    later = direct.build_request(plan, {}, CREDENTIALS, MOMENT + timedelta(seconds=1))
    assert first.headers["X-Amz-Date"] == "20261129T130507Z"
    assert later.headers["X-Amz-Date"] == "20261129T130508Z"
    assert first.headers["Authorization"] != later.headers["Authorization"]


@pytest.mark.parametrize(
    ("service", "operation", "why"),
    [
        ("ec2", "run_instances", "user data base64-encoded and an idempotency token"),
        ("ec2", "get_console_output", "output decoded after the call"),
        ("s3", "list_buckets", "REST protocol"),
        ("s3control", "get_public_access_block", "REST, the account id as a host prefix"),
        ("sesv2", "get_account", "REST protocol"),
    ],
)
async def test_an_operation_botocore_customises_goes_through_the_client(
    service: str, operation: str, why: str
) -> None:
    client = await _real_client(service)
    assert await direct.plan_for(client, operation) is None, why


async def test_a_handler_registered_for_one_operation_keeps_it_on_the_client() -> None:
    """A customisation added later (by botocore, Vigilare or a plugin) is never skipped."""
    client = await _real_client("ec2", region="ca-central-1")

    def tweak(**_: Any) -> None:
        return None

    assert await direct.plan_for(client, "describe_spot_instance_requests") is not None
    client.meta.events.register("before-call.ec2.DescribeSpotInstanceRequests", tweak)
    try:
        # Registered after the operation was planned: planned again, through the client now.
        assert await direct.plan_for(client, "describe_spot_instance_requests") is None
        assert await direct.plan_for(client, "describe_instances") is not None
    finally:
        client.meta.events.unregister("before-call.ec2.DescribeSpotInstanceRequests", tweak)
    assert await direct.plan_for(client, "describe_spot_instance_requests") is not None


def _without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


async def _session(sandbox: Sandbox, base_session: aioboto3.Session, *, direct_calls: bool) -> AccountSession:
    session = AccountSession(
        aws_account_id=ACCOUNT_ID,
        role_name=ROLE_NAME,
        external_id=EXTERNAL_ID,
        session_name="vigilare-direct-test",
        endpoint_url=sandbox.endpoint_url,
        base_session=base_session,
        direct_calls=direct_calls,
    )
    await session.start()
    return session


async def test_direct_and_client_calls_answer_alike(
    sandbox: Sandbox, base_session: aioboto3.Session, seed: AccountClients
) -> None:
    ec2 = seed("ec2", "eu-west-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, InstanceType="p3.2xlarge", MinCount=2, MaxCount=2)
    iam = seed("iam")
    iam.create_role(RoleName="app", AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}')
    iam.put_role_policy(
        RoleName="app",
        PolicyName="inline",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
    )
    answers: dict[bool, list[Any]] = {}
    for direct_calls in (True, False):
        session = await _session(sandbox, base_session, direct_calls=direct_calls)
        try:
            reservations = await session.paginate(
                "ec2", "describe_instances", "Reservations", region="eu-west-1", MaxResults=5
            )
            summary = await session.call("iam", "get_account_summary")
            # IAM's policy documents arrive URL-encoded: botocore decodes them, and so must a direct call.
            policy = await session.call("iam", "get_role_policy", RoleName="app", PolicyName="inline")
            with pytest.raises(ClientError) as refused:
                await session.call("iam", "get_role", RoleName="nobody")
            for service, region, operation in (
                ("ec2", "eu-west-1", "describe_instances"),
                ("iam", None, "get_account_summary"),
                ("iam", None, "get_role_policy"),
                ("iam", None, "get_role"),
            ):  # every one of these calls went the direct way
                client = await session.client(service, region)
                assert await direct.plan_for(client, operation) is not None, direct.unknown_handlers(
                    client, client.meta.method_to_api_mapping[operation]
                )
        finally:
            await session.close()
        error = refused.value
        answers[direct_calls] = [
            reservations,
            _without_metadata(summary),
            _without_metadata(policy),
            # The modeled members of the error too (botocore's endpoint merges them into the response).
            (type(error).__name__, _without_metadata(error.response), error.operation_name),
            error.response["ResponseMetadata"]["HTTPStatusCode"],
        ]
    assert answers[True] == answers[False]
    reservations, _, policy, (error_type, response, _), status = answers[True]
    error = response["Error"]
    assert sum(len(r["Instances"]) for r in reservations) == 2
    assert policy["PolicyDocument"]["Statement"][0]["Action"] == "s3:*"
    assert (error_type, error["Code"], status) == ("NoSuchEntityException", "NoSuchEntity", 404)


async def test_a_direct_call_that_cannot_connect_raises_what_botocore_raises() -> None:
    """Network failures keep botocore's exception types: the scan's retry budget classifies them."""
    client = await _real_client("ec2", region="sa-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}")
    plan = await direct.plan_for(client, "describe_instances")
    assert plan is not None
    with pytest.raises(EndpointConnectionError):
        await direct.call(plan, {}, CREDENTIALS)


@pytest.mark.parametrize("direct_calls", [True, False], ids=["direct", "through-the-client"])
async def test_a_scan_finds_the_same_either_way_and_direct_calls_can_be_turned_off(
    sandbox: Sandbox, seed: AccountClients, monkeypatch: pytest.MonkeyPatch, direct_calls: bool
) -> None:
    """``VIGILARE_AWS_DIRECT_CALLS=false`` (an operator's way back to botocore's client for every
    call) scans alike, without one direct call."""
    assert Settings.from_env({"VIGILARE_AWS_DIRECT_CALLS": "false"}).aws_direct_calls is False
    assert Settings.from_env({}).aws_direct_calls is True
    ec2 = seed("ec2", "eu-west-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, InstanceType="p3.2xlarge", MinCount=1, MaxCount=1)
    made = 0
    original = direct.call

    async def counted(plan: direct.Plan, params: dict[str, Any], credentials: Any) -> dict[str, Any]:
        nonlocal made
        made += 1
        return await original(plan, params, credentials)

    monkeypatch.setattr(direct, "call", counted)
    report = await scan_sandbox(sandbox, ["compute"], direct_calls=direct_calls)
    assert report.status == "ok", report.collection_errors
    capacity = report.evidence["data"]["ec2.compute_capacity"]
    assert [i["InstanceType"] for i in capacity["eu-west-1"]["instances"]] == ["p3.2xlarge"]
    assert (made > 0) is direct_calls
