"""Every table of the application, imported in one place for alembic and the tests (it sits above the
domains: no domain imports it)."""

from __future__ import annotations

from vigilare.accounts.models import AwsAccount
from vigilare.alerts.models import Alert, AlertDelivery, AlertRule, SlackInstallation, UsedOAuthState
from vigilare.auth.models import Invitation, RefreshToken, Tenant, User
from vigilare.billing.models import StripeEvent
from vigilare.db.base import Base
from vigilare.ingest.models import IngestEvent, IngestKey
from vigilare.jobs.models import OutboxJob
from vigilare.jobs.periodic import PeriodicRun
from vigilare.scans.models import Scan
from vigilare.scoring.models import ScorePoint
from vigilare.signals.models import Signal

metadata = Base.metadata

__all__ = [
    "Alert",
    "AlertDelivery",
    "AlertRule",
    "AwsAccount",
    "IngestEvent",
    "IngestKey",
    "Invitation",
    "OutboxJob",
    "PeriodicRun",
    "RefreshToken",
    "Scan",
    "ScorePoint",
    "Signal",
    "SlackInstallation",
    "StripeEvent",
    "Tenant",
    "UsedOAuthState",
    "User",
    "metadata",
]
