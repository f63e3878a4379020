"""Connecting and verifying sandbox AWS accounts through the API, and waiting for scans."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.support.aws import SENTINEL_ACCOUNT_ID
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed import register_customer_role


async def connect_and_verify(
    client: Any, headers: dict[str, str], sandbox: Sandbox, aws_account_id: str, **fields: Any
) -> dict[str, Any]:
    created = await client.post(
        "/accounts", headers=headers, json={"aws_account_id": aws_account_id, **fields}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    register_customer_role(
        sandbox, aws_account_id, body["role_name"], body["external_id"], SENTINEL_ACCOUNT_ID
    )
    verified = await client.post(f"/accounts/{aws_account_id}/verify", headers=headers)
    assert verified.status_code == 200, verified.text
    return dict(verified.json())


async def wait_for_scan(
    client: Any, headers: dict[str, str], aws_account_id: str, scan_id: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        scan = (await client.get(f"/accounts/{aws_account_id}/scans/{scan_id}", headers=headers)).json()
        if scan["status"] in ("succeeded", "partial", "failed"):
            return dict(scan)
        assert time.monotonic() < deadline, f"scan still {scan['status']}"
        await asyncio.sleep(0.1)


async def rescan(client: Any, headers: dict[str, str], aws_account_id: str) -> dict[str, Any]:
    """Start a manual scan through the API and wait until it ends; returns the scan."""
    started = await client.post(f"/accounts/{aws_account_id}/scan", headers=headers)
    assert started.status_code == 202, started.text
    return await wait_for_scan(client, headers, aws_account_id, started.json()["execution_arn"])


async def all_signals(client: Any, headers: dict[str, str], aws_account_id: str, **params: Any) -> list[dict]:
    response = await client.get(
        f"/accounts/{aws_account_id}/signals", headers=headers, params={"limit": 200, **params}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["signals"])
