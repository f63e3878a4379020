"""Alert rules, fired alerts with their delivery attempts, and the tenant's Slack installation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from vigilare.db.base import Base, TenantScoped, Timestamps, id_column

# Delivery states: queued (not tried yet), retrying (failed, another attempt is scheduled),
# delivered, failed (given up: permanent error or out of attempts).
QUEUED, RETRYING, DELIVERED, FAILED = "queued", "retrying", "delivered", "failed"


class AlertRule(Base, TenantScoped, Timestamps):
    __tablename__ = "alert_rules"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(sa.String(200))
    min_srs: Mapped[int] = mapped_column(default=40)
    min_severity: Mapped[str] = mapped_column(sa.String(10), default="HIGH")
    # Scenario ids; empty means every scenario.
    scenarios: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Stored channel configs: secrets (routing keys, webhook URLs) are SecretBox ciphertexts under
    # ``<field>_encrypted`` keys, never plain text. See vigilare.alerts.channel_configs.
    channels: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)


class Alert(Base, TenantScoped):
    """One firing of a rule for an account and one set of triggering signals."""

    __tablename__ = "alerts"
    __table_args__ = (
        sa.Index("ix_alerts_tenant_fired", "tenant_id", "fired_at", "id"),
        sa.Index("ix_alerts_rule_account_open", "rule_id", "account_id", "resolved_at"),
    )

    id: Mapped[str] = id_column()
    # Kept when the rule is deleted: the alert history outlives the rule.
    rule_id: Mapped[str | None] = mapped_column(sa.ForeignKey("alert_rules.id", ondelete="SET NULL"))
    rule_name: Mapped[str] = mapped_column(sa.String(200))
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("aws_accounts.id", ondelete="CASCADE"), index=True)
    aws_account_id: Mapped[str] = mapped_column(sa.String(12))
    srs_at_trigger: Mapped[int | None]
    below_min_srs: Mapped[bool] = mapped_column(default=False)
    scenarios_triggered: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Ids of the open signals that matched the rule when it fired (the dedup key), and a snapshot of
    # what they said, so notifications sent later show what fired even if the signals changed.
    signal_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    signals: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    fired_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(sa.String(26))
    resolved_at: Mapped[datetime | None]


class AlertDelivery(Base, TenantScoped):
    """One notification (trigger, acknowledge or resolve) to one channel, and how its attempts went."""

    __tablename__ = "alert_deliveries"

    id: Mapped[str] = id_column()
    alert_id: Mapped[str] = mapped_column(sa.ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(sa.String(20))
    # The stored (encrypted) channel config at the time the event happened: a later rule edit does
    # not redirect a notification already on its way.
    channel: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    channel_type: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    # A run of the delivery job is sending it until then: another run (the same job handed over
    # twice) does not send it a second time.
    sending_until: Mapped[datetime | None]


class SlackInstallation(Base, TenantScoped, Timestamps):
    """The Slack workspace a tenant installed the Vigilare app into (one per tenant)."""

    __tablename__ = "slack_installations"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[str] = id_column()
    team_id: Mapped[str] = mapped_column(sa.String(32))
    team_name: Mapped[str] = mapped_column(sa.String(255))
    bot_user_id: Mapped[str] = mapped_column(sa.String(32))
    bot_token_encrypted: Mapped[str] = mapped_column(sa.Text)
    scopes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    installed_by: Mapped[str | None] = mapped_column(sa.String(26))


class UsedOAuthState(Base, TenantScoped):
    """Nonces of OAuth states already redeemed: a state works once."""

    __tablename__ = "used_oauth_states"

    nonce: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    used_at: Mapped[datetime]
    # Kept until then; after it the state's own expiry refuses it anyway.
    expires_at: Mapped[datetime]
