"""The scan job keeps each account's scan state in the database: loaded before a scan, replaced only
when the scan completes. Through the API, as customers see it: signals stay open across scans that
reuse the state (Cost Explorer cache, GuardDuty incremental polls), and resolve when gone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.support.accounts import all_signals, connect_and_verify, rescan, wait_for_scan
from tests.support.api import owner_headers
from tests.support.aws import SENTINEL_ACCOUNT_ID
from tests.support.db import cross_tenant_factory
from vigilare.accounts.models import AwsAccount
from vigilare.db.engine import create_engine
from vigilare_sandbox import RequestLog, Sandbox
from vigilare_sandbox.seed import seed_compromised_account

ACCOUNT = "210987654321"


async def stored_state(client: Any) -> dict[str, Any]:
    engine = create_engine(client.app.state["settings"].database_url)
    try:
        async with cross_tenant_factory(engine)() as session:
            account = await session.scalar(select(AwsAccount).where(AwsAccount.aws_account_id == ACCOUNT))
            assert account is not None
            return dict(account.scan_state)
    finally:
        await engine.dispose()


async def test_signals_stay_open_across_scans_that_reuse_the_stored_state(
    aws_client: Any, sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    seeded = seed_compromised_account(sandbox, ACCOUNT)
    headers = await owner_headers(aws_client)
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    first_scan = await wait_for_scan(aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"])
    assert first_scan["status"] in ("succeeded", "partial"), first_scan

    first = {
        (s["scenario"], s["kind"], s["resource"]): s for s in await all_signals(aws_client, headers, ACCOUNT)
    }
    found = {(scenario, kind): s["severity"] for (scenario, kind, _), s in first.items()}
    assert found[("billing", "spend_runrate_spike")] == "HIGH"
    assert found[("billing", "daily_spend_spike")] == "HIGH"
    assert found[("billing", "cost_anomaly")] == "HIGH"
    assert found[("compute", "gpu_capacity_new_region")] == "CRITICAL"
    assert found[("threat", "guardduty_finding")] == "CRITICAL"
    state = await stored_state(aws_client)
    assert {
        "billing.cost_explorer",
        "billing.estimated_charges",
        "ec2.compute_capacity",
        "guardduty.findings",
    } <= set(state)
    assert len(aws_requests.to("ce", "GetCostAndUsage")) == 1

    await rescan(aws_client, headers, ACCOUNT)
    assert len(aws_requests.to("ce", "GetCostAndUsage")) == 1, "Cost Explorer asked twice in a day"
    second = {
        (s["scenario"], s["kind"], s["resource"]): s for s in await all_signals(aws_client, headers, ACCOUNT)
    }
    assert {key: s["signal_id"] for key, s in second.items()} == {
        key: s["signal_id"] for key, s in first.items()
    }
    assert all(s["resolved_at"] is None for s in second.values())

    # The customer archives the crypto-mining finding in GuardDuty: its signal resolves next scan.
    mining = seeded.guardduty_high_finding_ids[0]
    with sandbox.state.lock:
        sandbox.state.account(ACCOUNT).findings[mining].archived = True
    await rescan(aws_client, headers, ACCOUNT)
    third = await all_signals(aws_client, headers, ACCOUNT)
    resolved = [s for s in third if s["resolved_at"] is not None]
    assert [(s["kind"], s["resource"].rsplit("/", 1)[-1]) for s in resolved] == [
        ("guardduty_finding", mining)
    ]


async def test_a_failed_scan_keeps_the_previous_state(aws_client: Any, sandbox: Sandbox) -> None:
    seed_compromised_account(sandbox, ACCOUNT)
    headers = await owner_headers(aws_client)
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    await wait_for_scan(aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"])
    before = await stored_state(aws_client)
    assert before

    # The customer breaks the role's trust policy: the next scan cannot get in and fails.
    account = (await aws_client.get(f"/accounts/{ACCOUNT}", headers=headers)).json()
    sandbox.register_guarded_role(account["role_arn"], "some-other-external-id", SENTINEL_ACCOUNT_ID)
    failed = await rescan(aws_client, headers, ACCOUNT)
    assert failed["status"] == "failed"
    assert await stored_state(aws_client) == before
