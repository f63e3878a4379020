"""Unpaid AWS invoices: the open invoices of the account, with their due date and due status.

AWS suspends accounts whose invoices stay unpaid. AWS Invoicing's ``ListInvoiceSummaries`` has due
dates but no payment status (every paid invoice has a due date in the past), so Vigilare reads AWS
Payments (API version 2026-09-23, one endpoint: https://payments.us-east-1.api.aws):

- ``ListFinancialRecords`` with ``types=[INVOICE]`` and ``settlementStatuses=[OPEN]``: the invoices
  with something ``OUTSTANDING`` (nothing paid yet, or partly) or ``PROCESSING`` (a payment is under
  way). Settled and canceled invoices never come back, whatever their due date.
- ``BatchGetFinancialRecord`` (100 keys a call) for the ``OUTSTANDING`` ones: ``invoiceDetails``
  holds ``dueDate`` and, only while the invoice is outstanding, ``dueStatus`` (``DUE`` or
  ``PAST_DUE``; past due from the day after the due date).

Both need ``payments:GetPaymentStatus`` beside the operation's own action
(https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_payments_ListFinancialRecords.html).
A refusal that is the account's (``AccessDeniedException`` with reason ``INVALID_ACCOUNT_STATE``,
e.g. a member account whose invoices the organization's management account pays) or the role's
(``NOT_AUTHORIZED``: a role onboarded before these actions were in the policy) is recorded as the
``payments_api`` capability, not an error. Invoices change daily at most: the key is read every 6
hours, sooner when an outstanding invoice reaches its due date.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from vigilare.aws.collect import scp_denied_action
from vigilare.plugin import Collector, CollectorContext

PAYMENTS_REGION = "us-east-1"  # AWS Payments has one endpoint, in us-east-1
PAYMENTS_CAPABILITY = "payments_api"
INVOICES_FRESHNESS = timedelta(hours=6)
BATCH_KEYS = 100  # BatchGetFinancialRecord takes 1 to 100 keys
UNAVAILABLE_FOR_ACCOUNT = (
    "AWS Payments keeps no invoices for this account (INVALID_ACCOUNT_STATE): in an AWS Organization "
    "the management account receives and pays the invoices. Connect the management account to have "
    "its unpaid invoices watched."
)
UNAVAILABLE_FOR_ROLE = (
    "The Vigilare role may not read invoice payment status: update its additions policy (it now grants "
    "payments:ListFinancialRecords, payments:BatchGetFinancialRecord and payments:GetPaymentStatus). "
    "Unpaid invoices are not watched until then."
)


def _moment(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value) if value is not None else None


def _invoice(record: dict[str, Any]) -> dict[str, Any]:
    details = (record.get("details") or {}).get("invoiceDetails") or {}
    return {
        "id": record.get("id"),
        "invoice_id": details.get("invoiceId") or record.get("id"),
        "status": record.get("status"),
        "due_date": _moment(details.get("dueDate")),
        "due_status": details.get("dueStatus"),
        "issued_at": _moment(record.get("issuedAt")),
        "amount": record.get("amount") or {},
        "outstanding": (record.get("balances") or {}).get("outstanding") or {},
        "merchant_of_record": (record.get("businessUnit") or {}).get("merchantOfRecord"),
    }


def _refusal_reason(exc: ClientError) -> str | None:
    """The capability note for a refusal that lasts (the account's state or the role's policy)."""
    if exc.response.get("Error", {}).get("Code") not in ("AccessDeniedException", "AccessDenied"):
        return None
    if scp_denied_action(exc) is not None:
        return None  # an SCP's explicit deny: the scanner records it per region
    reason = exc.response.get("reason")
    return UNAVAILABLE_FOR_ACCOUNT if reason == "INVALID_ACCOUNT_STATE" else UNAVAILABLE_FOR_ROLE


async def _details(payments: CollectorContext, ids: list[str]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for start in range(0, len(ids), BATCH_KEYS):
        response = await payments.call(
            "payments",
            "batch_get_financial_record",
            keys=[{"identifier": record_id} for record_id in ids[start : start + BATCH_KEYS]],
        )
        records += response.get("financialRecords", [])
        for error in response.get("errors", []):
            key = error.get("key") or {}
            payments.record_error(
                f"financial record {key.get('identifier') or key.get('invoiceIdentifier')}",
                f"{error.get('code')}: {error.get('message')}",
            )
    return records


def next_due_change(invoices: list[dict[str, Any]], now: datetime) -> datetime | None:
    """When the first outstanding invoice turns past due (the day after its due date, 00:00 UTC)."""
    moments = [
        datetime.fromisoformat(invoice["due_date"]) + timedelta(days=1)
        for invoice in invoices
        if invoice["due_status"] == "DUE" and invoice["due_date"]
    ]
    upcoming = [moment for moment in moments if moment > now]
    return min(upcoming) if upcoming else None


async def fetch_open_invoices(ctx: CollectorContext) -> dict[str, Any] | None:
    """``{"invoices": [...], "processing": [ids], "checked_at"}``; None when AWS Payments refuses
    the account or the role (the ``payments_api`` capability says why)."""
    payments = ctx.in_region(PAYMENTS_REGION)
    now = datetime.now(UTC)
    try:
        summaries: list[dict[str, Any]] = await payments.paginate(
            "payments",
            "list_financial_records",
            "financialRecordSummaries",
            types=["INVOICE"],
            settlementStatuses=["OPEN"],
        )
    except ClientError as exc:
        reason = _refusal_reason(exc)
        if reason is None:
            raise
        ctx.record_capability(PAYMENTS_CAPABILITY, False, reason)
        return None
    ctx.record_capability(PAYMENTS_CAPABILITY, True)
    outstanding = [summary["id"] for summary in summaries if summary.get("status") == "OUTSTANDING"]
    invoices = [_invoice(record) for record in await _details(payments, outstanding)]
    turning = next_due_change(invoices, now)
    if turning is not None and turning < now + INVOICES_FRESHNESS:
        ctx.fresh_until(turning)
    return {
        "invoices": invoices,
        # A payment is under way for these: not unpaid, not reported.
        "processing": sorted(s["id"] for s in summaries if s.get("status") == "PROCESSING"),
        "checked_at": now.isoformat(),
    }


INVOICE_COLLECTORS = [
    Collector(
        key="billing.invoices",
        fetch=fetch_open_invoices,
        evidence=True,
        description=(
            "payments:ListFinancialRecords (INVOICE, OPEN) and payments:BatchGetFinancialRecord for the "
            "outstanding ones: due date and due status"
        ),
        freshness=INVOICES_FRESHNESS,
    ),
]
