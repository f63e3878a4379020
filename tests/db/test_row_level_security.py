"""PostgreSQL row-level security, the second wall behind the ORM's tenant filter.

Every table with a tenant column is found in the models' metadata, so a table added later without
its policies fails here. Rows of two tenants are written in every such table (as the owner), then
read and written with raw SQL — the ORM filter does not touch ``text()`` — through the sessions the
service opens, on the role the service connects as.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

import vigilare
from tests.support.api import owner_headers
from vigilare.auth.models import User
from vigilare.config import Settings
from vigilare.db import tenancy
from vigilare.db.engine import (
    CrossTenantSessions,
    SessionFactory,
    TenantSessions,
    create_engine,
    create_session_factory,
    owned_tables,
)
from vigilare.db.reads import CheckRefused, ReadEnded, begin_statement, tenant_read
from vigilare.db.tenancy import APP_ROLE, SYSTEM_ROLE, TENANT_SETTING, UnscopedSession, VigilareSession
from vigilare.ids import new_id, utcnow
from vigilare.models import metadata

pytestmark = pytest.mark.usefixtures("settings")


def tenant_column(table: sa.Table) -> str | None:
    """The column naming a row's tenant: ``tenant_id``, or the tenant row's own ``id``."""
    if table.name == "tenants":
        return "id"
    return "tenant_id" if "tenant_id" in table.c else None


TENANT_TABLES = [table for table in metadata.sorted_tables if tenant_column(table)]


def test_the_metadata_has_the_tenant_tables() -> None:
    names = {table.name for table in TENANT_TABLES}
    assert {"tenants", "users", "aws_accounts", "signals", "alerts", "scans"} <= names


def _value(table: sa.Table, column: sa.Column[Any], tag: str, number: int) -> Any:
    """A valid value for a required column, distinct per tenant (unique columns stay unique)."""
    kind = column.type
    base = kind.impl_instance if isinstance(kind, sa.TypeDecorator) else kind
    if isinstance(base, sa.DateTime):
        return utcnow()
    python_type: type[Any] | None
    try:
        python_type = kind.python_type
    except NotImplementedError:
        python_type = None
    if python_type is datetime:
        return utcnow()
    if python_type is date:
        return utcnow().date()
    if python_type is bool:
        return False
    if python_type is int:
        return number
    if python_type is float:
        return 1.0
    if python_type in (dict, list) or isinstance(kind, sa.JSON):
        return {}
    length = getattr(kind, "length", None) or 64
    value = f"{tag}{number:02d}{uuid.uuid4().hex}"
    if column.name == "aws_account_id":
        value = f"{100000000000 + number}"
    return value[:length]


async def _seed_every_tenant_table(owner: AsyncEngine, tenants: dict[str, str]) -> None:
    """One row per tenant in every tenant table, written as the owner (parents first)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    async with owner.begin() as connection:
        for number, table in enumerate(TENANT_TABLES):
            for tag, tenant_id in tenants.items():
                row: dict[str, Any] = {}
                for column in table.columns:
                    foreign = next(iter(column.foreign_keys), None)
                    if column.name == tenant_column(table):
                        row[column.name] = tenant_id
                    elif foreign is not None and (foreign.column.table.name, tag) in rows:
                        row[column.name] = rows[(foreign.column.table.name, tag)][foreign.column.name]
                    elif column.primary_key:
                        row[column.name] = new_id()
                    elif column.nullable or column.default is not None or column.server_default is not None:
                        continue
                    else:
                        row[column.name] = _value(table, column, tag, number)
                await connection.execute(sa.insert(table).values(**row))
                rows[(table.name, tag)] = row


@pytest.fixture
async def two_tenants(settings: Settings) -> AsyncIterator[dict[str, str]]:
    tenants = {"a": new_id(), "b": new_id()}
    owner = create_engine(settings.database_url)
    try:
        await _seed_every_tenant_table(owner, tenants)
    finally:
        await owner.dispose()
    yield tenants


@pytest.fixture
async def app_factory(settings: Settings) -> AsyncIterator[SessionFactory]:
    """The service's session factory on the role the service connects as (one pooled connection)."""
    engine = create_engine(settings.app_database_url, pool_size=1, max_overflow=0)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("table", TENANT_TABLES, ids=lambda table: table.name)
async def test_every_tenant_table_forces_row_level_security_with_both_policies(
    settings: Settings, table: sa.Table
) -> None:
    owner = create_engine(settings.database_url)
    try:
        async with owner.connect() as connection:
            enabled, forced = (
                await connection.execute(
                    text(
                        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                        "WHERE oid = CAST(:t AS regclass)"
                    ),
                    {"t": table.name},
                )
            ).one()
            policies = {
                row.policyname: row
                for row in await connection.execute(
                    text(
                        "SELECT policyname, roles, cmd, qual, with_check FROM pg_policies "
                        "WHERE tablename = :t"
                    ),
                    {"t": table.name},
                )
            }
    finally:
        await owner.dispose()
    assert enabled and forced, f"{table.name}: ENABLE and FORCE ROW LEVEL SECURITY"
    assert set(policies) == {"tenant_isolation", "cross_tenant"}, table.name
    own = policies["tenant_isolation"]
    assert list(own.roles) == [APP_ROLE] and own.cmd == "ALL"
    expected = f"(({tenant_column(table)})::text = current_setting('{TENANT_SETTING}'::text, true))"
    assert own.qual == expected and own.with_check == expected
    every = policies["cross_tenant"]
    assert list(every.roles) == [SYSTEM_ROLE] and every.cmd == "ALL" and every.qual == "true"


async def test_raw_sql_through_a_tenant_session_sees_none_of_another_tenants_rows(
    two_tenants: dict[str, str], app_factory: SessionFactory
) -> None:
    for tag, tenant_id in two_tenants.items():
        async with TenantSessions(app_factory, tenant_id)() as session:
            for table in TENANT_TABLES:
                column = tenant_column(table)
                seen = list(await session.scalars(text(f'SELECT "{column}" FROM "{table.name}"')))
                assert seen == [tenant_id], f"tenant {tag} reads {table.name}: {seen}"
                other = next(t for t in two_tenants.values() if t != tenant_id)
                found = await session.scalar(
                    text(f'SELECT count(*) FROM "{table.name}" WHERE "{column}" = :other'),
                    {"other": other},
                )
                assert found == 0, f"tenant {tag} finds the other tenant's row in {table.name}"


@pytest.mark.parametrize("table", TENANT_TABLES, ids=lambda table: table.name)
async def test_a_tenant_session_cannot_write_another_tenants_id(
    two_tenants: dict[str, str], app_factory: SessionFactory, table: sa.Table
) -> None:
    column = tenant_column(table)
    update = text(f'UPDATE "{table.name}" SET "{column}" = :other')
    async with TenantSessions(app_factory, two_tenants["a"])() as session:
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(update, {"other": two_tenants["b"]})
    # Nor touch the other tenant's row at all: it is not there to update or delete.
    async with TenantSessions(app_factory, two_tenants["a"])() as session:
        deleted = await session.execute(
            text(f'DELETE FROM "{table.name}" WHERE "{column}" = :other'),
            {"other": two_tenants["b"]},
        )
        assert deleted.rowcount == 0
        await session.rollback()


async def test_a_tenant_session_cannot_insert_a_row_of_another_tenant(
    two_tenants: dict[str, str], app_factory: SessionFactory
) -> None:
    insert = text(
        "INSERT INTO score_points (id, tenant_id, account_id, day, srs, computed_at) "
        "SELECT :id, :other, id, CURRENT_DATE - 400, 50, now() FROM aws_accounts"
    )
    async with CrossTenantSessions(app_factory)() as session:
        account_of_b = await session.scalar(
            text("SELECT id FROM aws_accounts WHERE tenant_id = :b"), {"b": two_tenants["b"]}
        )
    async with TenantSessions(app_factory, two_tenants["a"])() as session:
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(
                text(
                    "INSERT INTO score_points (id, tenant_id, account_id, day, srs, computed_at) "
                    "VALUES (:id, :other, :account, CURRENT_DATE - 400, 50, now())"
                ),
                {"id": new_id(), "other": two_tenants["b"], "account": account_of_b},
            )
    async with TenantSessions(app_factory, two_tenants["a"])() as session:
        # Its own tenant's row goes in (what the policy allows, it allows).
        result = await session.execute(insert, {"id": new_id(), "other": two_tenants["a"]})
        assert result.rowcount == 1  # only a's account is visible to copy from
        await session.rollback()


async def test_the_service_role_owns_no_table_and_cannot_bypass_the_policies(
    settings: Settings, app_factory: SessionFactory, two_tenants: dict[str, str]
) -> None:
    engine = create_engine(settings.app_database_url)
    try:
        async with engine.connect() as connection:
            who = (
                await connection.execute(
                    text(
                        "SELECT current_user AS name, rolsuper, rolbypassrls, rolinherit FROM pg_roles "
                        "WHERE rolname = current_user"
                    )
                )
            ).one()
            owned = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_tables "
                    "WHERE schemaname = current_schema() AND tableowner = current_user"
                )
            )
            system = (
                await connection.execute(
                    text("SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = :r"),
                    {"r": SYSTEM_ROLE},
                )
            ).one()
            # Connected but in no tenant's transaction: the policies show nothing.
            visible = await connection.scalar(text("SELECT count(*) FROM signals"))
            # ...and it cannot take the policies off.
            with pytest.raises(DBAPIError, match="must be owner"):
                await connection.execute(text("ALTER TABLE signals NO FORCE ROW LEVEL SECURITY"))
    finally:
        await engine.dispose()
    assert who.name == APP_ROLE and not who.rolsuper and not who.rolbypassrls
    # NOINHERIT: vigilare_system's policy applies only after an explicit SET ROLE.
    assert not who.rolinherit
    assert owned == 0
    assert tuple(system) == (False, False, False)
    assert visible == 0


async def test_no_setting_outlives_its_transaction_on_a_pooled_connection(
    app_factory: SessionFactory, two_tenants: dict[str, str]
) -> None:
    probe = text(
        "SELECT pg_backend_pid() AS pid, current_user AS role, "
        f"current_setting('{TENANT_SETTING}', true) AS tenant"
    )
    a, b = two_tenants["a"], two_tenants["b"]
    async with TenantSessions(app_factory, a)() as session:
        first = (await session.execute(probe)).one()
        await session.commit()
    assert (first.role, first.tenant) == (APP_ROLE, a)

    async with CrossTenantSessions(app_factory)() as session:
        crossing = (await session.execute(probe)).one()
        tenants = set(await session.scalars(text("SELECT tenant_id FROM signals")))
        await session.rollback()
    assert (crossing.pid, crossing.role, crossing.tenant) == (first.pid, SYSTEM_ROLE, "")
    assert tenants == {a, b}

    with pytest.raises(ZeroDivisionError):
        async with TenantSessions(app_factory, b)() as session:
            await session.execute(probe)
            raise ZeroDivisionError  # a request that fails mid-transaction

    # The same connection outside any session: neither a tenant nor the cross-tenant role remains.
    engine = app_factory.kw["bind"]
    async with engine.connect() as connection:
        after = (await connection.execute(probe)).one()
        leaked = await connection.scalar(text("SELECT count(*) FROM aws_accounts"))
    assert after.pid == first.pid
    assert after.role == APP_ROLE and not after.tenant and leaked == 0

    async with TenantSessions(app_factory, b)() as session:
        again = (await session.execute(probe)).one()
        seen = set(await session.scalars(text("SELECT tenant_id FROM aws_accounts")))
    assert (again.pid, again.tenant) == (first.pid, b) and seen == {b}


async def test_a_session_that_names_no_tenant_is_refused(app_factory: SessionFactory) -> None:
    async with app_factory() as session:
        with pytest.raises(UnscopedSession):
            await session.execute(text("SELECT 1"))


async def test_a_session_that_names_no_tenant_is_refused_on_sqlite_too(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with create_session_factory(engine)() as session:
            with pytest.raises(UnscopedSession):
                await session.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


# Where the service opens a cross-tenant session, and why. A new one is a decision: add it here
# with its reason, in the README's "Tenant isolation" too.
CROSS_TENANT_CALLERS = {
    # the session of public routes (sign-up, login, refresh, invitations, Stripe and Slack
    # callbacks, the ingest route): no caller, so no tenant yet
    "vigilare/api/deps.py",
    # the console's refresh of an expired id token: the API's refresh, before a tenant is known
    "vigilare/api/console/session.py",
    # jobs: their arguments are row ids the service itself queued; each acts on rows it looks up
    "vigilare/auth/jobs.py",
    "vigilare/users/jobs.py",
    "vigilare/scans/jobs.py",
    "vigilare/scans/scheduler.py",
    "vigilare/scans/recovery.py",
    "vigilare/billing/jobs.py",
    "vigilare/ingest/jobs.py",
    "vigilare/alerts/jobs.py",
    # the unit of work that opens the sessions above, and the jobs' way to it; the outbox (every
    # tenant's queued jobs: names and row ids) and its relay
    "vigilare/jobs/outbox.py",
    "vigilare/jobs/context.py",
    "vigilare/jobs/relay.py",
    # periodic jobs' claims of their period (periodic_runs: no tenant's rows)
    "vigilare/jobs/periodic.py",
    # the path itself
    "vigilare/db/engine.py",
    "vigilare/db/tenancy.py",
}


def _opens_cross_tenant(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in {"cross_tenant", "open_cross_tenant", "CrossTenantSessions"}:
                return True
            if name == "request_transaction" and any(
                isinstance(arg, ast.Constant) and arg.value is None for arg in node.args
            ):
                return True
            for keyword in node.keywords:
                if keyword.arg == "cross_tenant" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                ):
                    return True
        if isinstance(node, ast.Name) and node.id == "CROSS_TENANT_KEY":
            return True
    return False


def test_the_cross_tenant_path_is_opened_only_where_it_says() -> None:
    package = Path(vigilare.__file__).parent
    callers = {
        str(path.relative_to(package.parent))
        for path in sorted(package.rglob("*.py"))
        if _opens_cross_tenant(ast.parse(path.read_text(), str(path)))
    }
    assert callers == CROSS_TENANT_CALLERS


async def test_connected_as_the_owner_each_transaction_still_runs_under_the_policies(
    settings: Settings, two_tenants: dict[str, str]
) -> None:
    """Without VIGILARE_DATABASE_APP_URL the service connects with VIGILARE_DATABASE_URL, as before
    this change; its transactions still switch to vigilare_app (or vigilare_system)."""
    engine = create_engine(settings.database_url)
    try:
        factory = create_session_factory(engine)
        async with TenantSessions(factory, two_tenants["a"])() as session:
            role = await session.scalar(text("SELECT current_user"))
            seen = set(await session.scalars(text("SELECT tenant_id FROM signals")))
        async with CrossTenantSessions(factory)() as session:
            every = set(await session.scalars(text("SELECT tenant_id FROM signals")))
    finally:
        await engine.dispose()
    assert role == APP_ROLE and seen == {two_tenants["a"]}
    assert every == set(two_tenants.values())


async def test_start_up_warns_when_the_service_connects_as_the_tables_owner(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    owner, service = create_engine(settings.database_url), create_engine(settings.app_database_url)
    try:
        with caplog.at_level(logging.WARNING, logger="vigilare.db"):
            assert await owned_tables(service) == 0
            assert caplog.records == []
            assert await owned_tables(owner) == len(metadata.tables) + 1  # and alembic_version
    finally:
        await owner.dispose()
        await service.dispose()
    assert "VIGILARE_DATABASE_APP_URL" in caplog.text


@pytest.fixture
def without_the_orm_filter() -> Iterator[None]:
    """The first wall taken down: sessions scoped to a tenant no longer filter ORM statements."""
    sa.event.remove(VigilareSession, "do_orm_execute", tenancy._restrict_to_tenant)
    try:
        yield
    finally:
        sa.event.listen(VigilareSession, "do_orm_execute", tenancy._restrict_to_tenant)


async def test_the_api_keeps_tenants_apart_on_row_level_security_alone(
    client: Any, without_the_orm_filter: None
) -> None:
    a = await owner_headers(client, "owner@a.test")
    b = await owner_headers(client, "owner@b.test")
    for headers, aws_account_id in ((a, "111111111111"), (b, "222222222222")):
        created = await client.post("/accounts", headers=headers, json={"aws_account_id": aws_account_id})
        assert created.status_code == 201, created.text
    listed = await client.get("/accounts", headers=a)
    assert [item["aws_account_id"] for item in listed.json()["accounts"]] == ["111111111111"]
    assert (await client.get("/accounts/222222222222", headers=a)).status_code == 404
    assert (await client.delete("/accounts/222222222222", headers=a)).status_code == 404
    me_a, me_b = (await client.get("/me", headers=a)).json(), (await client.get("/me", headers=b)).json()
    assert me_a["tenant"]["tenant_id"] != me_b["tenant"]["tenant_id"]
    users = await client.get("/users", headers=a)
    assert [user["email"] for user in users.json()["users"]] == ["owner@a.test"]
    # And B still has its account: A's delete found nothing to delete.
    assert (await client.get("/accounts/222222222222", headers=b)).status_code == 200


# --- the hot listings' path: a TenantRead on the driver's connection (vigilare.db.reads) -------------

_READ_PROBE = (
    "SELECT pg_backend_pid() AS pid, current_user AS role, "
    f"current_setting('{TENANT_SETTING}', true) AS tenant"
)


async def test_a_tenant_read_sees_none_of_another_tenants_rows(
    two_tenants: dict[str, str], app_factory: SessionFactory
) -> None:
    """SQL that names no tenant at all, in a TenantRead: row-level security alone keeps tenants apart."""
    engine = app_factory.kw["bind"]
    for tag, tenant_id in two_tenants.items():
        async with tenant_read(engine, tenant_id) as read:
            assert (await read.fetchrow(_READ_PROBE))["role"] == APP_ROLE
            for table in TENANT_TABLES:
                column = tenant_column(table)
                seen = [row[0] for row in await read.fetch(f'SELECT "{column}" FROM "{table.name}"')]
                assert seen == [tenant_id], f"tenant {tag} reads {table.name}: {seen}"


async def test_a_tenant_read_cannot_write(two_tenants: dict[str, str], app_factory: SessionFactory) -> None:
    engine = app_factory.kw["bind"]
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        async with tenant_read(engine, two_tenants["a"]) as read:
            await read.fetch("UPDATE aws_accounts SET display_name = 'changed' RETURNING id")


async def test_no_setting_outlives_a_tenant_read_on_a_pooled_connection(
    app_factory: SessionFactory, two_tenants: dict[str, str]
) -> None:
    engine = app_factory.kw["bind"]  # one pooled connection: every read below gets the same one
    a, b = two_tenants["a"], two_tenants["b"]
    async with tenant_read(engine, a) as read:
        first = await read.fetchrow(_READ_PROBE)
    assert (first["role"], first["tenant"]) == (APP_ROLE, a)

    with pytest.raises(ZeroDivisionError):
        async with tenant_read(engine, b) as read:
            await read.fetchrow(_READ_PROBE)
            raise ZeroDivisionError  # a request that fails mid-read (a 404, a bad cursor)

    async def after_reads() -> Any:
        async with engine.connect() as connection:
            probe = (await connection.execute(text(_READ_PROBE))).one()
            leaked = await connection.scalar(text("SELECT count(*) FROM aws_accounts"))
        assert probe.role == APP_ROLE and not probe.tenant and leaked == 0
        return probe

    assert (await after_reads()).pid == first["pid"]  # the same connection, nothing left on it

    # A read cancelled mid-statement (the client went away): its connection is closed, not reused.
    started = asyncio.Event()

    async def slow_read() -> None:
        async with tenant_read(engine, b) as read:
            started.set()
            await read.fetch("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow_read())
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await after_reads()).pid != first["pid"]

    # A listing ends its read after its last statement: the connection is back in the pool (the
    # only one: the nested read gets it) while the request goes on, and the ended read refuses more.
    async with tenant_read(engine, a) as read:
        await read.fetch("SELECT id FROM aws_accounts")
        await read.end()
        async with tenant_read(engine, b) as other:
            nested = await other.fetchrow(_READ_PROBE)
        with pytest.raises(ReadEnded):
            await read.fetch("SELECT id FROM aws_accounts")
    assert (nested["pid"], nested["tenant"]) == ((await after_reads()).pid, b)

    # A tenant id that is not safe as an SQL literal is bound as a parameter, and holds the same way.
    odd = "o'dd; RESET ROLE"
    assert begin_statement(odd) is None
    async with tenant_read(engine, odd) as read:
        probe = await read.fetchrow(_READ_PROBE)
        seen = await read.fetch("SELECT id FROM aws_accounts")
    assert (probe["role"], probe["tenant"], seen) == (APP_ROLE, odd, [])
    await after_reads()


async def test_a_tenant_read_checks_its_caller_under_the_policies_and_stays_pooled_when_refused(
    app_factory: SessionFactory, two_tenants: dict[str, str], settings: Settings
) -> None:
    """The caller check travels with ``BEGIN`` (``tenant_read(..., check=...)``, migration 0014): it
    runs after the read's role and tenant are set, so it sees its own tenant's users only; a check
    that does not hold ends the read (``CheckRefused``) and the connection, rolled back, stays pooled
    with nothing left on it."""
    engine = app_factory.kw["bind"]  # one pooled connection
    a, b = two_tenants["a"], two_tenants["b"]
    user_id = new_id()
    owner = create_engine(settings.database_url)
    try:
        async with owner.begin() as connection:
            await connection.execute(
                sa.insert(User.__table__).values(
                    id=user_id,
                    tenant_id=a,
                    email=f"{user_id}@a.test",
                    name="Ann",
                    role="viewer",
                    status="active",
                    token_version=3,
                )
            )
    finally:
        await owner.dispose()

    def check(tenant: str, version: int = 3, role: str = "viewer") -> str:
        return f"SELECT vigilare_check_caller('{user_id}', '{tenant}', '{new_id()}', {version}, '{role}')"

    async with tenant_read(engine, a, check=check(a)) as read:
        first = await read.fetchrow(_READ_PROBE)
    assert (first["role"], first["tenant"]) == (APP_ROLE, a)

    refusals = {
        "in another tenant's read, the user's row is not there": (b, check(a)),
        "another tenant named": (a, check(b)),
        "an older token version": (a, check(a, version=2)),
        "another role than the user's": (a, check(a, role="owner")),
    }
    for why, (tenant, statement) in refusals.items():
        with pytest.raises(CheckRefused) as refused:
            async with tenant_read(engine, tenant, check=statement):
                raise AssertionError(f"the read began: {why}")
        assert refused.value.sqlstate == "VGA01", why

    async with engine.connect() as connection:
        # An aborted transaction left open would refuse this statement.
        probe = (await connection.execute(text(_READ_PROBE))).one()
    assert (probe.pid, probe.role, probe.tenant) == (first["pid"], APP_ROLE, "")
