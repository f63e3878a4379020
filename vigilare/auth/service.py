"""Sign-up, login, token refresh and rotation, logout, invitation acceptance."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.auth.jobs import notify_signup_attempt
from vigilare.auth.models import TRIAL_DAYS, Invitation, KnownAddress, RefreshToken, Tenant, User
from vigilare.auth.passwords import hash_password, verify_password
from vigilare.auth.roles import OWNER, ROLES, Principal
from vigilare.auth.throttle import LoginThrottle
from vigilare.auth.tokens import ID, REFRESH, Claims, TokenIssuer, TokenSet, hash_token
from vigilare.db.reads import CheckRefused, TenantRead, literal_safe
from vigilare.db.tenancy import tenant_scope
from vigilare.errors import BadRequest, Unauthorized
from vigilare.ids import new_id, utcnow
from vigilare.jobs import enqueue_after_commit
from vigilare.text import has_control_characters

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
# An address a user logged in from stays known-good (past the email's slowdown) this long.
KNOWN_ADDRESS_TTL = timedelta(days=90)


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320 or has_control_characters(email):
        raise BadRequest("email: not a valid email address")
    return email


def clean_name(name: str, field: str = "name") -> str:
    """A display name (a tenant's or a user's): one line, 1 to 200 characters.

    Names go into email subjects and greetings, where a line break would split a header.
    """
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise BadRequest(f"{field}: must be 1 to 200 characters")
    if has_control_characters(name):
        raise BadRequest(f"{field}: must be a single line, without control characters (tab, CR, LF, ...)")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"password: must be at least {MIN_PASSWORD} characters")
    return password


async def email_taken(session: AsyncSession, email: str) -> bool:
    return (await session.scalar(select(User.id).where(User.email == email))) is not None


@dataclass(frozen=True)
class SignupOutcome:
    """What sign-up answers. For an email that already has an account the ids are fresh and belong
    to nothing, so the answer cannot tell an attacker the address is registered."""

    tenant_id: str
    user_id: str


async def signup(session: AsyncSession, email: str, password: str, name: str) -> SignupOutcome:
    """Create a tenant and its owner, or, when the email is taken, change nothing and tell its owner.

    Both paths hash the password and answer the same, so neither the answer nor its timing says
    whether the email is registered.
    """
    email, name, password = normalise_email(email), clean_name(name), check_password(password)
    password_hash = await hash_password(password)
    if await email_taken(session, email):
        return _signup_attempt_on_taken_email(session, email)
    now = utcnow()
    tenant = Tenant(
        id=new_id(), name=name, plan="solo", status="trialing", trial_ends_at=now + timedelta(days=TRIAL_DAYS)
    )
    user = User(
        id=new_id(),
        tenant_id=tenant.id,
        email=email,
        name=name,
        role=OWNER,
        status="active",
        password_hash=password_hash,
    )
    try:
        async with session.begin_nested():
            session.add(tenant)
            await session.flush()  # the user row references it
            session.add(user)
            await session.flush()
    except IntegrityError:  # a concurrent sign-up with the same email won the race
        return _signup_attempt_on_taken_email(session, email)
    return SignupOutcome(tenant_id=tenant.id, user_id=user.id)


def _signup_attempt_on_taken_email(session: AsyncSession, email: str) -> SignupOutcome:
    # At most one such email per address and hour, however often someone tries.
    hour = utcnow().strftime("%Y%m%d%H")
    enqueue_after_commit(session, notify_signup_attempt, email, job_id=f"signup-attempt:{email}:{hour}")
    return SignupOutcome(tenant_id=new_id(), user_id=new_id())


async def _issue(session: AsyncSession, issuer: TokenIssuer, user: User, family_id: str) -> TokenSet:
    tokens = issuer.issue(
        user_id=user.id,
        tenant_id=user.tenant_id,
        role=user.role,
        email=user.email,
        name=user.name,
        token_version=user.token_version,
        family_id=family_id,
    )
    now = utcnow()
    session.add(
        RefreshToken(
            id=tokens.refresh_jti,
            tenant_id=user.tenant_id,
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_token(tokens.refresh_token),
            issued_at=now,
            expires_at=now + timedelta(days=30),
        )
    )
    return tokens


async def login(
    session: AsyncSession,
    issuer: TokenIssuer,
    throttle: LoginThrottle,
    email: str,
    password: str,
    client: str,
) -> TokenSet:
    email = email.strip().lower()
    fingerprint = throttle.fingerprint(client)
    found: list[User | None] = []

    async def find_user() -> User | None:
        if not found:
            found.append(await session.scalar(select(User).where(User.email == email)))
        return found[0]

    async def known_good() -> bool:
        user = await find_user()
        return user is not None and await _is_known_address(session, user, fingerprint)

    attempt = await throttle.admit(email, client, known_good)
    user = await find_user()
    # Always verify (against a dummy hash when there is no user) so timing does not leak emails.
    ok = await verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.status != "active":
        raise Unauthorized("invalid email or password")
    await attempt.succeeded()
    await _remember_address(session, user, fingerprint)
    return await _issue(session, issuer, user, family_id=new_id())


async def _is_known_address(session: AsyncSession, user: User, fingerprint: str) -> bool:
    found = await session.scalar(
        select(KnownAddress.id).where(
            KnownAddress.user_id == user.id,
            KnownAddress.address_hash == fingerprint,
            KnownAddress.last_login_at > utcnow() - KNOWN_ADDRESS_TTL,
        )
    )
    return found is not None


async def _remember_address(session: AsyncSession, user: User, fingerprint: str) -> None:
    """Record (or refresh) the address of a successful login, in one statement (insert or update)."""
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(KnownAddress).values(
        id=new_id(), tenant_id=user.tenant_id, user_id=user.id, address_hash=fingerprint, last_login_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "address_hash"], set_={"last_login_at": now}
        )
    )


async def revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def refresh(session: AsyncSession, issuer: TokenIssuer, refresh_token: str) -> TokenSet:
    claims = issuer.decode(refresh_token, REFRESH)
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token))
    )
    if stored is None or stored.revoked_at is not None:
        raise Unauthorized("refresh token revoked")
    # Mark it used atomically: of two concurrent presentations only one wins.
    claimed = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        # Reuse of a rotated token means it leaked: end the whole login, for the thief and the user.
        await revoke_family(session, stored.family_id)
        session.info["commit_even_on_error"] = True
        raise Unauthorized("refresh token already used; the session has been revoked")
    user = await session.get(User, stored.user_id)
    if user is None or user.status != "active" or user.token_version != claims.token_version:
        await revoke_family(session, stored.family_id)
        session.info["commit_even_on_error"] = True
        raise Unauthorized("refresh token no longer valid")
    return await _issue(session, issuer, user, family_id=stored.family_id)


async def authenticate(session: AsyncSession, issuer: TokenIssuer, authorization: str) -> Principal:
    """The caller of a request, from its ``Authorization: Bearer <id token>`` header.

    The token must still match the user: an inactive user or a bumped ``token_version`` (role
    change, removal) ends every token issued before, and a revoked login family (logout, refresh
    token reuse) ends that login's tokens. ``session`` is scoped to the token's tenant
    before it reads, so no query of an authenticated request ever runs unscoped.
    """
    claims = bearer_claims(issuer, authorization)
    tenant_scope(session, claims.tenant_id)
    # One statement: the user, and whether the login the token belongs to has ended (logout, or
    # reuse of a rotated refresh token revokes its family). No second round trip per request.
    login_ended = (
        select(RefreshToken.id)
        .where(RefreshToken.family_id == claims.family_id, RefreshToken.revoked_at.is_not(None))
        .exists()
    )
    # Columns, not the entity: nothing of the user is kept in the session, and no object is built.
    row = (
        await session.execute(
            select(User.role, User.email, User.name, User.status, User.token_version, login_ended).where(
                User.id == claims.user_id, User.tenant_id == claims.tenant_id
            )
        )
    ).first()
    return _caller(claims, row)


def bearer_claims(issuer: TokenIssuer, authorization: str) -> Claims:
    """The verified claims of an ``Authorization: Bearer <id token>`` header (401 otherwise)."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing Bearer token")
    return issuer.decode(token.strip(), ID)


# ``authenticate``'s statement for a ``TenantRead`` (the hot listings' path): the user, and whether
# the token's login has ended, in one round trip. Row-level security holds it to the token's tenant.
_CALLER_SQL = """
SELECT u.role, u.email, u.name, u.status, u.token_version,
       EXISTS (SELECT 1 FROM refresh_tokens r
               WHERE r.tenant_id = $2 AND r.family_id = $3 AND r.revoked_at IS NOT NULL) AS login_ended
FROM users u WHERE u.id = $1 AND u.tenant_id = $2
"""


async def authenticate_read(read: TenantRead, claims: Claims) -> Principal:
    """``authenticate`` in a tenant read of the token's tenant: the same checks, the same answers."""
    if read.tenant_id != claims.tenant_id:
        raise RuntimeError("a caller is authenticated in a read of its own tenant only")
    row = await read.fetchrow(_CALLER_SQL, claims.user_id, claims.tenant_id, claims.family_id)
    return _caller(claims, row)


def caller_check(claims: Claims) -> str | None:
    """``authenticate``'s checks as one statement, to run where a ``TenantRead`` of the token's
    tenant begins (``tenant_read(..., check=...)``): no round trip of its own. The database function
    (migration 0014) raises, and ``caller_refused`` answers, exactly what ``_caller`` would; one
    more condition is checked, which ``_caller`` need not: the user's role is still the token's (a
    role change bumps ``token_version``, so a token whose version holds carries its user's role).

    None when a value cannot be written into the statement (an id that is not one of ours): the
    caller is then read with ``authenticate_read``.
    """
    ids = (claims.user_id, claims.tenant_id, claims.family_id)
    if not all(literal_safe(value) for value in ids) or claims.role not in ROLES:
        return None
    if type(claims.token_version) is not int:
        return None
    return (
        f"SELECT vigilare_check_caller('{claims.user_id}', '{claims.tenant_id}', '{claims.family_id}', "
        f"{claims.token_version}, '{claims.role}')"
    )


def caller_refused(refused: CheckRefused) -> Unauthorized:
    """The 401 of a ``caller_check`` that did not hold: the same answers as ``_caller``'s."""
    if refused.sqlstate == "VGA02":
        return Unauthorized("this login has ended (logged out or revoked); log in again")
    return Unauthorized("token no longer valid")


def checked_caller(claims: Claims) -> Principal:
    """The caller a ``caller_check`` let through: the token's user, tenant, login and role (the
    check held them all against the database). Its email and name are not read there: they are
    empty, and ``vigilare.api.deps`` gives no such caller to a handler (the listings that run this
    way use only the role, in their guard)."""
    return Principal(
        user_id=claims.user_id,
        tenant_id=claims.tenant_id,
        role=claims.role,
        email="",
        name="",
        family_id=claims.family_id,
    )


def _caller(claims: Claims, row: Any) -> Principal:
    """The caller, if the user's row (role, email, name, status, token_version, login ended) still
    holds the token: active, same token version, login not ended."""
    if row is None or row[3] != "active" or row[4] != claims.token_version:
        raise Unauthorized("token no longer valid")
    if row[5]:
        raise Unauthorized("this login has ended (logged out or revoked); log in again")
    return Principal(
        user_id=claims.user_id,
        tenant_id=claims.tenant_id,
        role=row[0],
        email=row[1],
        name=row[2],
        family_id=claims.family_id,
    )


async def logout(session: AsyncSession, principal: Principal) -> None:
    await revoke_family(session, principal.family_id)


async def pending_invitation(session: AsyncSession, token: str) -> tuple[User, Tenant] | None:
    """Who an invitation token invites, and to which tenant; None when it cannot be accepted."""
    invitation = await session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= utcnow():
        return None
    user = await session.get(User, invitation.user_id)
    tenant = await session.get(Tenant, invitation.tenant_id)
    if user is None or tenant is None or user.status != "invited":
        return None
    return user, tenant


async def accept_invite(session: AsyncSession, token: str, password: str) -> User:
    check_password(password)
    invitation = await session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    now = utcnow()
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= now:
        raise BadRequest("token: invitation is invalid, expired or already used")
    claimed = await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise BadRequest("token: invitation is invalid, expired or already used")
    user = await session.get(User, invitation.user_id)
    if user is None:
        raise BadRequest("token: invitation is invalid, expired or already used")
    user.password_hash = await hash_password(password)
    user.status = "active"
    return user
