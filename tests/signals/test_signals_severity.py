"""One Severity: the scale every part of Vigilare ranks, compares and validates with."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

import vigilare
from tests.support.accounts import all_signals
from tests.support.api import owner_headers
from vigilare.alerts.channels.base import AlertNotification, TriggeringSignal
from vigilare.alerts.channels.pagerduty_channel import pagerduty_severity
from vigilare.alerts.evaluation import matching_signals
from vigilare.alerts.models import AlertRule
from vigilare.plugin import Severity
from vigilare.scoring.formula import SEVERITY_POINTS
from vigilare.signals.models import Signal

PACKAGE = Path(vigilare.__file__).parent
PAGERDUTY_ORDER = ["info", "warning", "error", "critical"]


def test_the_scale_is_four_severities_most_severe_first() -> None:
    assert list(Severity) == [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW]
    assert [severity.rank for severity in Severity] == [4, 3, 2, 1]
    assert Severity.choices() == "CRITICAL, HIGH, MEDIUM, LOW"
    assert Severity.parse("high") is Severity.HIGH
    for unknown in ("INFO", "SEVERE", ""):
        with pytest.raises(ValueError, match="expected one of CRITICAL, HIGH, MEDIUM, LOW"):
            Severity.parse(unknown)


def test_no_other_module_defines_a_severity_scale() -> None:
    """Only vigilare/plugin/model.py may spell the severities out as an enum or a rank table."""
    owners = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Assign):
                names = [target.id for target in node.targets if isinstance(target, ast.Name)]
            if "CRITICAL" in names or (isinstance(node, ast.Dict) and _is_rank_table(node)):
                owners.add(path.relative_to(PACKAGE).as_posix())
    assert owners == {"plugin/model.py"}


def _is_rank_table(node: ast.Dict) -> bool:
    """A dict from the severity names (as strings) to numbers, e.g. {"CRITICAL": 4, "HIGH": 3}."""
    keys = {key.value for key in node.keys if isinstance(key, ast.Constant)}
    numbers = all(isinstance(value, ast.Constant) and isinstance(value.value, int) for value in node.values)
    return {"CRITICAL", "HIGH"} <= keys and numbers


@pytest.mark.parametrize(("worse", "better"), list(itertools.combinations(Severity, 2)))
def test_every_part_ranks_severities_the_same_way(worse: Severity, better: Severity) -> None:
    assert worse.rank > better.rank and worse.at_least(better) and not better.at_least(worse)
    # The score costs more for the worse one.
    assert SEVERITY_POINTS[worse] > SEVERITY_POINTS[better]
    # A rule at the better one's level matches both; at the worse one's level, only the worse.
    signals = [_signal(better), _signal(worse)]
    assert matching_signals(_rule(better), signals) == signals
    assert matching_signals(_rule(worse), signals) == [signals[1]]
    # Notifications list the worse first, and PagerDuty pages at the worst one's level or higher.
    notification = _notification(better, worse)
    assert notification.worst_severity is worse
    assert [s.severity for s in notification.signals_by_severity()] == [worse, better]
    assert PAGERDUTY_ORDER.index(pagerduty_severity(_notification(worse))) >= PAGERDUTY_ORDER.index(
        pagerduty_severity(_notification(better))
    )


def _signal(severity: Severity) -> Signal:
    return Signal(id=f"signal-{severity}", scenario="iam", severity=severity.value)


def _rule(minimum: Severity) -> AlertRule:
    return AlertRule(min_severity=minimum.value, scenarios=[])


def _notification(*severities: Severity) -> AlertNotification:
    return AlertNotification(
        alert_id="a",
        tenant_name="Acme",
        aws_account_id="210987654321",
        account_name="prod",
        srs=90,
        signals=tuple(TriggeringSignal(severity=s, scenario="iam", title=f"{s} one") for s in severities),
        checklist_url="https://vigilare.test/c",
        dashboard_url="https://vigilare.test/d",
    )


async def test_info_is_refused_where_the_api_takes_a_severity(client) -> None:
    headers = await owner_headers(client)
    await client.post("/accounts", headers=headers, json={"aws_account_id": "210987654321"})
    assert await all_signals(client, headers, "210987654321", severity="high") == []
    listing = await client.get("/accounts/210987654321/signals?severity=INFO", headers=headers)
    assert listing.status_code == 400
    assert listing.json() == {"error": "severity: must be one of CRITICAL, HIGH, MEDIUM, LOW"}
    email = {"type": "email", "to": ["oncall@acme.test"]}
    rule = await client.post(
        "/alert-rules", headers=headers, json={"name": "r", "channels": [email], "min_severity": "INFO"}
    )
    assert rule.status_code == 400
    assert rule.json() == {"error": "min_severity: must be one of CRITICAL, HIGH, MEDIUM, LOW"}
    created = await client.post(
        "/alert-rules", headers=headers, json={"name": "r", "channels": [email], "min_severity": " low "}
    )
    assert created.status_code == 201 and created.json()["min_severity"] == "LOW"
    patched = await client.patch(
        f"/alert-rules/{created.json()['rule_id']}", headers=headers, json={"min_severity": "info"}
    )
    assert patched.status_code == 400 and "min_severity" in patched.json()["error"]
