"""Fixtures of the sandbox's own tests (the sandbox itself is the shared `sandbox`): fresh account ids
per test, clients (boto3 and aioboto3) acting in an account through the gateway, and each call's raw
answer for checking it against botocore's output shape.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aioboto3
import boto3
import pytest
from botocore.config import Config

from tests.support.botocore_model import AioClientFactory, ApiCall, ClientFactory
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed_aws import assumed_credentials


@pytest.fixture(scope="session")
def _account_numbers() -> Iterator[int]:
    return itertools.count(410000000001)


@pytest.fixture
def account_id(_account_numbers: Iterator[int]) -> str:
    """A fresh AWS account id: tests share one sandbox without seeing each other's data."""
    return f"{next(_account_numbers):012d}"


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
