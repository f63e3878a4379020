"""Tenants, their users, refresh tokens and invitations."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vigilare.db.base import Base, TenantRoot, TenantScoped, Timestamps, id_column

# Every new tenant starts with a free trial this long (billing reads it from here: auth sits below billing).
TRIAL_DAYS = 14


class Tenant(Base, TenantRoot, Timestamps):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(sa.String(200))
    plan: Mapped[str] = mapped_column(sa.String(20), default="solo")
    # trialing, active, past_due, canceled
    status: Mapped[str] = mapped_column(sa.String(20), default="trialing")
    trial_ends_at: Mapped[datetime | None]
    past_due_since: Mapped[datetime | None]
    stripe_customer_id: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(sa.String(255))
    # Timestamp of the newest Stripe object applied, so late events cannot roll the state back.
    billing_state_at: Mapped[datetime | None]


class User(Base, TenantScoped, Timestamps):
    __tablename__ = "users"

    id: Mapped[str] = id_column()
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    # invited (no password yet) or active
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    # Bumped whenever the user's tokens must stop working (role change, password reset).
    token_version: Mapped[int] = mapped_column(default=1)


class RefreshToken(Base, TenantScoped):
    """One issued refresh token, stored as a hash. Tokens of one login share a family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(sa.String(26), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Invitation(Base, TenantScoped):
    __tablename__ = "invitations"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    invited_by: Mapped[str | None] = mapped_column(sa.String(26))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    # Why the invitation email could not be sent (None once it was, or while it is on its way).
    send_error: Mapped[str | None] = mapped_column(sa.String(500))


class KnownAddress(Base, TenantScoped):
    """An address a user has logged in from: login throttling lets it past the email's slowdown."""

    __tablename__ = "known_login_addresses"
    __table_args__ = (sa.UniqueConstraint("user_id", "address_hash"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # HMAC of the address (see ``LoginThrottle.fingerprint``), never the address itself.
    address_hash: Mapped[str] = mapped_column(sa.String(64))
    last_login_at: Mapped[datetime]
