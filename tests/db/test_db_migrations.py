"""Migrations that move data, run on PostgreSQL as an operator runs them (row-level security forced
on the tenant tables, for their owner too: a fill that forgot it would change no row)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest

from alembic import command
from tests.support.services import PG_ADMIN_URL
from vigilare.db.migrate import alembic_config

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, str]]:
    """An empty database owned by a role of its own that is not a superuser (a superuser passes
    row-level security), as a production database is: (SQLAlchemy URL, asyncpg DSN), as its owner."""
    suffix = uuid.uuid4().hex[:12]
    name, owner = f"vigilare_migration_{suffix}", f"vigilare_owner_{suffix}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        # CREATEROLE: the first migrations create the service's roles and join them (revision 0011).
        await admin.execute(f'CREATE ROLE "{owner}" LOGIN CREATEROLE')
        await admin.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    finally:
        await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("://postgres@", f"://{owner}@", 1)
    assert owner in base, "the admin URL names its user postgres"
    yield f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}", f"{base}/{name}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{owner}"')
    finally:
        await admin.close()


@asynccontextmanager
async def cross_tenant(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A transaction as the service's cross-tenant role, which sees every tenant's rows (the owner,
    with row-level security forced, sees none)."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE vigilare_system")
            yield connection
    finally:
        await connection.close()


def evidence_by_id(rows: list[asyncpg.Record]) -> dict[str, object]:
    return {row["id"]: json.loads(row["evidence"]) for row in rows}


async def test_the_account_evidence_comes_from_the_latest_completed_scan_and_goes_back(database) -> None:
    url, dsn = database
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0014")
    full = {"regions": ["eu-west-1"], "data": {"iam.credential_report": [{"user": "<root_account>"}]}}
    carried = {"regions": ["eu-west-1"], "data": {"iam.credential_report": [], "ec2.instances": {}}}
    async with cross_tenant(dsn) as connection:
        await connection.execute(
            "INSERT INTO tenants (id, name, plan, status, created_at, updated_at) "
            "VALUES ('t1', 'Tenant', 'team', 'active', $1, $1)",
            NOW,
        )
        for account in ("scanned", "never-scanned"):
            await connection.execute(
                "INSERT INTO aws_accounts (id, tenant_id, aws_account_id, tags, external_id, role_name,"
                " status, capabilities, connected_at, created_at, updated_at) "
                "VALUES ($1, 't1', $2, '[]', 'x', 'VigilareAudit', 'active', '{}', $3, $3, $3)",
                account,
                "111111111111" if account == "scanned" else "222222222222",
                NOW,
            )
        # The full scan, then a scheduled one whose row carried the merged evidence, then one
        # that failed and one still queued: the fill takes the latest completed scan's.
        for scan_id, status, finished, evidence in (
            ("s1", "succeeded", datetime(2026, 11, 29, 10, 0, tzinfo=UTC), full),
            ("s2", "partial", datetime(2026, 11, 29, 10, 5, tzinfo=UTC), carried),
            ("s3", "failed", datetime(2026, 11, 29, 10, 10, tzinfo=UTC), {}),
            ("s4", "queued", None, {}),
        ):
            await connection.execute(
                "INSERT INTO scans (id, tenant_id, account_id, trigger, status, queued_at,"
                " handed_at, finished_at, attempts, handoffs, outcomes, collection_errors, evidence,"
                " findings_count) "
                "VALUES ($1, 't1', 'scanned', 'scheduled', $2, $3, $3, $4, 1, 0, '{}', '[]', $5, 0)",
                scan_id,
                status,
                NOW,
                finished,
                json.dumps(evidence),
            )

    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")

    async with cross_tenant(dsn) as connection:
        accounts = await connection.fetch("SELECT id, evidence::text AS evidence FROM aws_accounts")
    assert evidence_by_id(accounts) == {"scanned": carried, "never-scanned": {}}

    # A scheduled scan after the upgrade keeps only what it read; the account has the rest. Going
    # back, the latest completed scan gets the account's evidence again, as the old code reads it.
    merged = {"regions": ["eu-west-1"], "data": {"iam.credential_report": [], "ec2.instances": {"a": 1}}}
    async with cross_tenant(dsn) as connection:
        await connection.execute(
            "UPDATE scans SET status = 'succeeded', finished_at = $1, evidence = $2 WHERE id = 's4'",
            datetime(2026, 11, 29, 10, 15, tzinfo=UTC),
            json.dumps({"data": {"ec2.instances": {"a": 1}}}),
        )
        await connection.execute(
            "UPDATE aws_accounts SET evidence = $1 WHERE id = 'scanned'", json.dumps(merged)
        )

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0014")

    async with cross_tenant(dsn) as connection:
        scans = await connection.fetch("SELECT id, evidence::text AS evidence FROM scans")
    assert evidence_by_id(scans) == {"s1": full, "s2": carried, "s3": {}, "s4": merged}
