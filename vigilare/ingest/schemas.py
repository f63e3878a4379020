"""What the push routes answer."""

from __future__ import annotations

import msgspec


class PushSetupOut(msgspec.Struct):
    """``POST /accounts/{id}/push-setup``: the new secret (shown only here) and how to use it."""

    ingest_url: str
    header_name: str
    secret: str
    terraform_snippet: str
    fallback_cli_script: str
    test_event_command: str
    previous_secret_valid_until: str | None
    """When the secret this one replaces stops working (None on the first set-up)."""


class EventAcceptedOut(msgspec.Struct):
    """``POST /ingest/aws-events``: the event is stored and will be processed. A redelivery of the
    same event (same ``id``) gets the same answer and is not processed again."""

    event_id: str
    status: str = "accepted"
