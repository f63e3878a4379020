"""Sending one email: alert notifications and invitations both go through :func:`send_email`.

With no SMTP host configured (the laptop default) the message is written to the ``vigilare.mail``
log instead, so links in invitations and alerts are still reachable during development.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol

import aiosmtplib

from vigilare.text import one_line

mail_log = logging.getLogger("vigilare.mail")

DEFAULT_SMTP_PORT = 587
DEFAULT_FROM_ADDRESS = "Vigilare <vigilare@localhost>"
IMPLICIT_TLS_PORT = 465
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_MESSAGE_ID_KEY = re.compile(r"[A-Za-z0-9._-]{1,128}")


class SmtpSettingsLike(Protocol):
    """What :func:`send_email` reads; the app's settings object or :class:`SmtpConfig` both fit."""

    @property
    def smtp_host(self) -> str | None: ...
    @property
    def smtp_port(self) -> int | None: ...
    @property
    def smtp_username(self) -> str | None: ...
    @property
    def smtp_password(self) -> str | None: ...
    @property
    def smtp_from(self) -> str | None: ...
    @property
    def smtp_starttls(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """SMTP settings (``VIGILARE_SMTP_*``). ``smtp_host=None`` means: write mail to the log."""

    smtp_host: str | None = None
    smtp_port: int | None = DEFAULT_SMTP_PORT
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = DEFAULT_FROM_ADDRESS
    smtp_starttls: bool = True
    timeout_seconds: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmtpConfig:
        port = environ.get("VIGILARE_SMTP_PORT")
        starttls = environ.get("VIGILARE_SMTP_STARTTLS")
        return cls(
            smtp_host=environ.get("VIGILARE_SMTP_HOST") or None,
            smtp_port=int(port) if port else DEFAULT_SMTP_PORT,
            smtp_username=environ.get("VIGILARE_SMTP_USERNAME") or None,
            smtp_password=environ.get("VIGILARE_SMTP_PASSWORD") or None,
            smtp_from=environ.get("VIGILARE_SMTP_FROM") or DEFAULT_FROM_ADDRESS,
            smtp_starttls=True if starttls is None else starttls.strip().lower() in _TRUE_WORDS,
        )


@dataclass(frozen=True, slots=True)
class MailOutcome:
    """What happened to one message. ``logged_only`` means no SMTP host was configured."""

    recipients: tuple[str, ...]
    message_id: str
    logged_only: bool = False
    # Recipients the server refused while accepting the others: address -> server reply.
    refused: dict[str, str] = field(default_factory=dict)


class MailDeliveryError(Exception):
    """The SMTP server could not be reached or refused the message."""

    def __init__(self, message: str, *, retryable: bool, smtp_code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.smtp_code = smtp_code


def mail_domain(sender: str) -> str:
    """The domain of the configured sender address (``VIGILARE_SMTP_FROM``): Message-IDs are minted in it."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def idempotent_message_id(key: str, sender: str) -> str:
    """The Message-ID of the message identified by ``key`` (e.g. one alert delivery).

    The same key always gives the same Message-ID, so a message sent again after a crash (the SMTP
    server accepted it, the sender died before recording that) is a copy that mail systems and
    clients recognise and drop (RFC 5322 section 3.6.4: a Message-ID names one message).
    """
    if not key or not _MESSAGE_ID_KEY.fullmatch(key):
        raise ValueError("an idempotency key is letters, digits, '.', '_' and '-'")
    return f"<{key}@{mail_domain(sender)}>"


def build_message(
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    *,
    message_id: str | None = None,
) -> EmailMessage:
    """A plain-text message, or multipart/alternative (text first, HTML preferred) when html is given.

    ``message_id`` (see :func:`idempotent_message_id`) is used as is; without it, a fresh one.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    # A header is one line: names inside a subject (a tenant's, an account's) never split it.
    message["Subject"] = one_line(subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain=mail_domain(sender))
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def _retryable_smtp_code(code: int | None) -> bool:
    # 4xx replies are transient by definition (RFC 5321); 5xx are permanent.
    return code is None or 400 <= code < 500


async def send_email(
    settings_like: SmtpSettingsLike,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    *,
    idempotency_key: str | None = None,
) -> MailOutcome:
    """Send one message, or log it when no SMTP host is configured.

    ``idempotency_key`` names the message: sending it again gives the same Message-ID, which the
    recipients' mail systems take for the copy it is.

    Raises :class:`MailDeliveryError` (with ``retryable``) when the server cannot take it.
    """
    recipients = (to,) if isinstance(to, str) else tuple(to)
    if not recipients:
        raise ValueError("an email needs at least one recipient")
    sender = getattr(settings_like, "smtp_from", None) or DEFAULT_FROM_ADDRESS
    message_id = idempotent_message_id(idempotency_key, sender) if idempotency_key else None
    message = build_message(sender, recipients, subject, text, html, message_id=message_id)
    message_id = str(message["Message-ID"])

    host = getattr(settings_like, "smtp_host", None)
    if not host:
        mail_log.info(
            "SMTP not configured; email not sent.\nTo: %s\nSubject: %s\n\n%s",
            ", ".join(recipients),
            subject,
            text,
            extra={"mail_to": recipients, "mail_subject": subject},
        )
        return MailOutcome(recipients=recipients, message_id=message_id, logged_only=True)

    port = getattr(settings_like, "smtp_port", None) or DEFAULT_SMTP_PORT
    implicit_tls = port == IMPLICIT_TLS_PORT
    try:
        refused, _reply = await aiosmtplib.send(
            message,
            hostname=host,
            port=port,
            username=getattr(settings_like, "smtp_username", None) or None,
            password=getattr(settings_like, "smtp_password", None) or None,
            use_tls=implicit_tls,
            # True requires STARTTLS; False never attempts it (a plain local relay).
            start_tls=False if implicit_tls else bool(getattr(settings_like, "smtp_starttls", True)),
            timeout=getattr(settings_like, "timeout_seconds", 30.0),
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [error.code for error in exc.recipients]
        raise MailDeliveryError(
            f"all recipients refused: {', '.join(str(e) for e in exc.recipients)}",
            retryable=all(_retryable_smtp_code(c) for c in codes),
            smtp_code=codes[0] if codes else None,
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise MailDeliveryError(
            f"SMTP server refused the message: {exc.code} {exc.message}",
            retryable=_retryable_smtp_code(exc.code),
            smtp_code=exc.code,
        ) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        # Connection refused, timeouts, TLS failures: the server may be back later.
        raise MailDeliveryError(f"SMTP delivery failed: {exc}", retryable=True) from exc

    mail_log.info("email %s sent to %s", message_id, ", ".join(recipients))
    return MailOutcome(
        recipients=recipients,
        message_id=message_id,
        refused={address: str(reply) for address, reply in refused.items()},
    )
