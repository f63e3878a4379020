from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from vigilare.alerts.channels.base import AlertNotification, parse_retry_after
from vigilare.plugin import Severity

NOW = datetime(2026, 5, 22, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("Fri, 22 May 2026 10:00:45 GMT", 45.0),
        ("Fri, 22 May 2026 09:00:00 GMT", 0.0),  # a date in the past means "now"
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_notification_survives_a_json_job_payload(notification: AlertNotification) -> None:
    # The job layer stores the notification as JSON; it must come back identical.
    encoded = msgspec.json.encode(notification)

    decoded = msgspec.json.decode(encoded, type=AlertNotification)

    assert decoded == notification
    assert decoded.worst_severity is Severity.CRITICAL
    assert msgspec.json.decode(encoded)["event"] == "trigger"


@pytest.mark.parametrize(
    ("account_name", "label"),
    [("prod", "prod (123456789012)"), ("", "123456789012"), ("123456789012", "123456789012")],
)
def test_account_label(notification: AlertNotification, account_name: str, label: str) -> None:
    assert msgspec.structs.replace(notification, account_name=account_name).account_label == label
