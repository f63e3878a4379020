"""Tenant isolation, written once — and enforced twice.

The first wall is the ORM: a session opened with ``tenant_scope(session, tenant_id)`` gets a
criteria option on every ORM SELECT, UPDATE and DELETE that restricts each ``TenantScoped`` entity
(and the tenant row itself) to that tenant, including joins and relationship loads. New rows are
checked at flush time so a row of another tenant can never be written through a scoped session.

The second wall is PostgreSQL's row-level security (migration ``0011_row_level_security``): every
tenant table has ``FORCE ROW LEVEL SECURITY`` and a policy that shows and accepts only the rows of
the tenant named by the transaction-local setting ``vigilare.tenant_id``. Each transaction a
session begins starts with one statement that sets, for that transaction only (``set_config(...,
true)``, so a pooled connection never carries it into the next transaction):

- a tenant's session: role ``vigilare_app`` (subject to the policy) and ``vigilare.tenant_id``;
- a cross-tenant session (``cross_tenant(session)``): role ``vigilare_system``, whose policy sees
  every tenant. Only code that must act before a tenant is known, or across tenants, opens one:
  sign-up, login, refresh, invitation acceptance, the Stripe and Slack callbacks, the ingest route's
  key lookup, jobs, the scheduler — a test keeps the list.

A session that is neither is refused when it begins a transaction, on every database, so a
forgotten scope fails loudly instead of reading every tenant (on PostgreSQL it could read nothing
anyway). SQLite has no row-level security: there the ORM wall stands alone.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from vigilare.db.base import TenantRoot, TenantScoped

TENANT_KEY = "tenant_id"
CROSS_TENANT_KEY = "cross_tenant"

# The database roles and the setting the policies read; created by migration 0011.
APP_ROLE = "vigilare_app"
SYSTEM_ROLE = "vigilare_system"
TENANT_SETTING = "vigilare.tenant_id"

_BEGIN = text(f"SELECT set_config('role', :role, true), set_config('{TENANT_SETTING}', :tenant, true)")


class UnscopedSession(RuntimeError):
    """A session began a transaction without saying whose rows it may touch."""


class VigilareSession(Session):
    """The synchronous session class behind every ``AsyncSession`` of the application."""


def tenant_scope(session: Any, tenant_id: str) -> None:
    """Scope a (sync or async) session to one tenant for the rest of its life.

    Call it before the session's first statement: the database's setting is made when a
    transaction begins. Narrowing a cross-tenant session that has not begun is allowed; changing
    the scope of a session in a transaction is not.
    """
    current = session.info.get(TENANT_KEY)
    if current == tenant_id:
        return
    if current is not None:
        raise UnscopedSession("a session scoped to one tenant cannot be scoped to another")
    if session.in_transaction():
        raise UnscopedSession("scope a session to its tenant before its first statement")
    session.info.pop(CROSS_TENANT_KEY, None)
    session.info[TENANT_KEY] = tenant_id


def cross_tenant(session: Any) -> None:
    """Open a (sync or async) session on every tenant's rows: the explicit, separate path.

    On PostgreSQL its transactions run as ``vigilare_system``. Use it only where no tenant is
    known yet or the work spans tenants (see the module's docstring).
    """
    if session.info.get(TENANT_KEY) is not None:
        raise UnscopedSession("a session scoped to a tenant cannot be made cross-tenant")
    session.info[CROSS_TENANT_KEY] = True


def scoped_tenant(session: Any) -> str | None:
    return session.info.get(TENANT_KEY)


@event.listens_for(VigilareSession, "after_begin")
def _set_database_scope(session: Session, _transaction: Any, connection: Any) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is not None:
        role, tenant = APP_ROLE, tenant_id
    elif session.info.get(CROSS_TENANT_KEY):
        role, tenant = SYSTEM_ROLE, ""
    else:
        raise UnscopedSession(
            "a session must be scoped to a tenant (tenant_scope) or opened for cross-tenant work "
            "(cross_tenant) before its first statement"
        )
    if connection.dialect.name == "postgresql":
        connection.execute(_BEGIN, {"role": role, "tenant": tenant})


@functools.lru_cache(maxsize=4096)
def _tenant_criteria(tenant_id: str) -> tuple[Any, Any]:
    """The two criteria options of one tenant, built once per tenant and process.

    Building them analyses their lambdas (SQLAlchemy's lambda tracking), which cost more than the
    rest of a small request's statement; the options are immutable, so one pair serves every
    statement of that tenant. (The tenant id is a bound parameter of the cached SQL either way.)
    """
    return (
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        ),
        # The tenant row is scoped by its own id.
        with_loader_criteria(TenantRoot, lambda cls: cls.id == tenant_id, include_aliases=True),
    )


@event.listens_for(VigilareSession, "do_orm_execute")
def _restrict_to_tenant(state: ORMExecuteState) -> None:
    tenant_id = state.session.info.get(TENANT_KEY)
    if tenant_id is None or state.is_column_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(*_tenant_criteria(str(tenant_id)))


@event.listens_for(VigilareSession, "before_flush")
def _refuse_foreign_rows(session: Session, flush_context: Any, instances: Any) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is None:
        return
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, TenantScoped):
            if obj.tenant_id is None:
                obj.tenant_id = tenant_id
            elif obj.tenant_id != tenant_id:
                raise PermissionError("refusing to write a row of another tenant")
