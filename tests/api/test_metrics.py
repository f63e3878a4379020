"""/metrics on the API: each family counts real work (a scan with its AWS calls, an alert delivery,
HTTP requests by route template, pushed events), in the Prometheus text format, behind the token."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support.accounts import wait_for_scan
from tests.support.alerts import alert_settings, email_channel
from tests.support.api import owner_headers
from tests.support.aws import SENTINEL_ACCOUNT_ID
from tests.support.waiting import eventually
from vigilare.api.app import create_app
from vigilare_sandbox.seed import register_customer_role
from vigilare_sandbox.seed_aws import create_public_bucket

ACCOUNT = "210987654321"


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: Any, **headers: str) -> dict:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_metrics_count_scans_aws_calls_deliveries_and_requests(
    aws_settings, sandbox, smtp_sink, fake_slack
):
    settings = alert_settings(aws_settings, smtp_sink, fake_slack)
    create_public_bucket(sandbox, ACCOUNT, "metrics-public-bucket")
    async with AsyncTestClient(app=create_app(settings)) as client:
        before = await scrape(client)
        headers = await owner_headers(client)
        rule = await client.post(
            "/alert-rules",
            headers=headers,
            json={
                "name": "Exposure",
                "min_srs": 0,
                "scenarios": ["exposure"],
                "channels": [email_channel("oncall@acme.test")],
            },
        )
        assert rule.status_code == 201
        created = await client.post("/accounts", headers=headers, json={"aws_account_id": ACCOUNT})
        role_name, external_id = created.json()["role_name"], created.json()["external_id"]
        # First the role refuses us (another external id): STS answers AccessDenied.
        sandbox.register_guarded_role(
            f"arn:aws:iam::{ACCOUNT}:role/{role_name}", "not-the-external-id", SENTINEL_ACCOUNT_ID
        )
        assert (await client.post(f"/accounts/{ACCOUNT}/verify", headers=headers)).status_code == 422
        register_customer_role(sandbox, ACCOUNT, role_name, external_id, SENTINEL_ACCOUNT_ID)
        verified = await client.post(f"/accounts/{ACCOUNT}/verify", headers=headers)
        assert verified.status_code == 200
        scan = await wait_for_scan(client, headers, ACCOUNT, verified.json()["first_scan_execution_arn"])

        polled = await scrape(client)
        for _ in range(3):
            answer = await client.get(f"/accounts/{ACCOUNT}/scans/{scan['scan_id']}", headers=headers)
            assert answer.status_code == 200
        assert (await client.get("/no/such/path/01JSECRETID")).status_code == 404

        async def delivered():
            now = await scrape(client)
            gained = value(
                now, "vigilare_alert_deliveries_total", channel="email", outcome="delivered"
            ) - value(before, "vigilare_alert_deliveries_total", channel="email", outcome="delivered")
            return now if gained == 1 else None

        after = await eventually(delivered)
        body = (await client.get("/metrics")).text

    def gained(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert gained("vigilare_scans_total", trigger="verify", outcome=scan["status"]) == 1
    assert gained("vigilare_scan_duration_seconds_count", trigger="verify") == 1
    assert gained("vigilare_aws_calls_total", service="sts", operation="AssumeRole", outcome="ok") >= 2
    assert gained("vigilare_aws_calls_total", service="sts", operation="AssumeRole", outcome="denied") == 1
    assert gained("vigilare_aws_calls_total", service="s3", operation="ListBuckets", outcome="ok") == 1
    assert gained("vigilare_jobs_total", job="scan_account", outcome="ok") == 1
    # The scan's own AWS calls, one observation per scan: at least its ListBuckets, at most every
    # call counted meanwhile (the verification's calls are not the scan's).
    assert gained("vigilare_scan_aws_calls_count", trigger="verify") == 1
    every_call = sum(
        value(after, name, **dict(labels)) - value(before, name, **dict(labels))
        for name, labels in after
        if name == "vigilare_aws_calls_total"
    )
    assert 1 <= gained("vigilare_scan_aws_calls_sum", trigger="verify") < every_call
    # The process's resident memory (the largest live process in multi-process mode).
    assert value(after, "vigilare_process_resident_memory_bytes") > 20 * 1024 * 1024
    assert gained("vigilare_job_wait_seconds_count", job="scan_account") == 1
    # Route templates, never raw paths: the ids in the paths are not labels.
    route = "/accounts/{account_id}/scans/{scan_id}"
    labels = {"method": "GET", "route": route, "status": "200"}
    assert (
        value(after, "vigilare_http_requests_total", **labels)
        - value(polled, "vigilare_http_requests_total", **labels)
        == 3
    )
    assert (
        gained(
            "vigilare_http_requests_total",
            method="POST",
            route="/accounts/{account_id}/verify",
            status="422",
        )
        == 1
    )
    assert gained("vigilare_http_requests_total", method="GET", route="(unmatched)", status="404") == 1
    assert scan["scan_id"] not in body and "01JSECRETID" not in body and ACCOUNT not in body


async def test_metrics_count_pushed_events(client):
    before = await scrape(client)
    refused = await client.post(
        "/ingest/aws-events", headers={"X-Vigilare-Ingest-Key": "nope"}, content=b"{}"
    )
    assert refused.status_code == 401
    after = await scrape(client)
    assert (
        value(after, "vigilare_ingest_events_total", outcome="refused")
        - value(before, "vigilare_ingest_events_total", outcome="refused")
        == 1
    )


async def test_metrics_need_the_token_when_one_is_set(settings):
    with_token = msgspec.structs.replace(settings, metrics_token="scrape-token-" + "s" * 20)
    async with AsyncTestClient(app=create_app(with_token)) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 401 and wrong.json() == {"error": "a valid metrics token is required"}
        right = await client.get("/metrics", headers={"Authorization": f"Bearer {with_token.metrics_token}"})
        assert right.status_code == 200 and "vigilare_http_requests_total" in right.text


async def test_production_serves_no_metrics_without_a_token(settings):
    production = msgspec.structs.replace(settings, env="production")
    async with AsyncTestClient(app=create_app(production)) as client:
        answer = await client.get("/metrics")
        assert answer.status_code == 404 and answer.json() == {"error": "not found"}
