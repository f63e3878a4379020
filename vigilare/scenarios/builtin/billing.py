"""Built-in ``billing`` scenario: spend running away, spend in a region never used, cost anomalies,
unpaid AWS invoices.

Compromised accounts show up on the bill first: GPU miners cost hundreds of dollars a day.
Thresholds (SIGNALS.md): month run-rate > 2x last month and > $50: HIGH; a day > 3x the median of
the 14 days before it and > $100: HIGH; spend in a region never used before: CRITICAL; a Cost
Explorer anomaly with impact > $100: HIGH; an invoice past due: CRITICAL (a suspension cap); an
unpaid invoice due within 7 days: MEDIUM.
"""

from __future__ import annotations

import calendar
import statistics
from datetime import date, datetime, timedelta
from typing import Any

from vigilare.plugin import CollectedData, Finding, Scenario, Severity, as_datetime, hookimpl, minute_of

RUN_RATE_FACTOR = 2.0
RUN_RATE_FLOOR = 50.0
# Early in a month a few hours of charges extrapolate wildly: project over at least this many days.
MIN_PROJECTION_DAYS = 2.0
DAILY_SPIKE_FACTOR = 3.0
DAILY_SPIKE_FLOOR = 100.0
TRAILING_DAYS = 14
MIN_TRAILING_DAYS = 7
# A region is "never used before" when the known history had at least this many days without it...
NEW_REGION_QUIET_DAYS = 7
# ...and the signal stays open this long after its first day of spend.
NEW_REGION_WINDOW_DAYS = 7
NEW_REGION_MIN_SPEND = 1.0
ANOMALY_IMPACT_FLOOR = 100.0
ANOMALY_RECENT_DAYS = 7

CHARGES_DOCS = "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/checklistforunwantedcharges.html"
ANOMALY_DOCS = "https://docs.aws.amazon.com/cost-management/latest/userguide/getting-started-ad.html"


def money(amount: float) -> str:
    return f"${amount:,.2f}"


# Unpaid AWS invoices (kinds ``past_due`` and ``invoice_due_soon``).
# AWS suspends accounts with unpaid invoices, so an invoice past due is a *cap* signal: CRITICAL, and
# the Security Risk Score stays at 10 or below while it is open (vigilare.scoring.formula). Only AWS
# Payments' own word counts: an invoice is past due when its status is OUTSTANDING and its
# ``dueStatus`` is PAST_DUE. A paid (SETTLED) invoice, one being paid (PROCESSING) and a canceled one
# are never reported, whatever their due date.
#
# An outstanding invoice due within :data:`DUE_SOON_DAYS` days is a MEDIUM warning
# (``invoice_due_soon``): customers paying by card are charged when the invoice is issued, so an
# invoice still unpaid days before its due date usually means a declined card; a week leaves time to
# fix the payment method before the suspension clock starts. MEDIUM, not HIGH: customers who pay by
# bank transfer on terms see it every month, and it is bounded with the other minor findings.

DUE_SOON_DAYS = 7
PAY_DOCS = "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/manage-payments.html"
PAST_DUE_REMEDIATION = (
    "Pay the invoices in the Billing and Cost Management console (Payments), or fix the payment "
    "method AWS could not charge and retry the payment. If the account is already suspended, contact "
    "AWS Support after paying to have it reinstated."
)
DUE_SOON_REMEDIATION = (
    "Check the payment method in the Billing and Cost Management console and pay the invoice before "
    "its due date: AWS suspends accounts with invoices left unpaid."
)


def amount_text(amount: dict[str, Any]) -> str:
    """``{"currency": "USD", "value": "1843.2"}`` as ``"1,843.20 USD"``."""
    try:
        value = f"{float(amount.get('value') or 0):,.2f}"
    except ValueError:
        value = str(amount.get("value"))
    return f"{value} {amount.get('currency') or ''}".strip()


def _due_day(invoice: dict[str, Any]) -> date | None:
    moment = as_datetime(invoice.get("due_date"))
    return moment.date() if moment is not None else None


def _act_on(invoice: dict[str, Any], due: date, today: date) -> str:
    owed = amount_text(invoice.get("outstanding") or invoice.get("amount") or {})
    late = (today - due).days
    when = f"{late} days past due" if late > 0 else f"due in {(due - today).days} days"
    return f"invoice {invoice.get('invoice_id')} ({owed} unpaid, due {due.isoformat()}, {when})"


def _details(invoice: dict[str, Any], due: date, today: date) -> dict[str, Any]:
    return {
        "invoice_id": invoice.get("invoice_id"),
        "financial_record_id": invoice.get("id"),
        "amount": invoice.get("amount"),
        "outstanding": invoice.get("outstanding"),
        "due_date": due.isoformat(),
        "days_past_due": max((today - due).days, 0),
        "act_on": [_act_on(invoice, due, today)],
    }


def invoice_findings(scenario: Scenario, account: str, data: dict[str, Any], now: datetime) -> list[Finding]:
    """One finding per outstanding invoice that is past due (CRITICAL) or due within a week (MEDIUM)."""
    today = now.date()
    findings: list[Finding] = []
    for invoice in data.get("invoices") or []:
        due = _due_day(invoice)
        if invoice.get("status") != "OUTSTANDING" or due is None:
            continue
        owed = amount_text(invoice.get("outstanding") or invoice.get("amount") or {})
        resource = f"arn:aws:payments::{account}:financial-record/{invoice.get('id')}"
        if invoice.get("due_status") == "PAST_DUE":
            late = (today - due).days
            findings.append(
                scenario.finding(
                    kind="past_due",
                    severity=Severity.CRITICAL,
                    title=f"AWS invoice {invoice.get('invoice_id')} is {late} days past due ({owed} unpaid)",
                    description=(
                        f"AWS Payments reports invoice {invoice.get('invoice_id')} of account {account} "
                        f"as past due: {owed} of {amount_text(invoice.get('amount') or {})} is unpaid, "
                        f"and it was due on {due.isoformat()} ({late} days ago). AWS suspends accounts "
                        "with unpaid invoices and closes them if they stay unpaid."
                    ),
                    resource=resource,
                    remediation=PAST_DUE_REMEDIATION,
                    docs_url=PAY_DOCS,
                    details=_details(invoice, due, today),
                )
            )
        elif invoice.get("due_status") == "DUE" and 0 <= (due - today).days <= DUE_SOON_DAYS:
            days = (due - today).days
            findings.append(
                scenario.finding(
                    kind="invoice_due_soon",
                    severity=Severity.MEDIUM,
                    title=f"AWS invoice {invoice.get('invoice_id')} is unpaid, due in {days} days ({owed})",
                    description=(
                        f"Invoice {invoice.get('invoice_id')} of account {account} still has {owed} "
                        f"outstanding and is due on {due.isoformat()}. An invoice unpaid this close to "
                        "its due date often means AWS could not charge the payment method; once it is "
                        "past due, AWS may suspend the account."
                    ),
                    resource=resource,
                    remediation=DUE_SOON_REMEDIATION,
                    docs_url=PAY_DOCS,
                    details=_details(invoice, due, today),
                )
            )
    return findings


class BillingScenario(Scenario):
    id = "billing"
    title = "Spend that runs away or appears where you never work"
    requires = ("billing.estimated_charges", "billing.cost_explorer", "billing.invoices")
    emits = {
        "spend_runrate_spike": (Severity.HIGH,),
        "daily_spend_spike": (Severity.HIGH,),
        "new_region_spend": (Severity.CRITICAL,),
        "cost_anomaly": (Severity.HIGH,),
        "past_due": (Severity.CRITICAL,),
        "invoice_due_soon": (Severity.MEDIUM,),
    }
    kind_requires = {
        "spend_runrate_spike": ("billing.estimated_charges",),
        "daily_spend_spike": ("billing.cost_explorer",),
        "new_region_spend": ("billing.cost_explorer",),
        "cost_anomaly": ("billing.cost_explorer",),
        "past_due": ("billing.invoices",),
        "invoice_due_soon": ("billing.invoices",),
    }
    remediation = (
        "Open Cost Explorer, group the charges by region and usage type, and find what you did not "
        "launch; terminate it in every region. If the charges come from unauthorised use, say so in an "
        "AWS support case and ask for a billing adjustment."
    )
    docs_url = CHARGES_DOCS

    async def detect(self, data: CollectedData) -> list[Finding]:
        now = data.collected_at
        findings: list[Finding] = []
        charges = data.get("billing.estimated_charges")
        if charges:
            findings += self._run_rate(data.account_id, charges, now)
        explorer = data.get("billing.cost_explorer")
        if explorer:
            findings += self._daily_spike(data.account_id, explorer)
            findings += self._new_regions(data.account_id, explorer, now)
            findings += self._anomalies(data.account_id, explorer.get("anomalies") or [], now)
        invoices = data.get("billing.invoices")
        if invoices:
            findings += invoice_findings(self, data.account_id, invoices, now)
        return findings

    def _run_rate(self, account: str, charges: dict[str, Any], now: datetime) -> list[Finding]:
        month_to_date, last_month = charges.get("month_to_date"), charges.get("last_month_total")
        month_start = as_datetime(charges.get("month_start"))
        if month_to_date is None or last_month is None or month_start is None:
            return []  # no billing metric, or no previous month to compare with
        days_in_month = calendar.monthrange(month_start.year, month_start.month)[1]
        elapsed_days = (now - month_start).total_seconds() / 86400
        run_rate = month_to_date * days_in_month / max(elapsed_days, MIN_PROJECTION_DAYS)
        if not (run_rate > RUN_RATE_FACTOR * last_month and run_rate > RUN_RATE_FLOOR):
            return []
        month_name = month_start.strftime("%B %Y")
        return [
            self.finding(
                kind="spend_runrate_spike",
                severity=Severity.HIGH,
                title=(
                    f"AWS spend is on track for {money(run_rate)} in {month_name}, "
                    f"{run_rate / max(last_month, 0.01):.1f}x last month's {money(last_month)}"
                ),
                description=(
                    f"Account {account} has spent {money(month_to_date)} so far in {month_name} "
                    f"({elapsed_days:.1f} days in), which projects to {money(run_rate)} for the month, more "
                    f"than twice last month's total of {money(last_month)}. Seen in the AWS/Billing "
                    f"EstimatedCharges metric at {minute_of(now)}. Check which services and regions the new "
                    "charges come from; unexpected compute in unused regions usually means stolen keys."
                ),
                resource=f"arn:aws:billing::{account}:month-to-date",
                details={
                    "month_to_date": round(month_to_date, 2),
                    "projected_month_total": round(run_rate, 2),
                    "last_month_total": round(last_month, 2),
                    "month": month_start.strftime("%Y-%m"),
                },
            )
        ]

    def _daily_spike(self, account: str, explorer: dict[str, Any]) -> list[Finding]:
        totals: dict[str, float] = explorer.get("daily_totals") or {}
        fetched_days = sorted({row["date"] for row in explorer.get("daily") or []})
        if not fetched_days:
            return []
        latest = fetched_days[-1]
        latest_day = date.fromisoformat(latest)
        trailing = [
            totals[day]
            for offset in range(1, TRAILING_DAYS + 1)
            if (day := (latest_day - timedelta(days=offset)).isoformat()) in totals
        ]
        if len(trailing) < MIN_TRAILING_DAYS:
            return []  # too little history to call any day unusual
        median = statistics.median(trailing)
        cost = totals.get(latest, 0.0)
        if not (cost > DAILY_SPIKE_FACTOR * median and cost > DAILY_SPIKE_FLOOR):
            return []
        by_service: dict[str, float] = {}
        for row in explorer.get("daily") or []:
            if row["date"] == latest:
                by_service[row["service"]] = by_service.get(row["service"], 0.0) + row["amount"]
        top = sorted(by_service.items(), key=lambda item: item[1], reverse=True)[:3]
        top_text = ", ".join(f"{service} {money(amount)}" for service, amount in top)
        return [
            self.finding(
                kind="daily_spend_spike",
                severity=Severity.HIGH,
                title=(
                    f"AWS spend on {latest} was {money(cost)}, {cost / max(median, 0.01):.0f}x a normal day"
                ),
                description=(
                    f"Account {account} spent {money(cost)} on {latest} (Cost Explorer, fetched "
                    f"{minute_of(as_datetime(explorer['fetched_at']) or datetime.fromisoformat(latest))}), "
                    f"against a median of {money(median)} a day over the {len(trailing)} days before. "
                    f"Largest services that day: {top_text or 'unknown'}. Find what started that day and "
                    "stop it if you did not launch it."
                ),
                resource=f"arn:aws:billing::{account}:daily-spend",
                details={
                    "day": latest,
                    "cost": round(cost, 2),
                    "trailing_median": round(median, 2),
                    "trailing_days": len(trailing),
                    "top_services": [{"service": service, "amount": round(a, 2)} for service, a in top],
                },
            )
        ]

    def _new_regions(self, account: str, explorer: dict[str, Any], now: datetime) -> list[Finding]:
        history_start = explorer.get("history_start")
        if not history_start:
            return []
        known_since = date.fromisoformat(history_start)
        today = now.date()
        spend_since_first: dict[str, float] = {}
        first_spend: dict[str, str] = explorer.get("region_first_spend") or {}
        for row in explorer.get("daily") or []:
            region = row.get("region")
            first = first_spend.get(region or "")
            if first and row["date"] >= first:
                spend_since_first[region] = spend_since_first.get(region, 0.0) + row["amount"]
        findings = []
        for region, first in sorted(first_spend.items()):
            first_day = date.fromisoformat(first)
            never_used = (first_day - known_since).days >= NEW_REGION_QUIET_DAYS
            recent = (today - first_day).days <= NEW_REGION_WINDOW_DAYS
            spent = spend_since_first.get(region, 0.0)
            if not (never_used and recent and spent >= NEW_REGION_MIN_SPEND):
                continue
            findings.append(
                self.finding(
                    kind="new_region_spend",
                    severity=Severity.CRITICAL,
                    title=f"Charges started in {region}, a region this account never used before",
                    description=(
                        f"Account {account} is being charged in {region} since {first} "
                        f"({money(spent)} so far), and had no spend there in the "
                        f"{(first_day - known_since).days} days of billing history before (since "
                        f"{history_start}). Attackers launch capacity in regions the owner never looks "
                        "at. List everything running in that region (EC2, spot requests, Lambda, ECS, "
                        "SageMaker) and terminate what you did not create."
                    ),
                    resource=f"arn:aws:billing::{account}:region/{region}",
                    region=region,
                    details={
                        "first_spend_day": first,
                        "spend_since": round(spent, 2),
                        "history_start": history_start,
                    },
                )
            )
        return findings

    def _anomalies(self, account: str, anomalies: list[dict[str, Any]], now: datetime) -> list[Finding]:
        findings = []
        for anomaly in anomalies:
            impact = float((anomaly.get("Impact") or {}).get("TotalImpact") or 0.0)
            if impact <= ANOMALY_IMPACT_FLOOR or anomaly.get("Feedback") == "PLANNED_ACTIVITY":
                continue
            ended = anomaly.get("AnomalyEndDate")
            if ended and (now.date() - date.fromisoformat(ended[:10])).days > ANOMALY_RECENT_DAYS:
                continue
            causes = anomaly.get("RootCauses") or []
            cause = causes[0] if causes else {}
            region = cause.get("Region") or "global"
            service = cause.get("Service") or anomaly.get("DimensionValue") or "an AWS service"
            usage = f" (usage type {cause['UsageType']})" if cause.get("UsageType") else ""
            started = anomaly.get("AnomalyStartDate", "")[:10]
            findings.append(
                self.finding(
                    kind="cost_anomaly",
                    severity=Severity.HIGH,
                    title=(
                        f"Cost anomaly: {money(impact)} of unexpected {service} spend in {region} "
                        f"since {started}"
                    ),
                    description=(
                        f"AWS Cost Anomaly Detection reports {money(impact)} above the expected spend on "
                        f"{service}{usage} in {region}, starting {started}"
                        f"{' and still ongoing' if not ended else f' and ending {ended[:10]}'}. Open the "
                        "anomaly in the Billing console, check its root cause, and stop what you did not "
                        "launch."
                    ),
                    resource=f"arn:aws:ce::{account}:anomaly/{anomaly.get('AnomalyId')}",
                    region=region,
                    remediation=(
                        "Open the anomaly in Cost Anomaly Detection, follow its root cause to the "
                        "resources, and terminate what you did not launch; mark it as planned activity "
                        "if it was expected."
                    ),
                    docs_url=ANOMALY_DOCS,
                    details={
                        "anomaly_id": anomaly.get("AnomalyId"),
                        "total_impact": impact,
                        "start_date": started,
                        "end_date": ended,
                        "root_causes": causes,
                        "monitor_arn": anomaly.get("MonitorArn"),
                    },
                )
            )
        return findings


@hookimpl
def vigilare_scenarios() -> list[type[Scenario]]:
    return [BillingScenario]
