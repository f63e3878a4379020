"""What the API process creates at start-up and shares between requests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from vigilare.auth.tokens import TokenIssuer
from vigilare.billing.gateway import StripeGateway
from vigilare.config import Settings
from vigilare.db.engine import SessionFactory
from vigilare.jobs import JobQueue
from vigilare.ratelimit import Counter


@dataclass
class AppServices:
    settings: Settings
    engine: AsyncEngine
    session_factory: SessionFactory
    queue: JobQueue
    counter: Counter
    issuer: TokenIssuer
    # None when billing is not configured (no VIGILARE_STRIPE_API_KEY).
    stripe: StripeGateway | None = None
