"""row-level security: every tenant table shows and takes only the rows of the transaction's tenant

The second wall behind the ORM's tenant filter (see ``vigilare.db.tenancy``). On PostgreSQL only
(SQLite has no row-level security):

- the roles, created when missing (cluster-wide, so shared by every Vigilare database on the
  server): ``vigilare_app``, the role the API and workers connect as (LOGIN, NOINHERIT, owns
  nothing, no BYPASSRLS; give it a password with ``ALTER ROLE vigilare_app PASSWORD '...'``), and
  ``vigilare_system`` (NOLOGIN), the explicit cross-tenant path that ``vigilare_app`` may switch to
  with ``SET LOCAL ROLE`` but does not inherit. The migrating role (the tables' owner) becomes a
  member of both, so an application that still connects as the owner switches the same way;
- both may read and write the tables (not alembic_version), also tables later migrations create
  (default privileges); job_outbox, every tenant's queued jobs (names and row ids), is not a
  tenant table;
- every tenant table: ENABLE and FORCE ROW LEVEL SECURITY, policy ``tenant_isolation`` for
  ``vigilare_app`` (the row's tenant is ``current_setting('vigilare.tenant_id')``, for reads and
  writes alike) and policy ``cross_tenant`` for ``vigilare_system`` (every row).

A table added later with a tenant_id column needs the same two policies (``enable_tenant_rls``
below); tests/db/test_row_level_security.py fails until it has them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 02:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

APP_ROLE = "vigilare_app"
SYSTEM_ROLE = "vigilare_system"
SETTING = "vigilare.tenant_id"

# (table, the column naming its tenant) at this revision.
TENANT_TABLES = (
    ("tenants", "id"),
    ("users", "tenant_id"),
    ("refresh_tokens", "tenant_id"),
    ("invitations", "tenant_id"),
    ("known_login_addresses", "tenant_id"),
    ("aws_accounts", "tenant_id"),
    ("scans", "tenant_id"),
    ("signals", "tenant_id"),
    ("score_points", "tenant_id"),
    ("alert_rules", "tenant_id"),
    ("alerts", "tenant_id"),
    ("alert_deliveries", "tenant_id"),
    ("slack_installations", "tenant_id"),
    ("used_oauth_states", "tenant_id"),
    ("ingest_keys", "tenant_id"),
    ("ingest_events", "tenant_id"),
    # Stored before its tenant is known (NULL until then): the webhook's cross-tenant path.
    ("stripe_events", "tenant_id"),
)

# Created when missing. Concurrent migrations of two databases on one server (test runs do that)
# may both try: the loser's duplicate is ignored.
_ROLES = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vigilare_app') THEN
        BEGIN
            CREATE ROLE vigilare_app LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vigilare_system') THEN
        BEGIN
            CREATE ROLE vigilare_system NOLOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT pg_has_role('vigilare_app', 'vigilare_system', 'MEMBER') THEN
        BEGIN
            GRANT vigilare_system TO vigilare_app;
        EXCEPTION WHEN unique_violation OR internal_error THEN NULL;
        END;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        IF NOT pg_has_role(current_user, 'vigilare_app', 'MEMBER') THEN
            GRANT vigilare_app TO CURRENT_USER;
        END IF;
        IF NOT pg_has_role(current_user, 'vigilare_system', 'MEMBER') THEN
            GRANT vigilare_system TO CURRENT_USER;
        END IF;
    END IF;
END
$$
"""


def enable_tenant_rls(table: str, column: str = "tenant_id") -> None:
    """FORCE row-level security on ``table`` with the two policies every tenant table has."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    own_tenant = f"{column} = current_setting('{SETTING}', true)"
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} TO {APP_ROLE} USING ({own_tenant}) WITH CHECK ({own_tenant})"
    )
    op.execute(f"CREATE POLICY cross_tenant ON {table} TO {SYSTEM_ROLE} USING (true) WITH CHECK (true)")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_ROLES)
    roles = f"{APP_ROLE}, {SYSTEM_ROLE}"
    op.execute(
        "DO $$ BEGIN "
        f"EXECUTE format('GRANT USAGE ON SCHEMA %I TO {roles}', current_schema()); "
        f"EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {roles}', current_schema()); "
        f"EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {roles}', current_schema()); "
        f"EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {roles}', current_schema()); "
        f"EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO {roles}', current_schema()); "
        "END $$"
    )
    # The schema's version is read at start-up, written by migrations only.
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {roles}")
    for table, column in TENANT_TABLES:
        enable_tenant_rls(table, column)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    roles = f"{APP_ROLE}, {SYSTEM_ROLE}"
    for table, _column in TENANT_TABLES:
        op.execute(f"DROP POLICY IF EXISTS cross_tenant ON {table}")
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute(
        "DO $$ BEGIN "
        f"EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON TABLES FROM {roles}', current_schema()); "
        f"EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM {roles}', current_schema()); "
        f"EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {roles}', current_schema()); "
        f"EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM {roles}', current_schema()); "
        f"EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM {roles}', current_schema()); "
        "END $$"
    )
    # The roles stay: they belong to the server, and other databases may use them.
