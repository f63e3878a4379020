"""A rule's channels in their three forms: as the API receives them, as stored, as shown.

Stored form keeps secrets only as SecretBox ciphertexts (``routing_key_encrypted``,
``webhook_url_encrypted``); the API shows them masked (last 4 characters); delivery jobs decrypt them
into the :mod:`vigilare.alerts.channels.dispatch` config structs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from vigilare.alerts.channels.dispatch import (
    ChannelConfig,
    EmailChannelConfig,
    PagerDutyChannelConfig,
    SlackChannelConfig,
)
from vigilare.alerts.channels.slack_channel import InvalidWebhookUrlError, validate_slack_webhook_url
from vigilare.crypto import SecretBox, mask_secret
from vigilare.errors import BadRequest
from vigilare.text import has_control_characters, refuse_control_characters

CHANNEL_TYPES = ("email", "slack", "pagerduty")
MAX_CHANNELS = 10
MAX_EMAIL_RECIPIENTS = 20
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")
# A channel id (C0123ABC) or a #name as Slack allows them (lower case, digits, - and _).
_SLACK_CHANNEL = re.compile(r"^(#[a-z0-9_\-]{1,80}|[A-Z0-9]{6,20})$")
_FIELDS = {"email": {"to"}, "slack": {"channel", "webhook_url"}, "pagerduty": {"routing_key"}}
_MASK_PREFIX = mask_secret(None)


def _string(value: Any, where: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{where}: required (a non-empty string)")
    if len(value) > max_length:
        raise BadRequest(f"{where}: must be at most {max_length} characters")
    return value.strip()


def _reused_secret(
    value: str, kind: str, field: str, previous: Sequence[dict[str, Any]], box: SecretBox
) -> str | None:
    """A masked value sent back unchanged (a form round trip) keeps the secret it stands for."""
    if not value.startswith(_MASK_PREFIX):
        return None
    for stored in previous:
        ciphertext = stored.get(f"{field}_encrypted")
        if stored.get("type") == kind and ciphertext and mask_secret(box.decrypt(ciphertext)) == value:
            return str(ciphertext)
    return None


def parse_channels(
    raw: Any,
    box: SecretBox,
    *,
    slack_installed: bool,
    previous: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Validate the API's channel list and return it in stored form (secrets encrypted)."""
    if not isinstance(raw, list) or not raw:
        raise BadRequest("channels: at least one delivery channel is required")
    if len(raw) > MAX_CHANNELS:
        raise BadRequest(f"channels: at most {MAX_CHANNELS} channels per rule")
    return [
        _parse_one(item, f"channels[{index}]", box, slack_installed, previous)
        for index, item in enumerate(raw)
    ]


def _parse_one(
    item: Any, where: str, box: SecretBox, slack_installed: bool, previous: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise BadRequest(f"{where}: must be an object with a type")
    kind = item.get("type")
    if kind not in CHANNEL_TYPES:
        raise BadRequest(f"{where}.type: must be one of {', '.join(CHANNEL_TYPES)}")
    # Only the channel type's own fields are read and stored; others are ignored, as in every body.
    if kind == "email":
        return {"type": "email", "to": _recipients(item.get("to"), f"{where}.to")}
    if kind == "slack":
        return _slack(item, where, box, slack_installed, previous)
    key = _string(item.get("routing_key"), f"{where}.routing_key", 128)
    ciphertext = _reused_secret(key, "pagerduty", "routing_key", previous, box)
    if ciphertext is None and key.startswith(_MASK_PREFIX):
        raise BadRequest(f"{where}.routing_key: send the full key, not its masked form")
    return {"type": "pagerduty", "routing_key_encrypted": ciphertext or box.encrypt(key)}


def _recipients(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{where}: required (a list of email addresses)")
    if len(value) > MAX_EMAIL_RECIPIENTS:
        raise BadRequest(f"{where}: at most {MAX_EMAIL_RECIPIENTS} recipients")
    addresses = []
    for address in value:
        if (
            not isinstance(address, str)
            or len(address) > 320
            or not _EMAIL.match(address.strip())
            or has_control_characters(address)
        ):
            raise BadRequest(f"{where}: {address!r} is not an email address")
        addresses.append(address.strip().lower())
    return list(dict.fromkeys(addresses))


def _slack(
    item: dict[str, Any],
    where: str,
    box: SecretBox,
    slack_installed: bool,
    previous: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    channel, webhook_url = item.get("channel"), item.get("webhook_url")
    if (channel is None) == (webhook_url is None):
        raise BadRequest(f"{where}.channel: give either channel (with Slack connected) or webhook_url")
    if channel is not None:
        name = _string(channel, f"{where}.channel", 81)
        if not _SLACK_CHANNEL.match(name):
            raise BadRequest(f"{where}.channel: must be a #channel-name or a channel id")
        if not slack_installed:
            raise BadRequest(
                f"{where}.channel: Slack is not connected for this tenant "
                "(connect it with GET /integrations/slack/oauth-start, or use a webhook_url)"
            )
        return {"type": "slack", "channel": name}
    if isinstance(webhook_url, str):
        refuse_control_characters(f"{where}.webhook_url", webhook_url)
    url = _string(webhook_url, f"{where}.webhook_url", 1024)
    ciphertext = _reused_secret(url, "slack", "webhook_url", previous, box)
    if ciphertext is None:
        try:
            url = validate_slack_webhook_url(url)
        except InvalidWebhookUrlError as exc:
            raise BadRequest(f"{where}.webhook_url: {exc}") from exc
    return {"type": "slack", "webhook_url_encrypted": ciphertext or box.encrypt(url)}


def masked_channel(stored: dict[str, Any], box: SecretBox) -> ChannelConfig:
    """The stored channel as the API shows it: secrets reduced to their last 4 characters."""
    return _config(stored, lambda ciphertext: mask_secret(box.decrypt(ciphertext)))


def channel_config(stored: dict[str, Any], box: SecretBox) -> ChannelConfig:
    """The stored channel with its secrets decrypted, for delivery."""
    return _config(stored, box.decrypt)


def _config(stored: dict[str, Any], reveal: Any) -> ChannelConfig:
    kind = stored["type"]
    if kind == "email":
        return EmailChannelConfig(to=list(stored["to"]))
    if kind == "pagerduty":
        return PagerDutyChannelConfig(routing_key=reveal(stored["routing_key_encrypted"]))
    if stored.get("webhook_url_encrypted"):
        return SlackChannelConfig(webhook_url=reveal(stored["webhook_url_encrypted"]))
    return SlackChannelConfig(channel=stored.get("channel"))


def display_target(stored: dict[str, Any], box: SecretBox) -> str:
    """Where a delivery goes, safe to show: addresses, the channel name or a masked secret."""
    config = masked_channel(stored, box)
    if isinstance(config, EmailChannelConfig):
        return ", ".join(config.to)
    if isinstance(config, PagerDutyChannelConfig):
        return f"routing key {config.routing_key}"
    return config.channel or f"webhook {config.webhook_url}"
