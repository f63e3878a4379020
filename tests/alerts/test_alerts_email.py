from __future__ import annotations

import email
import logging
from email.message import EmailMessage
from email.policy import default as default_policy

import msgspec
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.net import free_port
from tests.support.smtp import SmtpSink
from vigilare.alerts.channels.base import AlertEventType, AlertNotification, ChannelType
from vigilare.alerts.channels.email_channel import EmailChannel
from vigilare.mail import SmtpConfig, send_email


def parse(envelope: Envelope) -> EmailMessage:
    raw = envelope.original_content or b""
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


async def test_alert_email_reaches_smtp_server_with_text_and_html(
    smtp_sink: SmtpSink, notification: AlertNotification
) -> None:
    channel = EmailChannel(smtp_sink.config, ["alice@example.com", "bob@example.com"])

    result = await channel.deliver(notification)

    assert result.ok and not result.logged_only and result.error is None
    assert result.channel_type is ChannelType.EMAIL
    assert result.target == "alice@example.com, bob@example.com"
    [envelope] = smtp_sink.envelopes
    assert envelope.mail_from == "alerts@vigilare.test"
    assert envelope.rcpt_tos == ["alice@example.com", "bob@example.com"]
    message = parse(envelope)
    assert message["Subject"] == (
        "[Vigilare] Alert: prod (123456789012) \u2014 Security Risk Score 38, 2 signals"
    )
    assert message.get_content_type() == "multipart/alternative"
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    text, html = text_part.get_content(), html_part.get_content()
    assert "Security Risk Score: 38/100" in text
    assert "[CRITICAL] iam: Compromised-key quarantine policy attached" in text
    assert "[HIGH] root: Root console login (us-east-1)" in text
    # The most severe signal is listed first.
    assert text.index("[CRITICAL]") < text.index("[HIGH]")
    assert f"Recovery checklist: {notification.checklist_url}" in text
    assert f'<a href="{notification.checklist_url}">Open the recovery checklist</a>' in html
    # Customer-controlled text is escaped, never interpreted as markup.
    assert "Acme &lt;Corp&gt;" in html and "Acme <Corp>" not in html


@pytest.mark.parametrize(
    ("event", "word"), [(AlertEventType.ACKNOWLEDGE, "Acknowledged"), (AlertEventType.RESOLVE, "Resolved")]
)
async def test_acknowledge_and_resolve_emails_say_so_in_the_subject(
    smtp_sink: SmtpSink, notification: AlertNotification, event: AlertEventType, word: str
) -> None:
    import msgspec

    changed = msgspec.structs.replace(notification, event=event)
    result = await EmailChannel(smtp_sink.config, ["alice@example.com"]).deliver(changed)

    assert result.ok
    assert parse(smtp_sink.envelopes[0])["Subject"].startswith(f"[Vigilare] {word}: prod")


async def test_without_smtp_host_the_email_is_written_to_the_log(
    notification: AlertNotification, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vigilare.mail")

    result = await EmailChannel(SmtpConfig(smtp_host=None), ["alice@example.com"]).deliver(notification)

    assert result.ok and result.logged_only
    [record] = [r for r in caplog.records if r.name == "vigilare.mail"]
    logged = record.getMessage()
    assert "To: alice@example.com" in logged
    assert "Security Risk Score 38" in logged
    assert notification.checklist_url in logged


async def test_send_email_without_html_sends_plain_text(smtp_sink: SmtpSink) -> None:
    outcome = await send_email(
        smtp_sink.config, "bob@example.com", "You are invited", "Log in at https://app.vigilare.test/login"
    )

    assert not outcome.logged_only and outcome.recipients == ("bob@example.com",)
    message = parse(smtp_sink.envelopes[0])
    assert message.get_content_type() == "text/plain"
    assert message["Message-ID"] == outcome.message_id
    assert "https://app.vigilare.test/login" in message.get_content()


class RefusingHandler:
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        return "550 5.1.1 No such user"


async def test_recipient_refused_is_a_permanent_failure(notification: AlertNotification) -> None:
    controller = Controller(RefusingHandler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        config = SmtpConfig(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_starttls=False)
        result = await EmailChannel(config, ["nobody@example.com"]).deliver(notification)
    finally:
        controller.stop()

    assert not result.ok
    assert result.status_code == 550
    assert result.retryable is False
    assert "No such user" in (result.error or "")


async def test_unreachable_smtp_server_is_retryable(notification: AlertNotification) -> None:
    config = SmtpConfig(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False, timeout_seconds=5)

    result = await EmailChannel(config, ["alice@example.com"]).deliver(notification)

    assert not result.ok and result.retryable
    assert result.status_code is None


def test_smtp_config_reads_vigilare_environment_variables() -> None:
    config = SmtpConfig.from_env(
        {
            "VIGILARE_SMTP_HOST": "smtp.example.com",
            "VIGILARE_SMTP_PORT": "2525",
            "VIGILARE_SMTP_USERNAME": "user",
            "VIGILARE_SMTP_PASSWORD": "pw",
            "VIGILARE_SMTP_FROM": "ops@example.com",
            "VIGILARE_SMTP_STARTTLS": "false",
        }
    )

    assert config == SmtpConfig(
        smtp_host="smtp.example.com",
        smtp_port=2525,
        smtp_username="user",
        smtp_password="pw",
        smtp_from="ops@example.com",
        smtp_starttls=False,
    )
    assert SmtpConfig.from_env({}).smtp_host is None


async def test_required_starttls_is_never_downgraded_to_plain_text(
    smtp_sink: SmtpSink, notification: AlertNotification
) -> None:
    # The test server offers no STARTTLS: with starttls required, nothing may be sent in the clear.
    config = SmtpConfig(
        smtp_host="127.0.0.1",
        smtp_port=smtp_sink.config.smtp_port,
        smtp_username="user",
        smtp_password="secret",
        smtp_starttls=True,
        timeout_seconds=5,
    )

    result = await EmailChannel(config, ["alice@example.com"]).deliver(notification)

    assert not result.ok
    assert smtp_sink.envelopes == []


async def test_one_delivery_sent_twice_is_one_message_id_and_two_deliveries_are_two(
    smtp_sink: SmtpSink, notification: AlertNotification
) -> None:
    """The Message-ID is the delivery's idempotency key: a re-send after a crash is a copy the
    recipient's mail system drops; another delivery (another alert, channel or event) is not."""
    channel = EmailChannel(smtp_sink.config, ["alice@example.com"])
    first = msgspec.structs.replace(notification, delivery_id="01DELIVERYA")

    assert (await channel.deliver(first)).ok
    assert (await channel.deliver(first)).ok
    assert (await channel.deliver(msgspec.structs.replace(first, delivery_id="01DELIVERYB"))).ok

    ids = [str(parse(envelope)["Message-ID"]).strip() for envelope in smtp_sink.envelopes]
    # The domain is the configured sender's (VIGILARE_SMTP_FROM).
    assert ids[0] == ids[1] == "<vigilare-alert-delivery-01DELIVERYA@vigilare.test>"
    assert ids[2] == "<vigilare-alert-delivery-01DELIVERYB@vigilare.test>"
