"""The ``billing.invoices`` collector against the AWS Payments stand-in, which answers as the AWS
Payments API reference documents (API_payments_ListFinancialRecords: OPEN returns OUTSTANDING and
PROCESSING records, paged with nextToken; API_payments_BatchGetFinancialRecord: at most 100 keys;
API_payments_InvoiceDetails: dueStatus only while OUTSTANDING)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.aws import scan_sandbox
from tests.support.findings import ACCOUNT_ID
from vigilare.aws.collectors.invoices import next_due_change
from vigilare.aws.freshness import FreshnessPolicy
from vigilare_sandbox import RequestLog, Sandbox
from vigilare_sandbox.fake_payments import PAGE_SIZE
from vigilare_sandbox.seed_invoices import add_invoice, add_paid_invoices


def today() -> datetime:
    return datetime.now(UTC)


async def test_every_open_invoice_is_read_across_pages_and_batches_of_100(
    sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    due = today().date() + timedelta(days=20)
    outstanding = [add_invoice(sandbox, ACCOUNT_ID, amount=f"{n}.00", due_date=due) for n in range(1, 106)]
    add_paid_invoices(sandbox, ACCOUNT_ID, months=4)
    add_invoice(sandbox, ACCOUNT_ID, amount="9.00", due_date=due, status="PROCESSING")

    report = await scan_sandbox(sandbox, ["billing"])

    lists = aws_requests.to("payments", "ListFinancialRecords")
    assert len(lists) == -(-106 // PAGE_SIZE)  # 105 outstanding + 1 processing, settled ones never listed
    assert all(r.json()["types"] == ["INVOICE"] and r.json()["settlementStatuses"] == ["OPEN"] for r in lists)
    batches = [len(r.json()["keys"]) for r in aws_requests.to("payments", "BatchGetFinancialRecord")]
    assert sorted(batches) == [5, 100]
    data = report.evidence["data"]["billing.invoices"]
    assert sorted(i["invoice_id"] for i in data["invoices"]) == sorted(i.invoice_id for i in outstanding)
    assert {i["due_status"] for i in data["invoices"]} == {"DUE"}
    assert len(data["processing"]) == 1
    assert report.collection_errors == []


async def test_an_account_without_invoices_costs_one_call(sandbox: Sandbox, aws_requests: RequestLog) -> None:
    report = await scan_sandbox(sandbox, ["billing"])
    assert len(aws_requests.to("payments")) == 1
    assert report.evidence["data"]["billing.invoices"]["invoices"] == []


async def test_invoices_are_read_again_only_after_six_hours(
    sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    # Slow keys fall due at each account's own moment, between half their freshness and all of it
    # (vigilare.aws.freshness.spread_deadline): never before 3 hours, always by 6.
    start = today()
    first = await scan_sandbox(sandbox, ["billing"])
    aws_requests.clear()

    two_hours_on = await scan_sandbox(
        sandbox,
        ["billing"],
        state=first.state,
        policy=FreshnessPolicy(now=start + timedelta(hours=2), full=False),
    )
    assert aws_requests.to("payments") == []
    six_hours_on = await scan_sandbox(
        sandbox,
        ["billing"],
        state=two_hours_on.state,
        policy=FreshnessPolicy(now=start + timedelta(hours=6, minutes=5), full=False),
    )
    assert len(aws_requests.to("payments", "ListFinancialRecords")) == 1
    assert six_hours_on.status == "ok"


def test_an_invoice_due_today_is_read_again_when_it_turns_past_due() -> None:
    now = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    due_today = {"due_status": "DUE", "due_date": "2026-11-29T00:00:00+00:00"}
    past_due = {"due_status": "PAST_DUE", "due_date": "2026-11-01T00:00:00+00:00"}
    # Past due from the day after the due date, 00:00 UTC (API_payments_InvoiceDetails).
    assert next_due_change([due_today, past_due], now) == datetime(2026, 11, 30, tzinfo=UTC)
    assert next_due_change([past_due], now) is None


async def test_throttled_payments_calls_are_retried_and_never_a_finding_or_a_gap(
    sandbox: Sandbox, aws_requests: RequestLog
) -> None:
    late = add_invoice(sandbox, ACCOUNT_ID, amount="640.00", due_date=today().date() - timedelta(days=4))
    sandbox.state.inject_throttling("payments", 2, account_id=ACCOUNT_ID)

    report = await scan_sandbox(sandbox, ["billing"])

    assert sandbox.state.pending_throttles("payments") == 0
    assert report.collection_errors == [] and report.status == "ok"
    assert [f.details["invoice_id"] for f in report.findings if f.kind == "past_due"] == [late.invoice_id]
