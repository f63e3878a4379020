"""Scanner fixtures: one moto server per session (reset between tests) and account seeding helpers."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator

import aioboto3
import pytest
from moto.server import ThreadedMotoServer
from scanner_support import ACCOUNT_ID, EXTERNAL_ID, ROLE_NAME, AccountClients, account_clients

from vigilare.scanner import ScanTarget

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
