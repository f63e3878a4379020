"""The one table of plans and what each allows. Everything that enforces a limit reads it here."""

from __future__ import annotations

from dataclasses import dataclass

from vigilare.auth.models import TRIAL_DAYS

__all__ = ["PLANS", "TRIAL_DAYS", "Plan", "get_plan"]


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    price_usd_month: int | None  # None: price on request
    account_limit: int | None  # None: no limit
    scan_interval_minutes: int
    manual_scans_per_hour: int
    csv_export: bool
    features: tuple[str, ...]


PLANS: dict[str, Plan] = {
    plan.id: plan
    for plan in (
        Plan(
            "solo",
            "Solo",
            29,
            1,
            15,
            4,
            False,
            ("Email alerts", "IAM monitoring", "Billing anomaly detection"),
        ),
        Plan(
            "team",
            "Team",
            99,
            10,
            5,
            30,
            True,
            (
                "Email, Slack and PagerDuty alerts",
                "All suspension signals",
                "CSV export",
                "Panic package",
                "Team roles",
            ),
        ),
        Plan(
            "agency",
            "Agency",
            299,
            50,
            5,
            30,
            True,
            ("Everything in Team", "Up to 50 accounts", "Priority support"),
        ),
        Plan(
            "enterprise",
            "Enterprise",
            None,
            None,
            5,
            30,
            True,
            ("Everything in Agency", "Unlimited accounts", "SSO and custom contracts", "Dedicated support"),
        ),
    )
}


def get_plan(plan_id: str) -> Plan:
    return PLANS.get(plan_id, PLANS["solo"])
