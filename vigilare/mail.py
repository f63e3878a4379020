"""Outgoing email over SMTP (aiosmtplib); written to the log when no SMTP host is configured."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

logger = logging.getLogger("vigilare.mail")


class SmtpSettings(Protocol):
    @property
    def smtp_host(self) -> str: ...
    @property
    def smtp_port(self) -> int: ...
    @property
    def smtp_username(self) -> str: ...
    @property
    def smtp_password(self) -> str: ...
    @property
    def smtp_from(self) -> str: ...
    @property
    def smtp_starttls(self) -> bool: ...


def build_message(
    sender: str, to: Sequence[str], subject: str, text: str, html: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send_email(
    settings: SmtpSettings, to: Sequence[str], subject: str, text: str, html: str | None = None
) -> bool:
    """Send one message. Returns False when it was only logged (no SMTP host configured)."""
    message = build_message(settings.smtp_from, to, subject, text, html)
    if not settings.smtp_host:
        logger.info("SMTP is not configured; email not sent:\n%s", message.as_string())
        return False
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        start_tls=settings.smtp_starttls,
        timeout=30,
    )
    return True
