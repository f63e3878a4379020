"""Human-readable renderings of an :class:`AlertNotification`: email subject/text/HTML, Slack blocks.

Account names, signal titles and resources come from customers' AWS accounts, so every rendering
escapes them for its medium (HTML entities, Slack mrkdwn control characters).
"""

from __future__ import annotations

import html
import re
from typing import Any

from vigilare.alerts.channels.base import AlertEventType, AlertNotification, TriggeringSignal
from vigilare.plugin.model import Severity

# Slack rejects messages with more than 50 blocks; keep room for the header, summary and buttons.
MAX_SLACK_SIGNAL_BLOCKS = 20
_SLACK_SECTION_TEXT_LIMIT = 3000
_HEADER_TEXT_LIMIT = 150

_EVENT_HEADLINES = {
    AlertEventType.TRIGGER: "Alert",
    AlertEventType.ACKNOWLEDGE: "Acknowledged",
    AlertEventType.RESOLVE: "Resolved",
}
_SEVERITY_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.LOW: ":white_circle:",
}


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def headline(notification: AlertNotification) -> str:
    """``Alert: prod (123456789012) — SRS 38, 2 signals`` — used as email subject and Slack fallback."""
    word = _EVENT_HEADLINES[notification.event]
    count = len(notification.signals)
    plural = "signal" if count == 1 else "signals"
    score = f"Security Risk Score {notification.srs}"
    return _one_line(f"{word}: {notification.account_label} \u2014 {score}, {count} {plural}")


def email_subject(notification: AlertNotification) -> str:
    return f"[Vigilare] {headline(notification)}"


def _signal_location(signal: TriggeringSignal) -> str:
    parts = [part for part in (signal.region, signal.resource) if part]
    return " \u00b7 ".join(parts)


def email_text(notification: AlertNotification) -> str:
    lines = [
        headline(notification),
        "",
        f"Tenant: {notification.tenant_name}",
        f"AWS account: {notification.account_label}",
        f"Security Risk Score: {notification.srs}/100 (higher is safer)",
    ]
    if notification.rule_name:
        lines.append(f"Alert rule: {notification.rule_name}")
    if notification.signals:
        lines += ["", "Signals:"]
        for signal in notification.signals_by_severity():
            location = _signal_location(signal)
            suffix = f" ({location})" if location else ""
            lines.append(f"  - [{signal.severity}] {signal.scenario}: {signal.title}{suffix}")
    lines += [
        "",
        f"Recovery checklist: {notification.checklist_url}",
        f"Dashboard: {notification.dashboard_url}",
    ]
    if notification.alert_url:
        lines.append(f"Acknowledge: {notification.alert_url}")
    lines += ["", f"Alert id: {notification.alert_id}"]
    return "\n".join(lines) + "\n"


def email_html(notification: AlertNotification) -> str:
    esc = html.escape
    rows = "".join(
        "<tr>"
        f"<td><strong>{esc(signal.severity)}</strong></td>"
        f"<td>{esc(signal.scenario)}</td>"
        f"<td>{esc(signal.title)}</td>"
        f"<td>{esc(_signal_location(signal))}</td>"
        "</tr>"
        for signal in notification.signals_by_severity()
    )
    signals_table = (
        "<table border='1' cellpadding='4' cellspacing='0'>"
        "<tr><th>Severity</th><th>Scenario</th><th>Signal</th><th>Where</th></tr>"
        f"{rows}</table>"
        if rows
        else ""
    )
    rule = f"<p>Alert rule: {esc(notification.rule_name)}</p>" if notification.rule_name else ""
    acknowledge = (
        f' &middot; <a href="{esc(notification.alert_url, quote=True)}">Acknowledge</a>'
        if notification.alert_url
        else ""
    )
    return (
        "<!DOCTYPE html><html><body>"
        f"<h2>{esc(headline(notification))}</h2>"
        f"<p>Tenant: {esc(notification.tenant_name)}<br>"
        f"AWS account: {esc(notification.account_label)}<br>"
        f"Security Risk Score: <strong>{notification.srs}</strong>/100 (higher is safer)</p>"
        f"{rule}{signals_table}"
        f'<p><a href="{esc(notification.checklist_url, quote=True)}">Open the recovery checklist</a>'
        f' &middot; <a href="{esc(notification.dashboard_url, quote=True)}">Dashboard</a>{acknowledge}</p>'
        f"<p style='color:#888'>Alert id: {esc(notification.alert_id)}</p>"
        "</body></html>"
    )


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def slack_blocks(notification: AlertNotification) -> list[dict[str, Any]]:
    """Block Kit blocks: header, account/score fields, one section per signal, buttons."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _truncate(headline(notification), _HEADER_TEXT_LIMIT)},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*AWS account*\n{slack_escape(notification.account_label)}"},
                {"type": "mrkdwn", "text": f"*Security Risk Score*\n{notification.srs}/100"},
                {"type": "mrkdwn", "text": f"*Tenant*\n{slack_escape(notification.tenant_name)}"},
                {"type": "mrkdwn", "text": f"*Event*\n{notification.event.value}"},
            ],
        },
    ]
    ordered = notification.signals_by_severity()
    for signal in ordered[:MAX_SLACK_SIGNAL_BLOCKS]:
        location = _signal_location(signal)
        text = (
            f"{_SEVERITY_EMOJI.get(signal.severity, '')} *{signal.severity}* \u00b7 "
            f"`{slack_escape(signal.scenario)}` \u00b7 {slack_escape(signal.title)}"
        )
        if location:
            text += f"\n{slack_escape(location)}"
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _truncate(text, _SLACK_SECTION_TEXT_LIMIT)},
            }
        )
    if len(ordered) > MAX_SLACK_SIGNAL_BLOCKS:
        hidden = len(ordered) - MAX_SLACK_SIGNAL_BLOCKS
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {hidden} more signals"}]}
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Recovery checklist"},
                    "url": notification.checklist_url,
                    "style": "danger" if notification.event is AlertEventType.TRIGGER else "primary",
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Dashboard"},
                    "url": notification.dashboard_url,
                },
            ],
        }
    )
    return blocks
