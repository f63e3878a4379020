from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth import service
from vigilare.auth.guards import requires_role
from vigilare.auth.roles import VIEWER, Principal
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
from vigilare.auth.throttle import LoginThrottle
from vigilare.auth.tokens import TokenIssuer, TokenSet
from vigilare.config import Settings
from vigilare.errors import answers
from vigilare.ratelimit import Counter


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
    async def signup(
        self, data: JSONBody[SignupIn], unscoped_db_session: NamedDependency[AsyncSession]
    ) -> SignupOut:
        # An email that already has an account gets the same answer (and its owner an email).
        outcome = await service.signup(unscoped_db_session, data.email, data.password, data.name)
        return SignupOut(
            tenant_id=outcome.tenant_id,
            user_id=outcome.user_id,
            message="Account created successfully. You can now log in.",
        )

    @post(
        "/login", status_code=200, summary="Authenticate and obtain JWT tokens", opt=answers(401, public=True)
    )
    async def login(
        self,
        data: JSONBody[LoginIn],
        unscoped_db_session: NamedDependency[AsyncSession],
        issuer: NamedDependency[TokenIssuer],
        counter: NamedDependency[Counter],
        client_address: NamedDependency[str],
        settings: NamedDependency[Settings],
    ) -> TokensOut:
        tokens = await service.login(
            unscoped_db_session,
            issuer,
            LoginThrottle.from_settings(counter, settings),
            data.email,
            data.password,
            client=client_address,
        )
        return _tokens(tokens)

    @post(
        "/refresh",
        status_code=200,
        summary="Exchange a refresh token for a new token set",
        opt=answers(401, public=True),
    )
    async def refresh(
        self,
        data: JSONBody[RefreshIn],
        unscoped_db_session: NamedDependency[AsyncSession],
        issuer: NamedDependency[TokenIssuer],
    ) -> TokensOut:
        return _tokens(await service.refresh(unscoped_db_session, issuer, data.refresh_token))

    @post(
        "/logout",
        status_code=200,
        summary="Revoke the caller's refresh tokens",
        guards=[requires_role(VIEWER)],
    )
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
        self, data: JSONBody[AcceptInviteIn], unscoped_db_session: NamedDependency[AsyncSession]
    ) -> AcceptInviteOut:
        user = await service.accept_invite(unscoped_db_session, data.token, data.password)
        return AcceptInviteOut(
            user_id=user.id, email=user.email, message="Invitation accepted. You can now log in."
        )
