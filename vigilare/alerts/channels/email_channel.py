"""Email alerts: one multipart (text + HTML) message to the rule's recipients, via :mod:`vigilare.mail`."""

from __future__ import annotations

from collections.abc import Sequence

from vigilare.alerts.channels.base import AlertNotification, ChannelType, DeliveryResult
from vigilare.alerts.channels.formatting import email_html, email_subject, email_text
from vigilare.mail import MailDeliveryError, SmtpSettingsLike, send_email


def email_idempotency_key(notification: AlertNotification) -> str | None:
    """One delivery, one Message-ID: sent again after a crash, the copy is recognised and dropped."""
    if notification.delivery_id is None:
        return None
    return f"vigilare-alert-delivery-{notification.delivery_id}"


class EmailChannel:
    channel_type = ChannelType.EMAIL

    def __init__(self, smtp: SmtpSettingsLike, recipients: Sequence[str]) -> None:
        if not recipients:
            raise ValueError("an email channel needs at least one recipient")
        self._smtp = smtp
        self._recipients = tuple(recipients)

    @property
    def target(self) -> str:
        # Addresses are not secrets: viewers of the tenant already see its users' emails.
        return ", ".join(self._recipients)

    async def deliver(self, notification: AlertNotification) -> DeliveryResult:
        try:
            outcome = await send_email(
                self._smtp,
                self._recipients,
                email_subject(notification),
                email_text(notification),
                email_html(notification),
                idempotency_key=email_idempotency_key(notification),
            )
        except MailDeliveryError as exc:
            return DeliveryResult(
                channel_type=self.channel_type,
                target=self.target,
                ok=False,
                status_code=exc.smtp_code,
                error=str(exc),
                retryable=exc.retryable,
            )
        # Some recipients refused while others accepted: delivered, but say who did not get it.
        refused = "; ".join(f"{address}: {reply}" for address, reply in outcome.refused.items())
        return DeliveryResult(
            channel_type=self.channel_type,
            target=self.target,
            ok=True,
            error=f"refused by server: {refused}" if refused else None,
            logged_only=outcome.logged_only,
        )
