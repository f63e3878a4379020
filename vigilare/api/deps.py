"""Request-scoped dependencies: the database session (the commit boundary) and the caller."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.api.state import AppServices
from vigilare.auth.models import User
from vigilare.auth.roles import VIEWER, Principal
from vigilare.auth.tokens import ID
from vigilare.db.tenancy import tenant_scope
from vigilare.errors import Unauthorized
from vigilare.jobs import flush_after_commit
from vigilare.jobs.outbox import discard_pending


def services(state: State) -> AppServices:
    found: AppServices = state["services"]
    return found


async def provide_services(state: State) -> AppServices:
    return services(state)


async def provide_db_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """One session and one transaction per request: committed when the handler succeeds.

    Jobs the handler queued are handed to the queue after the commit, never before.
    """
    app = services(state)
    async with app.session_factory() as session:
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


def client_address(request: Request, trust_forwarded_for: bool) -> str:
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


async def provide_principal(
    request: Request, state: State, db_session: NamedDependency[AsyncSession]
) -> Principal:
    """Authenticate the Bearer id token, scope the session to its tenant and check the route's role."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing Bearer token")
    claims = services(state).issuer.decode(token.strip(), ID)
    user = await db_session.scalar(
        select(User).where(User.id == claims.user_id, User.tenant_id == claims.tenant_id)
    )
    if user is None or user.status != "active" or user.token_version != claims.token_version:
        raise Unauthorized("token no longer valid")
    tenant_scope(db_session, user.tenant_id)
    principal = Principal(
        user_id=user.id,
        tenant_id=user.tenant_id,
        role=user.role,
        email=user.email,
        name=user.name,
        family_id=claims.family_id,
    )
    principal.require(request.route_handler.opt.get("role", VIEWER))
    return principal
