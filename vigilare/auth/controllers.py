from __future__ import annotations

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.api.deps import client_address
from vigilare.api.state import AppServices
from vigilare.auth import service
from vigilare.auth.roles import Principal
from vigilare.auth.schemas import (
    AcceptInviteIn,
    AcceptInviteOut,
    LoginIn,
    MessageOut,
    RefreshIn,
    SignupIn,
    SignupOut,
    TokensOut,
)
from vigilare.auth.tokens import TokenSet


def _tokens(tokens: TokenSet) -> TokensOut:
    return TokensOut(
        access_token=tokens.access_token,
        id_token=tokens.id_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


class AuthController(Controller):
    path = "/auth"
    tags = ["Authentication"]

    @post("/signup", status_code=201, summary="Create a new tenant account", opt={"public": True})
    async def signup(self, data: JSONBody[SignupIn], db_session: NamedDependency[AsyncSession]) -> SignupOut:
        tenant, user = await service.signup(db_session, data.email, data.password, data.name)
        return SignupOut(
            tenant_id=tenant.id, user_id=user.id, message="Account created successfully. You can now log in."
        )

    @post("/login", status_code=200, summary="Authenticate and obtain JWT tokens", opt={"public": True})
    async def login(
        self,
        request: Request,
        data: JSONBody[LoginIn],
        db_session: NamedDependency[AsyncSession],
        app_services: NamedDependency[AppServices],
    ) -> TokensOut:
        settings = app_services.settings
        tokens = await service.login(
            db_session,
            app_services.issuer,
            app_services.counter,
            data.email,
            data.password,
            client=client_address(request, settings.trust_forwarded_for),
            max_failures=settings.login_max_failures,
        )
        return _tokens(tokens)

    @post(
        "/refresh",
        status_code=200,
        summary="Exchange a refresh token for a new token set",
        opt={"public": True},
    )
    async def refresh(
        self,
        data: JSONBody[RefreshIn],
        db_session: NamedDependency[AsyncSession],
        app_services: NamedDependency[AppServices],
    ) -> TokensOut:
        return _tokens(await service.refresh(db_session, app_services.issuer, data.refresh_token))

    @post("/logout", status_code=200, summary="Revoke the caller's refresh tokens")
    async def logout(
        self, db_session: NamedDependency[AsyncSession], principal: NamedDependency[Principal]
    ) -> MessageOut:
        await service.logout(db_session, principal)
        return MessageOut(message="Logged out")

    @post(
        "/accept-invite",
        status_code=200,
        summary="Accept an invitation and set a password",
        opt={"public": True},
    )
    async def accept_invite(
        self, data: JSONBody[AcceptInviteIn], db_session: NamedDependency[AsyncSession]
    ) -> AcceptInviteOut:
        user = await service.accept_invite(db_session, data.token, data.password)
        return AcceptInviteOut(
            user_id=user.id, email=user.email, message="Invitation accepted. You can now log in."
        )
