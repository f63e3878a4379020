"""Scanner fixtures: one moto server per session (reset between tests) and account seeding helpers."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import aioboto3
import boto3
import pytest
from moto.server import ThreadedMotoServer

from vigilare.plugin import CollectedData
from vigilare.scanner import ScanTarget

ACCOUNT_ID = "111122223333"
OTHER_ACCOUNT_ID = "444455556666"
ROLE_NAME = "VigilareAudit"
EXTERNAL_ID = "ext-0123456789abcdef"

_TEST_ENVIRONMENT = {
    # Managed policies (AdministratorAccess, the quarantine policies) exist in moto only with this.
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/vigilare-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/vigilare-test-aws-credentials",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    previous = {name: os.environ.get(name) for name in _TEST_ENVIRONMENT}
    os.environ.update(_TEST_ENVIRONMENT)
    os.environ.pop("AWS_PROFILE", None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def moto(moto_endpoint: str) -> str:
    """The moto endpoint, emptied of whatever the previous test created."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    return moto_endpoint


@pytest.fixture
def base_session(moto_endpoint: str) -> aioboto3.Session:
    """Vigilare's own (sentinel) credentials, as the worker would have them."""
    return aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


AccountClients = Callable[..., Any]


def account_clients(endpoint: str, account_id: str) -> AccountClients:
    """boto3 clients acting inside ``account_id`` on moto (assume any role there), to seed state."""
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/x", RoleSessionName="seed")[
        "Credentials"
    ]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )

    def client(service: str, region: str = "us-east-1") -> Any:
        created = session.client(service, region_name=region, endpoint_url=endpoint)
        if service == "s3control":
            # s3control prefixes the account id onto the host, which 127.0.0.1 cannot resolve.
            host = endpoint.split("://", 1)[1]

            def strip_account(request: Any, **_: Any) -> None:
                request.url = request.url.replace(f"{account_id}.{host}", host)

            created.meta.events.register("before-send.s3-control", strip_account)
        return created

    return client


@pytest.fixture
def seed(moto: str) -> AccountClients:
    return account_clients(moto, ACCOUNT_ID)


@pytest.fixture
def target() -> ScanTarget:
    return ScanTarget.for_scan(
        aws_account_id=ACCOUNT_ID,
        role_name=ROLE_NAME,
        external_id=EXTERNAL_ID,
        tenant_id="01JTENANT",
        scan_id="01JSCAN",
    )


NOW = datetime(2026, 5, 22, 12, 0, tzinfo=UTC)


def in_memory(values: dict[str, Any] | None = None, **kwargs: Any) -> CollectedData:
    """Collected data for detector tests: no AWS involved, "now" fixed at NOW."""
    return CollectedData(account_id=ACCOUNT_ID, collected_at=NOW, values=values or {}, **kwargs)
