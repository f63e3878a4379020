"""Freshness per data key, through the scan job and the API: a scheduled scan of an account scanned
before collects only what is due (counted at the AWS stand-in), a signal whose data it did not read
stays open, a manual scan reads everything and resolves what is gone, and what push delivers is
only reconciled while push is connected."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from tests.support.accounts import all_signals, connect_and_verify, rescan, wait_for_scan
from tests.support.api import owner_headers
from tests.support.aws import TEST_REGIONS
from tests.support.db import db_session
from vigilare.accounts.models import AwsAccount
from vigilare.db.engine import SessionFactory, create_engine, create_session_factory
from vigilare.ids import new_id, utcnow
from vigilare.ingest.models import IngestEvent
from vigilare.jobs.outbox import unit_of_work
from vigilare.jobs.queue import InProcessQueue
from vigilare.scans.models import Scan
from vigilare.scans.service import SCHEDULED, create_scan
from vigilare.scoring.models import ScorePoint
from vigilare_sandbox import RequestLog, Sandbox
from vigilare_sandbox.seed_aws import client_for, create_public_bucket, create_quarantined_user
from vigilare_sandbox.seed_events import set_root_security

ACCOUNT = "210987654321"

# What a scheduled scan reads when nothing else is due, for the three test regions: instances
# everywhere (crypto-mining capacity), root sign-ins since the last poll where CloudTrail records
# them (us-east-1), the quarantine policies, the IAM account summary (root keys), open AWS Health
# events; SES and GuardDuty are idle here (sandboxed SES, no detector), so they are looked at hourly.
STEADY_CALLS = Counter(
    {
        ("sts", "AssumeRole"): 1,
        ("ec2", "DescribeInstances"): len(TEST_REGIONS),
        ("cloudtrail", "LookupEvents"): 1,
        ("iam", "ListEntitiesForPolicy"): 4,
        ("iam", "GetAccountSummary"): 1,  # one global call: root access keys as they are now
        ("health", "DescribeEvents"): 1,
    }
)


def calls(log: RequestLog) -> Counter[tuple[str, str]]:
    return Counter((request.service, request.operation or request.path) for request in log.requests)


@asynccontextmanager
async def own_services(client: Any) -> AsyncIterator[tuple[SessionFactory, InProcessQueue]]:
    """A session factory and an in-process queue on this test's event loop (the app's are not)."""
    settings = client.app.state["settings"]
    engine = create_engine(settings.database_url)
    factory = create_session_factory(engine)
    queue = InProcessQueue(settings, factory)
    try:
        yield factory, queue
    finally:
        await queue.close()
        await engine.dispose()


async def scheduled_scan(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    """A scan as the scheduler starts one, run by the scan job, waited for through the API."""
    async with own_services(client) as (factory, queue):
        async with unit_of_work(factory, queue, cross_tenant=True) as session:
            account = await session.scalar(select(AwsAccount).where(AwsAccount.aws_account_id == ACCOUNT))
            assert account is not None
            scan = create_scan(session, account, SCHEDULED)
        return await wait_for_scan(client, headers, ACCOUNT, scan.id)


async def connected(client: Any, sandbox: Sandbox) -> dict[str, str]:
    headers = await owner_headers(client)
    verified = await connect_and_verify(client, headers, sandbox, ACCOUNT)
    first = await wait_for_scan(client, headers, ACCOUNT, verified["first_scan_execution_arn"])
    assert first["status"] in ("succeeded", "partial"), first
    return headers


async def test_a_steady_state_scan_makes_only_the_due_calls(
    aws_client: Any, sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    headers = await connected(aws_client, sandbox)
    first = calls(aws_requests)
    # The first scan read everything (IAM users, S3, security groups, trails...).
    assert first[("iam", "ListUsers")] == 1 and first[("s3", "/")] >= 1
    assert first[("ec2", "DescribeSecurityGroups")] == len(TEST_REGIONS)
    first_lookups = [r.json() for r in aws_requests.to("cloudtrail", "LookupEvents")]

    aws_requests.clear()
    before = datetime.now(UTC)
    scan = await scheduled_scan(aws_client, headers)
    assert scan["status"] == "succeeded", scan
    assert calls(aws_requests) == STEADY_CALLS

    # LookupEvents asks only since the last poll (less the overlap for late delivery), not 24 hours.
    [lookup] = [r.json() for r in aws_requests.to("cloudtrail", "LookupEvents")]
    assert lookup["LookupAttributes"] == [{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}]
    first_start = min(
        r["StartTime"] for r in first_lookups if r["LookupAttributes"][0]["AttributeValue"] == "ConsoleLogin"
    )
    assert first_start < (before - timedelta(hours=23)).timestamp()
    assert lookup["StartTime"] > (before - timedelta(minutes=15)).timestamp()

    # A manual scan reads everything again.
    aws_requests.clear()
    await rescan(aws_client, headers, ACCOUNT)
    manual = calls(aws_requests)
    assert manual[("iam", "ListUsers")] == 1
    assert manual[("ec2", "DescribeSecurityGroups")] == len(TEST_REGIONS)
    assert sum(manual.values()) > 3 * sum(STEADY_CALLS.values())


async def test_a_signal_whose_data_was_not_read_stays_open_until_a_scan_reads_it(
    aws_client: Any, sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    create_public_bucket(sandbox, ACCOUNT, "leaky-reports", via_acl=False, via_policy=True)
    headers = await connected(aws_client, sandbox)
    [leak] = [s for s in await all_signals(aws_client, headers, ACCOUNT) if s["kind"] == "public_bucket_read"]

    # The customer makes the bucket private. S3 exposure is read hourly: a scheduled scan five
    # minutes later does not look, so it cannot say the bucket is private now.
    client_for(sandbox, ACCOUNT, "s3").delete_bucket_policy(Bucket="leaky-reports")
    aws_requests.clear()
    scan = await scheduled_scan(aws_client, headers)
    assert scan["status"] == "succeeded", scan
    assert aws_requests.to("s3") == []
    signals = {s["signal_id"]: s for s in await all_signals(aws_client, headers, ACCOUNT)}
    assert signals[leak["signal_id"]]["resolved_at"] is None

    # A manual scan reads S3 again and resolves it.
    await rescan(aws_client, headers, ACCOUNT)
    assert aws_requests.to("s3")
    signals = {s["signal_id"]: s for s in await all_signals(aws_client, headers, ACCOUNT)}
    assert signals[leak["signal_id"]]["resolved_at"] is not None


async def test_a_scheduled_scan_finds_a_root_key_created_since_the_last_credential_report(
    aws_client: Any, sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    # Issue 12 item 4: the credential report may be 4 hours old; GetAccountSummary says whether root
    # keys exist now (IAM API reference, GetAccountSummary: AccountAccessKeysPresent).
    headers = await connected(aws_client, sandbox)
    assert [
        s for s in await all_signals(aws_client, headers, ACCOUNT) if s["kind"] == "root_access_keys"
    ] == []

    set_root_security(sandbox, ACCOUNT, mfa=True, access_keys=True)  # someone creates a root key
    aws_requests.clear()
    scan = await scheduled_scan(aws_client, headers)

    assert scan["status"] == "succeeded", scan
    assert aws_requests.to("iam", "GenerateCredentialReport") == []  # the report is not due yet
    assert len(aws_requests.to("iam", "GetAccountSummary")) == 1
    [root_keys] = [
        s for s in await all_signals(aws_client, headers, ACCOUNT) if s["kind"] == "root_access_keys"
    ]
    assert root_keys["severity"] == "CRITICAL" and root_keys["resolved_at"] is None
    assert "account summary" in root_keys["description"]


async def test_what_push_delivers_is_not_polled_while_push_is_connected(
    aws_client: Any, sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    headers = await connected(aws_client, sandbox)
    async with (
        own_services(aws_client) as (factory, queue),
        unit_of_work(factory, queue, cross_tenant=True) as session,
    ):
        account = await session.scalar(select(AwsAccount).where(AwsAccount.aws_account_id == ACCOUNT))
        assert account is not None
        now = utcnow()
        # The hourly heartbeat, as the ingest route stores it: push is delivering for this account.
        session.add(
            IngestEvent(
                id=new_id(),
                tenant_id=account.tenant_id,
                account_id=account.id,
                event_id=f"heartbeat-{new_id()}",
                source="vigilare.heartbeat",
                detail_type="Scheduled Event",
                event_time=now,
                region="us-east-1",
                received_at=now,
                enqueued_at=now,
                processed_at=now,
                outcome="heartbeat",
                payload={},
            )
        )
        capabilities = dict(account.capabilities or {})
        trails_logging = (capabilities.get("cloudtrail_events") or {}).get("available") is not False

    aws_requests.clear()
    scan = await scheduled_scan(aws_client, headers)
    assert scan["status"] == "succeeded", scan
    made = calls(aws_requests)
    # AWS Health and (with a logging trail) root sign-ins and quarantine attachments come by push.
    assert made[("health", "DescribeEvents")] == 0
    assert made[("ec2", "DescribeInstances")] == len(TEST_REGIONS)  # capacity is never pushed
    if trails_logging:
        assert made[("cloudtrail", "LookupEvents")] == 0
        assert made[("iam", "ListEntitiesForPolicy")] == 0
    else:
        assert made[("cloudtrail", "LookupEvents")] == 1
        assert made[("iam", "ListEntitiesForPolicy")] == 4


async def panic_evidence(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    """The evidence.json of the account's panic package, as the customer downloads it."""
    response = await client.post(f"/accounts/{ACCOUNT}/panic", headers=headers)
    assert response.status_code == 200, response.text
    url = urlparse(response.json()["download_url"])
    download = await client.get(f"{url.path}?{url.query}")
    assert download.status_code == 200, download.text
    evidence: dict[str, Any] = json.loads(zipfile.ZipFile(io.BytesIO(download.content)).read("evidence.json"))
    return evidence


async def test_the_evidence_after_a_scheduled_scan_holds_every_key_with_the_latest_of_what_it_read(
    aws_client: Any, sandbox: Sandbox
) -> None:
    headers = await connected(aws_client, sandbox)
    before = (await panic_evidence(aws_client, headers))["evidence"]["data"]
    assert before["iam.credential_report"] and set(before["ec2.compute_capacity"]) == set(TEST_REGIONS)

    # An instance starts in one region; the scheduled scan reads instances everywhere, the
    # credential report not (its clock is 4 hours).
    ec2 = client_for(sandbox, ACCOUNT, "ec2", "eu-west-1")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    launched = ec2.run_instances(ImageId=image, InstanceType="g5.xlarge", MinCount=1, MaxCount=1)
    [instance] = launched["Instances"]
    scan = await scheduled_scan(aws_client, headers)
    assert scan["status"] == "succeeded", scan

    package = await panic_evidence(aws_client, headers)
    assert package["scan_id"] == scan["scan_id"]  # the evidence of the scheduled scan itself
    after = package["evidence"]["data"]
    # Carried from the full scan: the key this scan did not read is still in the evidence.
    assert after["iam.credential_report"] == before["iam.credential_report"]
    # Read by this one: the new instance in its region, every other region as it was.
    assert [i["InstanceId"] for i in after["ec2.compute_capacity"]["eu-west-1"]["instances"]] == [
        instance["InstanceId"]
    ]
    assert set(after["ec2.compute_capacity"]) == set(TEST_REGIONS)
    for region in set(TEST_REGIONS) - {"eu-west-1"}:
        assert after["ec2.compute_capacity"][region]["instances"] == []

    # The scheduled scan's own row stores what it read, not a copy of the account's evidence (that
    # copy, ~40 KB every five minutes per account, is what the account's evidence replaces).
    async with db_session(aws_client.app.state["settings"].database_url) as session:
        stored = await session.scalar(select(Scan.evidence).where(Scan.id == scan["scan_id"]))
    assert stored is not None
    assert "iam.credential_report" not in stored["data"]
    assert stored["data"]["ec2.compute_capacity"] == after["ec2.compute_capacity"]


async def todays_point(client: Any, headers: dict[str, str]) -> tuple[int, datetime]:
    """Today's score history point: its score, through the API, and when it was last written."""
    history = (await client.get(f"/accounts/{ACCOUNT}/score-history?days=1", headers=headers)).json()
    [point] = history["history"]
    async with db_session(client.app.state["settings"].database_url) as session:
        day = date.fromisoformat(point["date"])
        written = await session.scalar(select(ScorePoint.computed_at).where(ScorePoint.day == day))
    assert written is not None
    return point["srs"], written


async def test_todays_score_point_is_written_again_only_when_the_score_changes(
    aws_client: Any, sandbox: Sandbox
) -> None:
    headers = await connected(aws_client, sandbox)
    srs, written = await todays_point(aws_client, headers)

    # Nothing changed: the scan's score is the one today's point holds, which is not written again
    # (one row write per account every five minutes, for nothing).
    scan = await scheduled_scan(aws_client, headers)
    assert scan["status"] == "succeeded", scan
    assert await todays_point(aws_client, headers) == (srs, written)

    # A quarantine policy appears (the score is capped at 10): the next scan's score is today's point.
    create_quarantined_user(sandbox, ACCOUNT, "ci-deployer")
    await rescan(aws_client, headers, ACCOUNT)
    account = (await aws_client.get(f"/accounts/{ACCOUNT}", headers=headers)).json()
    changed, rewritten = await todays_point(aws_client, headers)
    assert changed == account["current_srs"] <= 10 < srs
    assert rewritten > written
