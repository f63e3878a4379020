"""Fixtures of the scanner tests: the scan target, seeding clients acting in its account, moto alone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.aws import EXTERNAL_ID, ROLE_NAME, AccountClients
from tests.support.findings import ACCOUNT_ID
from vigilare.scanner import ScanTarget
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed_aws import client_for


@pytest.fixture
def seed(sandbox: Sandbox) -> AccountClients:
    """seed(service, region="us-east-1"): boto3 clients acting in ACCOUNT_ID in the emptied sandbox."""

    def client(service: str, region: str = "us-east-1") -> Any:
        return client_for(sandbox, ACCOUNT_ID, service, region)

    return client


@pytest.fixture
def moto(sandbox: Sandbox) -> str:
    """The emptied sandbox's moto itself, past the gateway: scans of moto's own answers (its
    credential report has no root row, so root state comes from GetAccountSummary)."""
    return sandbox.moto_endpoint_url


@pytest.fixture
def target() -> ScanTarget:
    return ScanTarget.for_scan(
        aws_account_id=ACCOUNT_ID,
        role_name=ROLE_NAME,
        external_id=EXTERNAL_ID,
        tenant_id="01JTENANT",
        scan_id="01JSCAN",
    )
