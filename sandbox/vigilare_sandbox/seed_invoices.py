"""AWS invoices for the AWS Payments stand-in (fake_payments): unpaid, past due, paid, refused."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from vigilare_sandbox.sandbox import Sandbox
from vigilare_sandbox.state import Invoice

_SERIAL = itertools.count(1)


def _record_id(number: int) -> str:
    digits = f"{5364_6253_7364_0000 + number:016d}"
    return "INV-" + "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def add_invoice(
    sandbox: Sandbox,
    account_id: str,
    *,
    amount: str,
    due_date: date,
    status: str = "OUTSTANDING",
    settled: str = "0.00",
    currency: str = "USD",
    invoice_id: str | None = None,
    issued_at: datetime | None = None,
) -> Invoice:
    """One invoice of the account (status OUTSTANDING, PROCESSING, SETTLED or CANCELED), issued 30
    days before its due date unless ``issued_at`` says otherwise."""
    number = next(_SERIAL)
    invoice = Invoice(
        record_id=_record_id(number),
        invoice_id=invoice_id or f"{2_000_000_000 + number}",
        amount=amount,
        due_date=due_date,
        issued_at=issued_at or datetime.combine(due_date - timedelta(days=30), datetime.min.time(), UTC),
        status=status,
        settled=settled,
        currency=currency,
    )
    with sandbox.state.lock:
        sandbox.state.account(account_id).invoices.append(invoice)
    return invoice


def add_past_due_invoice(
    sandbox: Sandbox, account_id: str, *, days_past_due: int = 12, amount: str = "1843.20"
) -> Invoice:
    """An unpaid invoice whose due date passed ``days_past_due`` days ago."""
    due = datetime.now(UTC).date() - timedelta(days=days_past_due)
    return add_invoice(sandbox, account_id, amount=amount, due_date=due)


def add_paid_invoices(
    sandbox: Sandbox, account_id: str, months: int = 3, amount: str = "120.00"
) -> list[Invoice]:
    """Monthly invoices paid in full, their due dates in the past (every account has these)."""
    today = datetime.now(UTC).date()
    return [
        add_invoice(
            sandbox, account_id, amount=amount, due_date=today - timedelta(days=30 * n + 5), status="SETTLED"
        )
        for n in range(months)
    ]


def refuse_payments(sandbox: Sandbox, account_id: str, reason: str = "INVALID_ACCOUNT_STATE") -> None:
    """AWS Payments answers AccessDeniedException with this reason (INVALID_ACCOUNT_STATE: a member
    account whose management account pays; NOT_AUTHORIZED: the role lacks the payments actions)."""
    with sandbox.state.lock:
        sandbox.state.account(account_id).payments_refusal = reason
