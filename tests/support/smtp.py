"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from tests.support.net import free_port
from vigilare.mail import SmtpConfig


class _Handler:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.messages: list[tuple[list[str], Message]] = []
        # Recipients the server refuses, with its reply (e.g. "550 5.1.1 no such mailbox").
        self.refuse: dict[str, str] = {}
        # Seconds the server takes to accept a message (a send that is in flight meanwhile).
        self.data_delay = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        self.messages.append(
            (
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.content, policy=email.policy.default),
            )
        )
        self.envelopes.append(envelope)
        return "250 OK"


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self._handler = _Handler()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def envelopes(self) -> list[Envelope]:
        """What arrived, as sent on the wire."""
        return self._handler.envelopes

    @property
    def messages(self) -> list[tuple[list[str], Message]]:
        """What arrived, as (recipients, parsed message)."""
        return self._handler.messages

    def slow_down(self, seconds: float) -> None:
        """Take ``seconds`` to accept each message."""
        self._handler.data_delay = seconds

    def refuse(self, address: str, reply: str = "550 5.1.1 no such mailbox here") -> None:
        self._handler.refuse[address] = reply

    def smtp_settings(self) -> dict[str, Any]:
        """The `Settings` fields that send the API's mail here."""
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_starttls": False}

    @property
    def config(self) -> SmtpConfig:
        """A mail configuration for the channels, sending here."""
        return SmtpConfig(
            smtp_host="127.0.0.1",
            smtp_port=self.port,
            smtp_from="Vigilare Alerts <alerts@vigilare.test>",
            smtp_starttls=False,
            timeout_seconds=5,
        )

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[tuple[list[str], Message]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} email(s), got {len(self.messages)}")
            time.sleep(0.02)
        return self.messages
