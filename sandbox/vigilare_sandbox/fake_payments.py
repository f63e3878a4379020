"""AWS Payments (JSON 1.0, target prefix ``Payments``): ListFinancialRecords and BatchGetFinancialRecord,
which moto lacks. As the AWS Payments API reference documents them (2026-09-23):

- https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_payments_ListFinancialRecords.html:
  ``types`` is required; ``settlementStatuses`` OPEN returns OUTSTANDING and PROCESSING records,
  CLOSED returns SETTLED and CANCELED; newest first unless ``sortOrder`` is ASCENDING; summaries
  only (no due date), paginated with ``nextToken``.
- https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_payments_BatchGetFinancialRecord.html:
  1 to 100 keys, each exactly one of ``identifier`` / ``invoiceIdentifier``; a key matching no
  record is returned in ``errors`` and does not fail the request.
- https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_payments_InvoiceDetails.html:
  ``dueDate`` is 00:00:00 UTC of the due day, past due from the next day; ``dueStatus`` (DUE,
  PAST_DUE) is present only while the invoice is OUTSTANDING.
- https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_payments_Balances.html:
  outstanding, processing, settled and canceled add up to ``amount``.
- An account AWS Payments refuses answers ``AccessDeniedException`` with a ``reason``
  (NOT_AUTHORIZED, INVALID_ACCOUNT_STATE, OTHER; botocore reference, Payments exceptions).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from vigilare_sandbox.state import AccountState, Invoice
from vigilare_sandbox.wire import WireResponse, from_epoch

TARGET_PREFIX = "Payments."
JSON_10 = "application/x-amz-json-1.0"
PAGE_SIZE = 25
MERCHANT = {"merchantOfRecord": "Amazon Web Services, Inc.", "lineOfBusiness": "AWS"}
_OPEN = {"OUTSTANDING", "PROCESSING"}
_CLOSED = {"SETTLED", "CANCELED"}


def _ok(payload: dict[str, Any]) -> WireResponse:
    headers = {"Content-Type": JSON_10, "x-amzn-RequestId": str(uuid.uuid4())}
    return WireResponse(200, json.dumps(payload).encode(), headers)


def error(status: int, code: str, message: str, **members: Any) -> WireResponse:
    headers = {"Content-Type": JSON_10, "x-amzn-RequestId": str(uuid.uuid4())}
    return WireResponse(status, json.dumps({"__type": code, "message": message, **members}).encode(), headers)


def _validation(message: str, reason: str = "FIELD_VALIDATION_FAILED") -> WireResponse:
    return error(400, "ValidationException", message, reason=reason)


def _money(value: Decimal, currency: str) -> dict[str, str]:
    return {"currency": currency, "value": f"{value:.2f}"}


def _balances(invoice: Invoice) -> dict[str, dict[str, str]]:
    amount, settled = Decimal(invoice.amount), Decimal(invoice.settled)
    rest = amount - settled
    parts = {"outstanding": Decimal(0), "processing": Decimal(0), "settled": settled, "canceled": Decimal(0)}
    if invoice.status == "OUTSTANDING":
        parts["outstanding"] = rest
    elif invoice.status == "PROCESSING":
        parts["processing"] = rest
    elif invoice.status == "CANCELED":
        parts["canceled"] = rest
    else:
        parts["settled"] = amount
    return {name: _money(value, invoice.currency) for name, value in parts.items()}


def _summary(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.record_id,
        "type": "INVOICE",
        "businessUnit": dict(MERCHANT),
        "amount": _money(Decimal(invoice.amount), invoice.currency),
        "balances": _balances(invoice),
        "issuedAt": invoice.issued_at.timestamp(),
        "settlementStatus": "OPEN" if invoice.status in _OPEN else "CLOSED",
        "status": invoice.status,
    }


def due_status(invoice: Invoice, today: date) -> str | None:
    if invoice.status != "OUTSTANDING":
        return None
    return "PAST_DUE" if today > invoice.due_date else "DUE"


def _record(invoice: Invoice, today: date) -> dict[str, Any]:
    details: dict[str, Any] = {
        "invoiceId": invoice.invoice_id,
        "dueDate": datetime.combine(invoice.due_date, time(0), UTC).timestamp(),
        "invoiceFrequency": "RECURRING",
    }
    status = due_status(invoice, today)
    if status is not None:
        details["dueStatus"] = status
    return {**_summary(invoice), "details": {"invoiceDetails": details}}


def list_financial_records(account: AccountState, body: dict[str, Any]) -> WireResponse:
    types = body.get("types")
    if not types:
        return _validation("types must contain at least one record type")
    settlement = set(body.get("settlementStatuses") or ["OPEN", "CLOSED"])
    statuses = (_OPEN if "OPEN" in settlement else set()) | (_CLOSED if "CLOSED" in settlement else set())
    after = from_epoch(body["issuedAfter"]) if "issuedAfter" in body else None
    before = from_epoch(body["issuedBefore"]) if "issuedBefore" in body else None
    records = [
        invoice
        for invoice in account.invoices
        if "INVOICE" in types
        and invoice.status in statuses
        and (after is None or invoice.issued_at >= after)
        and (before is None or invoice.issued_at < before)
    ]
    records.sort(key=lambda invoice: invoice.issued_at, reverse=body.get("sortOrder") != "ASCENDING")
    try:
        start = int(body.get("nextToken") or 0)
    except ValueError:
        return _validation("The pagination token is not valid", "INVALID_PAGINATION_TOKEN")
    size = min(int(body.get("maxResults") or PAGE_SIZE), PAGE_SIZE)
    payload: dict[str, Any] = {
        "financialRecordSummaries": [_summary(i) for i in records[start : start + size]]
    }
    if start + size < len(records):
        payload["nextToken"] = str(start + size)
    return _ok(payload)


def batch_get_financial_record(account: AccountState, body: dict[str, Any]) -> WireResponse:
    keys = body.get("keys") or []
    if not 1 <= len(keys) <= 100:
        return _validation("keys must contain between 1 and 100 items")
    today = datetime.now(UTC).date()
    found: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for key in keys:
        if len([name for name in ("identifier", "invoiceIdentifier") if key.get(name)]) != 1:
            return _validation("Specify exactly one of identifier and invoiceIdentifier in each key")
        match = next(
            (
                invoice
                for invoice in account.invoices
                if invoice.record_id == key.get("identifier")
                or invoice.invoice_id == key.get("invoiceIdentifier")
            ),
            None,
        )
        if match is None:
            errors.append(
                {"code": "RESOURCE_NOT_FOUND", "key": key, "message": "No financial record matches"}
            )
        else:
            found.append(_record(match, today))
    return _ok({"financialRecords": found, "errors": errors})


def handle(account: AccountState, operation: str, body: dict[str, Any]) -> WireResponse:
    if account.payments_refusal is not None:
        return error(
            403,
            "AccessDeniedException",
            "You don't have sufficient access to perform this operation.",
            reason=account.payments_refusal,
        )
    if operation == "ListFinancialRecords":
        return list_financial_records(account, body)
    if operation == "BatchGetFinancialRecord":
        return batch_get_financial_record(account, body)
    return error(400, "UnknownOperationException", f"Operation {operation} is not served by this stand-in")
