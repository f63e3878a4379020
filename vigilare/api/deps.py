"""Request-scoped dependencies: the caller, the database session (the commit boundary), app resources.

A handler declares only what it uses, by name (``NamedDependency``). Authenticated routes get
``db_session``, always scoped to the caller's tenant (the ORM filter, and PostgreSQL's row-level
security behind it); public routes get ``unscoped_db_session``, the explicit cross-tenant path
(``vigilare.db.tenancy.cross_tenant``), which sees every tenant. The two names differ so that
neither is picked up by accident: asking for ``db_session`` on a public route fails (there is no
caller), and a test keeps authenticated handlers away from ``unscoped_db_session``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.accounts.service import PushStatusReader, StartMonitoring
from vigilare.api.middleware import REQUEST_READ, REQUEST_SESSION, client_address
from vigilare.api.state import AppServices
from vigilare.auth.roles import Principal
from vigilare.auth.tokens import TokenIssuer
from vigilare.billing.gateway import StripeGateway
from vigilare.config import Settings
from vigilare.db.engine import TenantSessions
from vigilare.db.reads import ListingSource, TenantRead
from vigilare.db.tenancy import cross_tenant, tenant_scope
from vigilare.ingest.service import push_status
from vigilare.jobs import flush_after_commit
from vigilare.jobs.outbox import discard_pending
from vigilare.ratelimit import Counter
from vigilare.scans.scheduler import start_monitoring


def services(state: State) -> AppServices:
    found: AppServices = state["services"]
    return found


@asynccontextmanager
async def request_transaction(
    app: AppServices, tenant_id: str | None, opened: AsyncSession | None = None
) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: committed when the handler succeeds.

    ``opened`` is the session authentication already read the caller in (closed by its opener);
    without it, a new session is opened and closed here. Jobs the handler queued are handed to the
    queue after the commit, never before.
    """
    async with contextlib.AsyncExitStack() as stack:
        session = opened if opened is not None else await stack.enter_async_context(app.session_factory())
        if tenant_id is not None:
            tenant_scope(session, tenant_id)
        else:
            cross_tenant(session)
        try:
            yield session
        except Exception:
            if session.info.pop("commit_even_on_error", False):
                discard_pending(session)
                await session.commit()
            else:
                await session.rollback()
            raise
        await session.commit()
        await flush_after_commit(session, app.queue)


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller, authenticated by ``AuthenticationMiddleware`` before the route's guard ran."""
    principal = request.scope.get("user")
    if not isinstance(principal, Principal):
        raise RuntimeError(f"{request.url.path} is public: it has no caller and no tenant-scoped session")
    if request.scope.get(REQUEST_READ) is not None:
        # Its caller was checked where the read began: role and ids only (``checked_caller``).
        raise RuntimeError(f"{request.url.path} is a listing (tenant_read): it reads listing_source only")
    return principal


async def provide_db_session(
    principal: NamedDependency[Principal], request: Request[Any, Any, Any], state: State
) -> AsyncGenerator[AsyncSession, None]:
    """The session of an authenticated route: every query and write is limited to the caller's tenant.

    It is the session the caller was authenticated in (``AuthenticationMiddleware``): one pooled
    connection and one transaction for the whole request.
    """
    opened = request.scope.get(REQUEST_SESSION)
    assert opened is None or isinstance(opened, AsyncSession)
    async with request_transaction(services(state), principal.tenant_id, opened) as session:
        yield session


async def provide_listing_source(
    request: Request[Any, Any, Any], state: State
) -> AsyncGenerator[ListingSource, None]:
    """What a ``TENANT_READ`` route reads from: its ``TenantRead`` on PostgreSQL (the caller was
    authenticated in it, ``AuthenticationMiddleware``), else its tenant-scoped ``db_session``."""
    app = services(state)
    read = request.scope.get(REQUEST_READ)
    if isinstance(read, TenantRead):
        yield ListingSource(read=read, secret_key=app.settings.secret_key)
        return
    principal = await provide_principal(request)
    opened = request.scope.get(REQUEST_SESSION)
    assert opened is None or isinstance(opened, AsyncSession)
    async with request_transaction(app, principal.tenant_id, opened) as session:
        yield ListingSource(session=session, secret_key=app.settings.secret_key)


async def provide_unscoped_db_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """The session of a public route (sign-up, login, webhooks): it sees every tenant."""
    async with request_transaction(services(state), None) as session:
        yield session


async def provide_tenant_sessions(principal: NamedDependency[Principal], state: State) -> TenantSessions:
    """Further sessions scoped to the caller's tenant, for work that outlives the request's session."""
    return TenantSessions(services(state).session_factory, principal.tenant_id)


async def provide_services(state: State) -> AppServices:
    return services(state)


async def provide_settings(state: State) -> Settings:
    return services(state).settings


async def provide_issuer(state: State) -> TokenIssuer:
    return services(state).issuer


async def provide_counter(state: State) -> Counter:
    return services(state).counter


async def provide_stripe(state: State) -> StripeGateway | None:
    return services(state).stripe


async def provide_client_address(request: Request[Any, Any, Any], state: State) -> str:
    return client_address(request, services(state).settings)


def provide_start_monitoring() -> StartMonitoring:
    """Verifying an account starts its scans; accounts gets the function from here because scans
    depends on accounts, never the reverse."""
    return start_monitoring


def provide_push_status() -> PushStatusReader:
    """An account's details show its push status; ingest depends on accounts, never the reverse."""
    return push_status


def dependencies() -> dict[str, Provide]:
    """What a handler may ask for, by parameter name."""
    return {
        # the caller and the sessions of authenticated routes
        "principal": Provide(provide_principal),
        "db_session": Provide(provide_db_session),
        "listing_source": Provide(provide_listing_source),
        "tenant_sessions": Provide(provide_tenant_sessions),
        # the session of public routes
        "unscoped_db_session": Provide(provide_unscoped_db_session),
        # resources created at start-up
        "settings": Provide(provide_settings),
        "issuer": Provide(provide_issuer),
        "counter": Provide(provide_counter),
        "stripe": Provide(provide_stripe),
        "client_address": Provide(provide_client_address),
        # domain functions wired here so that a domain need not import the one it feeds
        "start_monitoring": Provide(provide_start_monitoring, sync_to_thread=False),
        "push_status": Provide(provide_push_status, sync_to_thread=False),
        # everything at once, for the operations endpoints only (public: never a tenant's session)
        "app_services": Provide(provide_services),
    }
