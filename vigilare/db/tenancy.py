"""Tenant isolation, written once.

A session opened with ``tenant_scope(session, tenant_id)`` gets a criteria option on every ORM
SELECT, UPDATE and DELETE that restricts each ``TenantScoped`` entity (and the tenant row itself) to
that tenant, including joins and relationship loads. New rows are checked at flush time so a row of
another tenant can never be written through a scoped session. Code that must cross tenants (login by
email, the scheduler, jobs) uses an unscoped session explicitly.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from vigilare.db.base import TenantRoot, TenantScoped

TENANT_KEY = "tenant_id"


class VigilareSession(Session):
    """The synchronous session class behind every ``AsyncSession`` of the application."""


def tenant_scope(session: Any, tenant_id: str) -> None:
    """Scope a (sync or async) session to one tenant for the rest of its life."""
    session.info[TENANT_KEY] = tenant_id


def scoped_tenant(session: Any) -> str | None:
    return session.info.get(TENANT_KEY)


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
