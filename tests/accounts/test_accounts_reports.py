"""Score, history, checklist, CSV export and the panic package on a scanned account."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from tests.support.accounts import all_signals, connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from tests.support.db import update_tenant
from tests.support.team import add_member
from vigilare.api.app import create_app
from vigilare_sandbox.seed_aws import client_for, create_public_bucket, create_quarantined_user

ACCOUNT = "210987654321"


async def _scanned(client, sandbox, email="owner@reports.test"):
    create_quarantined_user(sandbox, ACCOUNT, "ci-deployer")
    create_public_bucket(sandbox, ACCOUNT, "acme-public-assets")
    headers = await owner_headers(client, email)
    verified = await connect_and_verify(client, headers, sandbox, ACCOUNT)
    await wait_for_scan(client, headers, ACCOUNT, verified["first_scan_execution_arn"])
    me = (await client.get("/me", headers=headers)).json()
    return headers, me["tenant"]["tenant_id"]


async def test_score_history_and_checklist_follow_the_signals(aws_client, sandbox):
    headers, _ = await _scanned(aws_client, sandbox)
    account = (await aws_client.get(f"/accounts/{ACCOUNT}", headers=headers)).json()
    score = (await aws_client.get(f"/accounts/{ACCOUNT}/score", headers=headers)).json()
    # A quarantine policy means suspension is imminent: the score is capped at 10.
    assert score["srs"] == account["current_srs"] <= 10
    assert score["cap"]["ceiling"] == 10 and score["cap"]["reasons"]
    assert sum(b["points_lost"] for b in score["breakdown"]) == 100 - score["srs"]
    assert score["top_signals"][0]["severity"] == "CRITICAL"

    history = (await aws_client.get(f"/accounts/{ACCOUNT}/score-history?days=7", headers=headers)).json()
    assert len(history["history"]) == 1 and history["history"][0]["srs"] == score["srs"]
    for bad in ("0", "366", "week"):
        response = await aws_client.get(f"/accounts/{ACCOUNT}/score-history?days={bad}", headers=headers)
        assert response.status_code == 400 and "days" in response.json()["error"]

    checklist = (await aws_client.get(f"/accounts/{ACCOUNT}/recovery-checklist", headers=headers)).json()
    steps = checklist["checklist"]
    assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
    assert all(s["docs_url"].startswith("https://") and s["title"] and s["description"] for s in steps)
    assert any("ci-deployer" in s["description"] for s in steps)


async def test_csv_export_is_for_team_plans_and_lists_every_signal(aws_client, sandbox, settings):
    headers, tenant_id = await _scanned(aws_client, sandbox)
    solo = await aws_client.get(f"/accounts/{ACCOUNT}/export", headers=headers)
    assert solo.status_code == 403 and "plan" in solo.json()["error"]
    await update_tenant(settings, tenant_id, plan="team", status="active")
    viewer = await add_member(aws_client, headers, "viewer@reports.test", "viewer")
    assert (
        await aws_client.get(
            f"/accounts/{ACCOUNT}/export", headers={"Authorization": f"Bearer {viewer['id_token']}"}
        )
    ).status_code == 403
    response = await aws_client.get(f"/accounts/{ACCOUNT}/export", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    signals = await all_signals(aws_client, headers, ACCOUNT)
    assert {r["signal_id"] for r in rows} == {s["signal_id"] for s in signals}
    assert set(rows[0]) >= {"signal_id", "scenario", "severity", "title", "detected_at", "resolved_at"}


async def test_panic_package_downloads_with_everything_and_expires(aws_client, sandbox, settings):
    headers, _ = await _scanned(aws_client, sandbox)
    response = await aws_client.post(f"/accounts/{ACCOUNT}/panic", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Panic package generated" and body["expires_in"] == 900
    url = urlparse(body["download_url"])
    assert url.path.startswith("/exports/")
    download = await aws_client.get(f"{url.path}?{url.query}")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    names = set(archive.namelist())
    assert {
        "README.txt",
        "account.json",
        "signals.json",
        "signals.csv",
        "score.json",
        "recovery-checklist.md",
        "evidence.json",
        "support-case-reply.txt",
    } <= names
    signals = json.loads(archive.read("signals.json"))
    assert any(s["kind"] == "quarantine_policy" for s in signals)
    assert json.loads(archive.read("account.json"))["aws_account_id"] == ACCOUNT
    assert json.loads(archive.read("score.json"))["srs"] <= 10
    evidence = json.loads(archive.read("evidence.json"))
    assert evidence["scan_id"] and evidence["evidence"]
    assert "ci-deployer" in archive.read("support-case-reply.txt").decode()
    assert archive.read("recovery-checklist.md").decode().startswith("#")

    query = parse_qs(url.query)
    tampered = urlencode({"expires": int(query["expires"][0]) + 3600, "signature": query["signature"][0]})
    assert (await aws_client.get(f"{url.path}?{tampered}")).status_code == 403


async def test_panic_link_is_refused_after_expiry(aws_settings, sandbox):
    short = msgspec.structs.replace(aws_settings, export_url_ttl_seconds=1)
    async with AsyncTestClient(app=create_app(short)) as client:
        headers = await owner_headers(client)
        await client.post("/accounts", headers=headers, json={"aws_account_id": ACCOUNT})
        url = urlparse(
            (await client.post(f"/accounts/{ACCOUNT}/panic", headers=headers)).json()["download_url"]
        )
        time.sleep(2.1)  # the link's lifetime, not a wait for a job
        expired = await client.get(f"{url.path}?{url.query}")
        assert expired.status_code == 403 and "expired" in expired.json()["error"]


@pytest.mark.parametrize("role", ["viewer"])
async def test_viewers_cannot_generate_panic_packages(aws_client, sandbox, role):
    headers = await owner_headers(aws_client)
    await aws_client.post("/accounts", headers=headers, json={"aws_account_id": ACCOUNT})
    viewer = await add_member(aws_client, headers, f"{role}@reports.test", role)
    response = await aws_client.post(
        f"/accounts/{ACCOUNT}/panic", headers={"Authorization": f"Bearer {viewer['id_token']}"}
    )
    assert response.status_code == 403


async def test_panic_package_goes_to_s3_with_a_presigned_url(aws_settings, sandbox):
    bucket = "vigilare-exports"
    client_for(sandbox, "123456789012", "s3").create_bucket(Bucket=bucket)
    configured = msgspec.structs.replace(aws_settings, export_bucket=bucket)
    async with AsyncTestClient(app=create_app(configured)) as client:
        headers = await owner_headers(client)
        await client.post("/accounts", headers=headers, json={"aws_account_id": ACCOUNT})
        body = (await client.post(f"/accounts/{ACCOUNT}/panic", headers=headers)).json()
    url = body["download_url"]
    assert "X-Amz-Expires=900" in url and "X-Amz-Signature=" in url
    download = httpx.get(url, timeout=30)
    assert download.status_code == 200
    assert "account.json" in zipfile.ZipFile(io.BytesIO(download.content)).namelist()


async def test_csv_export_streams_thousands_of_signals_and_neutralises_formulas(client, settings):
    from datetime import timedelta

    from sqlalchemy import select

    from tests.support.db import db_session
    from vigilare.accounts.models import AwsAccount
    from vigilare.ids import new_id, utcnow
    from vigilare.signals.models import Signal

    headers = await owner_headers(client)
    tenant_id = (await client.get("/me", headers=headers)).json()["tenant"]["tenant_id"]
    await client.post("/accounts", headers=headers, json={"aws_account_id": ACCOUNT})
    await update_tenant(settings, tenant_id, plan="agency", status="active")
    total = 5000
    async with db_session(settings.database_url) as session:
        account = await session.scalar(select(AwsAccount).where(AwsAccount.aws_account_id == ACCOUNT))
        start = utcnow() - timedelta(days=1)
        session.add_all(
            Signal(
                id=new_id(),
                tenant_id=tenant_id,
                account_id=account.id,
                fingerprint=f"{i:064d}",
                scenario="plugin",
                kind="note",
                severity="LOW",
                title='=HYPERLINK("http://evil")' if i == 0 else f'finding {i}, with "quotes"',
                description="-2+3" if i == 1 else "line one\nline two",
                region="us-east-1",
                resource=f"@resource-{i}",
                detected_at=start + timedelta(seconds=i),
                last_seen_at=start,
                details={},
            )
            for i in range(total)
        )
    response = await client.get(f"/accounts/{ACCOUNT}/export", headers=headers)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == total and len({r["signal_id"] for r in rows}) == total
    by_title = {r["title"]: r for r in rows}
    assert '\'=HYPERLINK("http://evil")' in by_title
    assert rows[1]["description"] == "'-2+3" and rows[2]["description"] == "line one\nline two"
    assert all(r["resource"].startswith("'@resource-") for r in rows)


@pytest.mark.parametrize(
    "signature",
    ["é" * 64, "ü", "\u202e" + "0" * 63, "\uff10" * 64, "", "zz", "0" * 64, "0" * 65, " " * 64, "\x00"],
    ids=["accents", "non-ascii", "bidi", "full-width", "empty", "short", "wrong", "long", "spaces", "nul"],
)
async def test_a_malformed_download_signature_is_a_403(client, signature):
    response = await client.get(
        "/exports/01JEXPORT0000000000000000.zip",
        params={"expires": int(time.time()) + 600, "signature": signature},
    )
    assert response.status_code == 403, response.text
    assert response.json() == {"error": "invalid download link"}
