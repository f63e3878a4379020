"""Verification through STS with the external id, the first scan, signals, rescans, isolation."""

from __future__ import annotations

import pytest

from tests.support.accounts import all_signals, connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from tests.support.aws import SENTINEL_ACCOUNT_ID
from vigilare_sandbox.seed import register_customer_role
from vigilare_sandbox.seed_aws import client_for, create_public_bucket, create_quarantined_user

ACCOUNT = "210987654321"


async def test_verify_activates_and_the_first_scan_finds_seeded_risks(aws_client, sandbox):
    create_quarantined_user(sandbox, ACCOUNT, "ci-deployer")
    create_public_bucket(sandbox, ACCOUNT, "acme-public-assets")
    headers = await owner_headers(aws_client)
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    assert verified["status"] == "ACTIVE"
    scan = await wait_for_scan(aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"])
    assert scan["status"] in ("succeeded", "partial"), scan
    assert scan["trigger"] == "verify" and scan["scenarios"]["iam"]["status"] == "ok"

    signals = await all_signals(aws_client, headers, ACCOUNT)
    by_kind = {(s["scenario"], s["kind"]): s for s in signals}
    quarantine = by_kind[("iam", "quarantine_policy")]
    assert (
        quarantine["severity"] == "CRITICAL" and "ci-deployer" in quarantine["title"] + quarantine["resource"]
    )
    assert by_kind[("exposure", "public_bucket_read")]["severity"] == "HIGH"
    assert all(s["resolved_at"] is None and s["docs_url"].startswith("https://") for s in signals)

    only_critical = await all_signals(aws_client, headers, ACCOUNT, severity="CRITICAL")
    assert only_critical and all(s["severity"] == "CRITICAL" for s in only_critical)
    only_exposure = await all_signals(aws_client, headers, ACCOUNT, scenario="exposure")
    assert only_exposure and all(s["scenario"] == "exposure" for s in only_exposure)

    account = (await aws_client.get(f"/accounts/{ACCOUNT}", headers=headers)).json()
    assert account["last_scan_at"] and account["last_successful_scan_at"]


async def test_rescan_updates_instead_of_duplicating_and_resolves_what_is_gone(aws_client, sandbox):
    create_public_bucket(sandbox, ACCOUNT, "acme-public-assets")
    headers = await owner_headers(aws_client)
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    await wait_for_scan(aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"])
    first = await all_signals(aws_client, headers, ACCOUNT)

    started = await aws_client.post(f"/accounts/{ACCOUNT}/scan", headers=headers)
    assert started.status_code == 202 and started.json()["message"] == "Scan started"
    await wait_for_scan(aws_client, headers, ACCOUNT, started.json()["execution_arn"])
    second = await all_signals(aws_client, headers, ACCOUNT)
    assert sorted(s["signal_id"] for s in second) == sorted(s["signal_id"] for s in first)

    s3 = client_for(sandbox, ACCOUNT, "s3")
    s3.delete_bucket(Bucket="acme-public-assets")
    rescan = await aws_client.post(f"/accounts/{ACCOUNT}/scan", headers=headers)
    await wait_for_scan(aws_client, headers, ACCOUNT, rescan.json()["execution_arn"])
    bucket_signals = [
        s
        for s in await all_signals(aws_client, headers, ACCOUNT, scenario="exposure")
        if "acme-public-assets" in s["resource"]
    ]
    assert bucket_signals and all(s["resolved_at"] is not None for s in bucket_signals)


@pytest.mark.parametrize("failure", ["wrong external id", "role trusts another account"])
async def test_verify_failures_are_422_with_the_reason(aws_client, sandbox, failure):
    headers = await owner_headers(aws_client)
    created = (await aws_client.post("/accounts", headers=headers, json={"aws_account_id": ACCOUNT})).json()
    if failure == "wrong external id":
        register_customer_role(
            sandbox, ACCOUNT, created["role_name"], "not-the-external-id", SENTINEL_ACCOUNT_ID
        )
    else:
        register_customer_role(sandbox, ACCOUNT, created["role_name"], created["external_id"], "999988887777")
    response = await aws_client.post(f"/accounts/{ACCOUNT}/verify", headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]
    assert (await aws_client.get(f"/accounts/{ACCOUNT}", headers=headers)).json()["status"] == "PENDING"


async def test_manual_scans_are_limited_per_plan_and_need_an_active_account(aws_client, sandbox):
    headers = await owner_headers(aws_client)
    await aws_client.post("/accounts", headers=headers, json={"aws_account_id": ACCOUNT})
    pending = await aws_client.post(f"/accounts/{ACCOUNT}/scan", headers=headers)
    assert pending.status_code == 409 and "verify" in pending.json()["error"]
    register = (await aws_client.get(f"/accounts/{ACCOUNT}", headers=headers)).json()
    register_customer_role(sandbox, ACCOUNT, "VigilareAudit", register["external_id"], SENTINEL_ACCOUNT_ID)
    assert (await aws_client.post(f"/accounts/{ACCOUNT}/verify", headers=headers)).status_code == 200
    statuses = [
        (await aws_client.post(f"/accounts/{ACCOUNT}/scan", headers=headers)).status_code for _ in range(5)
    ]
    assert statuses == [202, 202, 202, 202, 429]
    limited = await aws_client.post(f"/accounts/{ACCOUNT}/scan", headers=headers)
    assert int(limited.headers["retry-after"]) > 0 and "4 manual scans" in limited.json()["error"]


async def test_signal_listing_validates_its_parameters(aws_client, sandbox):
    headers = await owner_headers(aws_client)
    await aws_client.post("/accounts", headers=headers, json={"aws_account_id": ACCOUNT})
    for params, field in (
        ({"severity": "URGENT"}, "severity"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"next_token": "forged"}, "next_token"),
    ):
        response = await aws_client.get(f"/accounts/{ACCOUNT}/signals", headers=headers, params=params)
        assert response.status_code == 400, (params, response.text)
        assert field in response.json()["error"]


async def test_signal_pagination_walks_every_signal_once(aws_client, sandbox):
    for index in range(5):
        create_public_bucket(sandbox, ACCOUNT, f"public-{index}")
    headers = await owner_headers(aws_client)
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    await wait_for_scan(aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"])
    expected = {s["signal_id"] for s in await all_signals(aws_client, headers, ACCOUNT)}
    seen: list[str] = []
    token = None
    while True:
        params = {"limit": 2, **({"next_token": token} if token else {})}
        page = (await aws_client.get(f"/accounts/{ACCOUNT}/signals", headers=headers, params=params)).json()
        assert page["count"] == len(page["signals"]) <= 2
        seen += [s["signal_id"] for s in page["signals"]]
        token = page["next_token"]
        if token is None:
            break
    assert len(seen) == len(set(seen)) and set(seen) == expected and len(expected) >= 5
