"""One output view: the API, the CSV export, the panic package and alert snapshots show the same signal."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from sqlalchemy import select

from tests.support.accounts import all_signals, connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from tests.support.db import db_session, update_tenant
from vigilare.alerts.models import Alert
from vigilare.exports.signals_csv import CSV_COLUMNS
from vigilare.plugin import Finding, Severity
from vigilare.signals.models import FINDING_COLUMNS, Signal, finding_values
from vigilare.signals.schemas import SignalOut
from vigilare.signals.view import ALERT_SNAPSHOT_FIELDS, SignalView, signal_view
from vigilare_sandbox.seed_aws import create_public_bucket, create_quarantined_user

ACCOUNT = "210987654321"
DETECTED = datetime(2026, 5, 22, 10, 30, tzinfo=UTC)


def _row(**overrides: object) -> Signal:
    fields: dict[str, object] = {
        "id": "01JSIGNAL0000000000000000001",
        "scenario": "exposure",
        "kind": "public_bucket_read",
        "severity": "HIGH",
        "title": "Bucket assets is publicly readable",
        "description": "Anyone can read it.",
        "region": "global",
        "resource": "arn:aws:s3:::assets",
        "remediation": "Block public access.",
        "docs_url": "https://docs.aws.amazon.com/AmazonS3/latest/userguide/",
        "details": {"bucket": "assets"},
        "detected_at": DETECTED.replace(tzinfo=None),  # SQLite hands naive UTC back
        "last_seen_at": DETECTED + timedelta(hours=1),
        "resolved_at": None,
    }
    fields.update(overrides)
    return Signal(**fields)


def test_the_view_has_every_api_field_plus_details() -> None:
    assert list(SignalView.__struct_fields__) == [*SignalOut.__struct_fields__, "details"]
    assert set(CSV_COLUMNS) <= set(SignalView.__struct_fields__)
    assert set(ALERT_SNAPSHOT_FIELDS) <= set(SignalView.__struct_fields__)


def test_each_output_takes_its_fields_from_the_view() -> None:
    view = signal_view(_row())
    api = view.api()
    assert type(api) is SignalOut
    assert api.signal_id == "01JSIGNAL0000000000000000001"
    assert api.detected_at == "2026-05-22T10:30:00+00:00" and api.last_seen_at == "2026-05-22T11:30:00+00:00"
    assert api.resolved_at is None
    assert view.as_json() == {
        **{name: getattr(api, name) for name in SignalOut.__struct_fields__},
        "details": {"bucket": "assets"},
    }
    assert view.csv_cells() == [
        "01JSIGNAL0000000000000000001",
        "exposure",
        "public_bucket_read",
        "HIGH",
        "Bucket assets is publicly readable",
        "Anyone can read it.",
        "global",
        "arn:aws:s3:::assets",
        "2026-05-22T10:30:00+00:00",
        "",
        "scan",
    ]
    assert view.alert_snapshot() == {
        "severity": "HIGH",
        "scenario": "exposure",
        "title": "Bucket assets is publicly readable",
        "region": "global",
        "resource": "arn:aws:s3:::assets",
    }
    # An empty region or resource is None in the alert (PagerDuty shows null), "" elsewhere.
    bare = signal_view(_row(region="", resource=""))
    assert (bare.alert_snapshot()["region"], bare.alert_snapshot()["resource"]) == (None, None)
    assert (bare.api().region, bare.api().resource) == ("", "")


def test_a_finding_fills_the_columns_of_the_same_name_cut_to_their_length() -> None:
    finding = Finding(
        scenario="exposure",
        kind="public_bucket_read",
        severity=Severity.HIGH,
        title="t" * 600,
        description="d",
        resource="arn:aws:s3:::assets",
        region="r" * 40,
        details={"bucket": "assets"},
    )
    values = finding_values(finding)
    assert set(values) == set(FINDING_COLUMNS) == set(Finding.__struct_fields__)
    assert values["severity"] == "HIGH" and type(values["severity"]) is str
    assert (len(values["title"]), len(values["region"])) == (500, 32)
    assert values["details"] == {"bucket": "assets"} and values["details"] is not finding.details


async def test_api_csv_panic_package_and_alert_show_the_same_signals(aws_client, sandbox, settings) -> None:
    create_quarantined_user(sandbox, ACCOUNT, "ci-deployer")
    create_public_bucket(sandbox, ACCOUNT, "acme-public-assets")
    headers = await owner_headers(aws_client)
    tenant_id = (await aws_client.get("/me", headers=headers)).json()["tenant"]["tenant_id"]
    await update_tenant(settings, tenant_id, plan="team", status="active")
    rule = await aws_client.post(
        "/alert-rules",
        headers=headers,
        json={
            "name": "All",
            "channels": [{"type": "email", "to": ["oncall@acme.test"]}],
            "min_severity": "LOW",
        },
    )
    assert rule.status_code == 201, rule.text
    verified = await connect_and_verify(aws_client, headers, sandbox, ACCOUNT)
    await wait_for_scan(aws_client, headers, ACCOUNT, verified["first_scan_execution_arn"], timeout=120)

    api = {s["signal_id"]: s for s in await all_signals(aws_client, headers, ACCOUNT)}
    assert {"quarantine_policy", "public_bucket_read"} <= {s["kind"] for s in api.values()}
    assert all(set(s) == set(SignalOut.__struct_fields__) for s in api.values())

    export = await aws_client.get(f"/accounts/{ACCOUNT}/export", headers=headers)
    assert export.status_code == 200, export.text
    csv_rows = list(csv.DictReader(io.StringIO(export.text)))
    assert list(csv_rows[0]) == list(CSV_COLUMNS)
    assert {row["signal_id"]: row for row in csv_rows} == {
        signal_id: {column: signal[column] or "" for column in CSV_COLUMNS}
        for signal_id, signal in api.items()
    }

    panic = (await aws_client.post(f"/accounts/{ACCOUNT}/panic", headers=headers)).json()
    url = urlparse(panic["download_url"])
    archive = zipfile.ZipFile(io.BytesIO((await aws_client.get(f"{url.path}?{url.query}")).content))
    packaged = {s["signal_id"]: s for s in json.loads(archive.read("signals.json"))}
    assert {
        signal_id: {k: v for k, v in s.items() if k != "details"} for signal_id, s in packaged.items()
    } == api
    assert all(isinstance(s["details"], dict) for s in packaged.values())
    assert list(csv.DictReader(io.StringIO(archive.read("signals.csv").decode()))) == csv_rows

    async with db_session(settings.database_url) as session:
        alert = await session.scalar(select(Alert).where(Alert.aws_account_id == ACCOUNT))
    assert alert is not None
    assert sorted(alert.signal_ids) == sorted(api)
    expected = [{name: signal[name] or None for name in ALERT_SNAPSHOT_FIELDS} for signal in api.values()]
    assert sorted(alert.signals, key=repr) == sorted(expected, key=repr)
