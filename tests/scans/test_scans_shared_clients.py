"""Concurrent scans share AWS clients, yet each call is signed as its own account."""

from __future__ import annotations

import asyncio

import aioboto3

from tests.support.aws import TEST_REGIONS
from vigilare.scanner import ScanTarget, scan_account
from vigilare.scenarios.manager import load_registry
from vigilare_sandbox.seed_aws import create_public_bucket

ACCOUNTS = ("210987654321", "310987654321", "410987654321")


async def test_concurrent_scans_never_see_each_others_data(sandbox):
    for account in ACCOUNTS:
        create_public_bucket(sandbox, account, f"bucket-of-{account}")
    registry = load_registry()
    base = aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")

    async def scan(account: str):
        target = ScanTarget(aws_account_id=account, role_name="VigilareAudit", external_id="ext-shared")
        return await scan_account(
            target,
            registry.select(["exposure"]),
            collectors=registry.collectors,
            endpoint_url=sandbox.endpoint_url,
            regions=list(TEST_REGIONS),
            base_session=base,
        )

    reports = await asyncio.gather(*(scan(account) for account in ACCOUNTS))
    for account, report in zip(ACCOUNTS, reports, strict=True):
        buckets = {f.resource for f in report.findings if f.kind.startswith("public_bucket")}
        assert buckets == {f"arn:aws:s3:::bucket-of-{account}"}, (account, buckets)
