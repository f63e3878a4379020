"""Fixtures for the sandbox tests: one started Sandbox per session, fresh account ids per test,
clients (boto3 and aioboto3) acting in an account through the gateway, and a checker that a raw
JSON answer conforms to botocore's output shape (no unknown members, right types, required present).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aioboto3
import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.model import Shape, StructureShape

from vigilare.sandbox import Sandbox

TRUSTED_CALLER = "999900001111"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture(autouse=True)
def _no_leftover_throttling(sandbox: Sandbox) -> Iterator[None]:
    yield
    sandbox.state.clear_throttling()


@pytest.fixture(scope="session")
def _account_numbers() -> Iterator[int]:
    return itertools.count(410000000001)


@pytest.fixture
def account_id(_account_numbers: Iterator[int]) -> str:
    """A fresh AWS account id: tests share one sandbox without seeing each other's data."""
    return f"{next(_account_numbers):012d}"


def assumed_credentials(sandbox: Sandbox, account_id: str) -> dict[str, str]:
    sts = boto3.client(
        "sts",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/tester", RoleSessionName="tests"
    )["Credentials"]
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


ClientFactory = Callable[..., Any]


@pytest.fixture
def make_client(sandbox: Sandbox) -> ClientFactory:
    """make_client(service, account_id, region="us-east-1", max_attempts=3) -> boto3 client;
    max_attempts counts every attempt, the first included."""

    def build(service: str, account_id: str, region: str = "us-east-1", max_attempts: int = 3) -> Any:
        return boto3.client(
            service,
            endpoint_url=sandbox.endpoint_url,
            region_name=region,
            config=Config(retries={"mode": "standard", "total_max_attempts": max_attempts}),
            **assumed_credentials(sandbox, account_id),
        )

    return build


AioClientFactory = Callable[..., AbstractAsyncContextManager[Any]]


@pytest.fixture
def make_aio_client(sandbox: Sandbox) -> AioClientFactory:
    """async with make_aio_client(service, account_id, region=...) as client: ... (aioboto3)."""

    @asynccontextmanager
    async def build(
        service: str, account_id: str, region: str = "us-east-1", max_attempts: int = 3
    ) -> AsyncIterator[Any]:
        session = aioboto3.Session(**assumed_credentials(sandbox, account_id))
        async with session.client(
            service,
            endpoint_url=sandbox.endpoint_url,
            region_name=region,
            config=Config(retries={"mode": "standard", "total_max_attempts": max_attempts}),
        ) as client:
            yield client

    return build


def _check_value(value: Any, shape: Shape, path: str, protocol: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
        assert isinstance(shape, StructureShape)
        by_wire_name = {
            member.serialization.get("name", name): member for name, member in shape.members.items()
        }
        for key, item in value.items():
            assert key in by_wire_name, f"{path}: {key!r} is not a member of {shape.name}"
            _check_value(item, by_wire_name[key], f"{path}.{key}", protocol)
        for required in shape.required_members:
            wire_name = shape.members[required].serialization.get("name", required)
            assert wire_name in value, f"{path}: required member {wire_name!r} missing"
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected array"
        for index, item in enumerate(value):
            _check_value(item, shape.member, f"{path}[{index}]", protocol)  # type: ignore[attr-defined]
    elif kind == "map":
        assert isinstance(value, dict), f"{path}: expected map"
        for key, item in value.items():
            _check_value(item, shape.value, f"{path}[{key}]", protocol)  # type: ignore[attr-defined]
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected string, got {value!r}"
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
    elif kind == "timestamp":
        # JSON bodies carry epoch seconds unless the model says otherwise.
        assert shape.serialization.get("timestampFormat", "unixTimestamp") == "unixTimestamp"
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: expected epoch"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected integer"
    elif kind in ("double", "float"):
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: expected number"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected boolean"


def assert_matches_model(service: str, operation: str, raw_body: bytes) -> None:
    model = botocore.session.get_session().get_service_model(service)
    output_shape = model.operation_model(operation).output_shape
    assert output_shape is not None
    _check_value(json.loads(raw_body), output_shape, operation, model.protocol)


@pytest.fixture
def raw_bodies() -> Callable[[Any], list[bytes]]:
    """raw_bodies(client) -> a list that fills with each response's raw body as botocore saw it."""

    def capture(client: Any) -> list[bytes]:
        bodies: list[bytes] = []

        def keep(response_dict: dict[str, Any], **_: Any) -> None:
            bodies.append(response_dict["body"])

        client.meta.events.register("before-parse", keep)
        return bodies

    return capture


ApiCall = Callable[..., Any]


@pytest.fixture(params=["boto3", "aioboto3"])
def call_api(
    request: pytest.FixtureRequest,
    make_client: ClientFactory,
    make_aio_client: AioClientFactory,
    raw_bodies: Callable[[Any], list[bytes]],
) -> ApiCall:
    """await call_api(service, account_id, "snake_op", region=..., max_attempts=..., **params)
    -> (parsed response, raw body); runs with boto3 or aioboto3 (the test is parametrized)."""
    kind = request.param

    async def call(
        service: str,
        account_id: str,
        operation: str,
        region: str = "us-east-1",
        max_attempts: int = 3,
        **params: Any,
    ) -> tuple[dict[str, Any], bytes]:
        if kind == "boto3":
            client = make_client(service, account_id, region, max_attempts)
            bodies = raw_bodies(client)
            result = getattr(client, operation)(**params)
        else:
            async with make_aio_client(service, account_id, region, max_attempts) as aio_client:
                bodies = raw_bodies(aio_client)
                result = await getattr(aio_client, operation)(**params)
        return result, bodies[-1]

    return call
