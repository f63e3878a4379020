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
        # Keep the message before the delay, not after: a sender that dies meanwhile never learns
        # that the server has it (the crash that makes a sender send again).
        self.keep_first = False
        # The (host, port) of each client whose message is being accepted right now.
        self.in_data: set[tuple[str, int]] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        peer = tuple(session.peer[:2])
        self.in_data.add(peer)
        try:
            if self.keep_first:
                self._keep(envelope)
            if self.data_delay:
                await asyncio.sleep(self.data_delay)
            if not self.keep_first:
                self._keep(envelope)
        finally:
            self.in_data.discard(peer)
        return "250 OK"

    def _keep(self, envelope: Envelope) -> None:
        self.messages.append(
            (
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.content, policy=email.policy.default),
            )
        )
        self.envelopes.append(envelope)


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

    def slow_down(self, seconds: float, *, keep_first: bool = False) -> None:
        """Take ``seconds`` to accept each message; with ``keep_first``, keep it before the pause
        (a sender that dies meanwhile never learns the server has it)."""
        self._handler.data_delay = seconds
        self._handler.keep_first = keep_first

    def clients_sending(self) -> set[tuple[str, int]]:
        """The (host, port) of each client whose message is being accepted right now."""
        return set(self._handler.in_data)

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
