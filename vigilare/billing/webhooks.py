"""Receiving Stripe webhooks: verify the signature, store the event once by its id, queue its processing.

Processing happens in the ``process_stripe_event`` job after the commit, so the answer to Stripe is
fast and a failure while applying an event is retried by the queue rather than by Stripe.
"""

from __future__ import annotations

from typing import Any

import msgspec
import stripe
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from vigilare.billing.jobs import process_stripe_event
from vigilare.billing.models import StripeEvent
from vigilare.config import Settings
from vigilare.errors import BadRequest, ServiceUnavailable
from vigilare.ids import utcnow
from vigilare.jobs import enqueue_after_commit

# Stripe's own default: a signature older than this is refused, so a captured request cannot be replayed.
SIGNATURE_TOLERANCE_SECONDS = 300


def process_job_id(event_id: str) -> str:
    return f"stripe-event:{event_id}"


def verify_signature(settings: Settings, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if the ``Stripe-Signature`` header proves Stripe sent exactly these bytes recently."""
    if not settings.stripe_webhook_secret:
        raise ServiceUnavailable("billing is not configured: VIGILARE_STRIPE_WEBHOOK_SECRET is not set")
    if signature is not None and not signature.isascii():
        # Stripe's check compares with hmac.compare_digest, which raises on non-ASCII text.
        raise BadRequest("invalid Stripe-Signature: it does not match the payload")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text, signature, settings.stripe_webhook_secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
    except UnicodeDecodeError as exc:
        raise BadRequest("the webhook body is not UTF-8") from exc
    except stripe.SignatureVerificationError as exc:
        raise BadRequest(f"invalid Stripe-Signature: {_reason(exc)}") from exc
    return _parse_event(payload)


def _reason(exc: stripe.SignatureVerificationError) -> str:
    message = str(exc.user_message or exc)
    if "tolerance" in message:
        return "the signature timestamp is too old"
    if "No Stripe-Signature" in message:
        return "the header is missing"
    return "it does not match the payload"


def _parse_event(payload: bytes) -> dict[str, Any]:
    try:
        event = msgspec.json.decode(payload)
    except msgspec.DecodeError as exc:
        raise BadRequest("the webhook body is not JSON") from exc
    data = event.get("data") if isinstance(event, dict) else None
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("created"), int)
        or not isinstance(data, dict)
        or not isinstance(data.get("object"), dict)
    ):
        raise BadRequest("the webhook body is not a Stripe event (id, type, created, data.object)")
    return event


async def store_event(session: AsyncSession, event: dict[str, Any]) -> bool:
    """Store a verified event and queue its processing; False when this event id was seen before.

    A redelivered event that was already processed is acknowledged and ignored.
    """
    row = {
        "id": event["id"],
        "type": event["type"][:100],
        "received_at": utcnow(),
        "payload": event,
    }
    # Insert-or-nothing in one statement: two concurrent deliveries of one event store it once.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(
        insert(StripeEvent).values(**row).on_conflict_do_nothing(index_elements=["id"])
    )
    stored = bool(result.rowcount)  # type: ignore[attr-defined]
    if not stored:
        processed_at = await session.scalar(
            select(StripeEvent.processed_at).where(StripeEvent.id == event["id"])
        )
        if processed_at is not None:
            return False
        # Stored but never processed (its job was lost): the redelivery queues it again.
    enqueue_after_commit(session, process_stripe_event, event["id"], job_id=process_job_id(event["id"]))
    return stored
