"""The console's addresses, for every link Vigilare sends (emails, Slack, redirects to and from Stripe).

One place knows where each page lives, so a link in an email and the page's route cannot drift apart.
"""

from __future__ import annotations

from urllib.parse import quote

from vigilare.config import Settings

CONSOLE = "/app"


def console_url(settings: Settings, path: str = "/") -> str:
    """The absolute address of a console page, e.g. ``console_url(settings, "/accounts")``."""
    return f"{settings.public_url.rstrip('/')}{CONSOLE}{path}"


def accept_invite_url(settings: Settings, token: str) -> str:
    return console_url(settings, f"/accept-invite?token={quote(token)}")


def account_url(settings: Settings, aws_account_id: str) -> str:
    return console_url(settings, f"/accounts/{aws_account_id}")


def checklist_url(settings: Settings, aws_account_id: str) -> str:
    return console_url(settings, f"/accounts/{aws_account_id}/recovery-checklist")


def alert_url(settings: Settings, alert_id: str) -> str:
    return console_url(settings, f"/alerts/{alert_id}")


def billing_url(settings: Settings) -> str:
    return console_url(settings, "/settings/billing")
