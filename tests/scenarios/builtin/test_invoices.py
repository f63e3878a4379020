"""billing: unpaid AWS invoices (``past_due`` CRITICAL with the suspension cap, ``invoice_due_soon``
MEDIUM), judged on AWS Payments' status and due status, never on the due date alone.

The stand-in answers as the AWS Payments API reference documents (API_payments_ListFinancialRecords,
API_payments_BatchGetFinancialRecord, API_payments_InvoiceDetails: ``dueStatus`` only while the
invoice is OUTSTANDING, past due from the day after ``dueDate``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.accounts import connect_and_verify, wait_for_scan
from tests.support.api import owner_headers
from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID, NOW, one_per_kind
from vigilare.plugin import Severity
from vigilare.scenarios.builtin.billing import BillingScenario
from vigilare.testing import collected_data
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed import seed_clean_account
from vigilare_sandbox.seed_invoices import add_invoice, add_paid_invoices, add_past_due_invoice

CHECKLIST_ACCOUNT = "240987654321"


def invoice(status: str, due_days_from_now: int, due_status: str | None, **extra: Any) -> dict[str, Any]:
    due = (NOW - timedelta(days=-due_days_from_now)).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "id": "INV-5364-6253-7364-1342",
        "invoice_id": "2093841772",
        "status": status,
        "due_date": due.isoformat(),
        "due_status": due_status,
        "amount": {"currency": "USD", "value": "1843.20"},
        "outstanding": {"currency": "USD", "value": "1843.20" if status == "OUTSTANDING" else "0.00"},
        **extra,
    }


async def detect(*invoices: dict[str, Any]) -> list[Any]:
    data = collected_data({"billing.invoices": {"invoices": list(invoices)}}, account_id=ACCOUNT_ID)
    return await BillingScenario().detect(data)


async def test_an_outstanding_invoice_past_due_is_critical_and_names_invoice_amount_and_days() -> None:
    found = one_per_kind(await detect(invoice("OUTSTANDING", -12, "PAST_DUE")))

    past_due = found["past_due"]
    assert past_due.severity is Severity.CRITICAL
    assert "2093841772" in past_due.title and "12 days past due" in past_due.title
    assert "1,843.20 USD" in past_due.title
    assert past_due.details["days_past_due"] == 12
    assert past_due.details["act_on"] == [
        f"invoice 2093841772 (1,843.20 USD unpaid, due {(NOW - timedelta(days=12)).date()}, 12 days past due)"
    ]


async def test_paid_processing_and_canceled_invoices_past_their_due_date_are_not_findings() -> None:
    # Every paid invoice has a due date in the past: only AWS Payments' status decides.
    assert await detect(invoice("SETTLED", -40, None), invoice("PROCESSING", -3, None)) == []
    assert await detect(invoice("CANCELED", -40, None)) == []


async def test_an_outstanding_invoice_due_within_a_week_is_a_medium_warning() -> None:
    found = one_per_kind(await detect(invoice("OUTSTANDING", 5, "DUE")))
    assert found["invoice_due_soon"].severity is Severity.MEDIUM
    assert "due in 5 days" in found["invoice_due_soon"].title
    # Due in three weeks: the normal state of a fresh invoice, not a warning.
    assert await detect(invoice("OUTSTANDING", 21, "DUE")) == []


async def test_a_past_due_invoice_is_found_through_the_stand_in_and_paid_ones_are_not(
    sandbox: Sandbox,
) -> None:
    add_paid_invoices(sandbox, ACCOUNT_ID, months=3)
    late = add_past_due_invoice(sandbox, ACCOUNT_ID, days_past_due=9, amount="512.00")
    soon = add_invoice(
        sandbox, ACCOUNT_ID, amount="75.50", due_date=datetime.now(UTC).date() + timedelta(days=3)
    )
    # A payment under way for a past-due invoice: not unpaid.
    add_invoice(
        sandbox,
        ACCOUNT_ID,
        amount="300.00",
        due_date=datetime.now(UTC).date() - timedelta(days=2),
        status="PROCESSING",
    )

    report = await scan_sandbox(sandbox, ["billing"])

    invoice_findings = [f for f in report.findings if f.kind in ("past_due", "invoice_due_soon")]
    assert sorted((f.kind, f.details["invoice_id"]) for f in invoice_findings) == sorted(
        [("past_due", late.invoice_id), ("invoice_due_soon", soon.invoice_id)]
    )
    past_due = next(f for f in invoice_findings if f.kind == "past_due")
    assert past_due.details["days_past_due"] == 9 and "512.00 USD" in past_due.title
    assert report.status == "ok" and report.collection_errors == []
    assert {c.name: c.available for c in report.capabilities}["payments_api"] is True


async def test_a_clean_account_with_paid_invoices_has_no_invoice_finding(sandbox: Sandbox) -> None:
    seed_clean_account(sandbox, ACCOUNT_ID)  # three monthly invoices, paid, due dates past
    report = await scan_sandbox(sandbox, ["billing"])
    assert report.outcomes["billing"].data_complete, report.collection_errors
    assert report.findings == []


async def test_a_member_account_refused_by_aws_payments_gets_a_capability_note_not_a_finding(
    sandbox: Sandbox,
) -> None:
    with sandbox.state.lock:
        sandbox.state.account(ACCOUNT_ID).payments_refusal = "INVALID_ACCOUNT_STATE"
    add_past_due_invoice(sandbox, ACCOUNT_ID)  # the account's own view is refused whatever it holds

    report = await scan_sandbox(sandbox, ["billing"])

    assert [f.kind for f in report.findings if f.kind == "past_due"] == []
    assert report.status == "ok" and report.collection_errors == []
    note = next(c for c in report.capabilities if c.name == "payments_api")
    assert not note.available and "management account" in note.reason


async def test_a_role_without_the_payments_actions_is_told_to_update_its_policy(sandbox: Sandbox) -> None:
    with sandbox.state.lock:
        sandbox.state.account(ACCOUNT_ID).payments_refusal = "NOT_AUTHORIZED"
    report = await scan_sandbox(sandbox, ["billing"])
    assert report.status == "ok" and report.collection_errors == []
    note = next(c for c in report.capabilities if c.name == "payments_api")
    assert not note.available and "payments:GetPaymentStatus" in note.reason


async def test_a_past_due_invoice_caps_the_score_and_the_checklist_names_it(aws_client, sandbox) -> None:
    seed_clean_account(sandbox, CHECKLIST_ACCOUNT)
    late = add_past_due_invoice(sandbox, CHECKLIST_ACCOUNT, days_past_due=15, amount="2210.75")
    headers = await owner_headers(aws_client, "owner@invoices.test")
    verified = await connect_and_verify(aws_client, headers, sandbox, CHECKLIST_ACCOUNT)
    await wait_for_scan(aws_client, headers, CHECKLIST_ACCOUNT, verified["first_scan_execution_arn"])

    score = (await aws_client.get(f"/accounts/{CHECKLIST_ACCOUNT}/score", headers=headers)).json()
    assert score["srs"] <= 10, score
    assert score["cap"]["ceiling"] == 10
    assert any("invoice is past due" in reason.lower() for reason in score["cap"]["reasons"]), score["cap"]

    checklist = (
        await aws_client.get(f"/accounts/{CHECKLIST_ACCOUNT}/recovery-checklist", headers=headers)
    ).json()["checklist"]
    step = next(step for step in checklist if step["title"] == "Pay the past-due invoices")
    assert f"invoice {late.invoice_id} (2,210.75 USD unpaid" in step["description"]
    assert "15 days past due" in step["description"]
