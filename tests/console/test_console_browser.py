"""The console in headless Chromium against `vigilare serve` (PostgreSQL, the AWS sandbox, a real
SMTP server): a team's first day, what a viewer may do, CSRF, and pages usable by keyboard at 375 px.

The journey saves screenshots of the overview and an account page to docs/screenshots/ (the README
shows them).
"""

from __future__ import annotations

import asyncio
import re
import time
from email.message import Message
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, expect

from tests.support.aws import SENTINEL_ACCOUNT_ID
from tests.support.console import RISKY, seed_accounts
from tests.support.process import ServerProcess
from tests.support.smtp import SmtpSink
from vigilare.config import Settings
from vigilare_sandbox import Sandbox
from vigilare_sandbox.seed import register_customer_role
from vigilare_sandbox.seed_aws import create_public_bucket, create_quarantined_user

ACCOUNT = "210987654321"
OWNER, MATE, ONCALL = "owner@acme.test", "mia@acme.test", "oncall@acme.test"
OWNER_PASSWORD, MATE_PASSWORD = "owner-password-1", "mia-password-12"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCAN_TIMEOUT_MS = 120_000


async def mail_to(sink: SmtpSink, address: str, subject: str, timeout: float = 60) -> str:
    """The text of the first email to ``address`` whose subject contains ``subject``."""
    deadline = time.monotonic() + timeout
    while True:
        for recipients, message in list(sink.messages):
            if address in recipients and subject in str(message["Subject"]):
                return _text(message)
        assert time.monotonic() < deadline, f"no email to {address} about {subject!r}"
        await asyncio.sleep(0.1)


def _text(message: Message) -> str:
    body = message.get_body(("plain",)) if message.is_multipart() else message
    assert body is not None
    return str(body.get_content())  # type: ignore[attr-defined]


async def sign_up(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/")
    await expect(page).to_have_url(re.compile(r"/app/login\?next="))
    await page.get_by_role("link", name="Create an account").click()
    await page.get_by_label("Your name or your company's").fill("Acme")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator(".flash")).to_contain_text("Your account is ready: log in")
    await expect(page.get_by_label("Email")).to_have_value(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_text("No AWS account is connected yet")).to_be_visible()


async def test_a_team_from_signup_to_acknowledging_an_alert_from_its_email(
    browser: Browser, console_server: ServerProcess, sandbox: Sandbox, smtp_sink: SmtpSink
):
    base = console_server.base_url
    create_quarantined_user(sandbox, ACCOUNT, "ci-deployer")
    create_public_bucket(sandbox, ACCOUNT, "acme-public-assets")
    owner = await browser.new_context(viewport={"width": 1280, "height": 900})
    await owner.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = await owner.new_page()

    await sign_up(page, base, OWNER, OWNER_PASSWORD)

    # Someone must hear about it: an alert rule to the on-call inbox.
    await page.get_by_role("link", name="Alert rules").click()
    await page.get_by_role("link", name="New alert rule").click()
    await page.get_by_label("Name", exact=True).fill("Wake the on-call")
    await page.get_by_label("Channel 1: type").select_option("email")
    await page.get_by_label("Channel 1: send to").fill(ONCALL)
    await page.get_by_role("button", name="Create the rule").click()
    await expect(page.locator(".flash")).to_contain_text("Alert rule “Wake the on-call” created.")

    # Connect the account: the role snippets, copied; a failed verification says what AWS said.
    await page.get_by_role("link", name="Accounts", exact=True).click()
    await page.get_by_role("link", name="Connect an account").first.click()
    await page.get_by_label("AWS account id").fill(ACCOUNT)
    await page.locator("#display_name").fill("Production")
    await page.get_by_role("button", name="Continue").click()
    external_id = (await page.locator("#external-id").inner_text()).strip()
    await page.get_by_role("button", name="Copy Terraform").click()
    await expect(page.locator("#terraform-status")).to_have_text("Copied")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert external_id in copied and 'resource "aws_iam_role" "vigilare"' in copied

    role_arn = register_customer_role(
        sandbox, ACCOUNT, "VigilareAudit", "a-mistyped-external-id", SENTINEL_ACCOUNT_ID
    )
    await page.get_by_role("button", name="Verify the role").click()
    await expect(page.locator(".flash.error")).to_contain_text("not authorized to perform: sts:AssumeRole")
    sandbox.register_guarded_role(role_arn, external_id, SENTINEL_ACCOUNT_ID)  # the role, fixed
    await page.get_by_role("button", name="Verify the role").click()
    await expect(page.locator(".flash")).to_contain_text("Verified")

    # The first scan's progress page refreshes itself until the scan is done.
    results = page.get_by_role("link", name="See the score and signals")
    await expect(results).to_be_visible(timeout=SCAN_TIMEOUT_MS)
    await results.click()
    await expect(page.get_by_role("heading", name="Security Risk Score")).to_be_visible()
    score = int((await page.locator(".score span").first.inner_text()).strip())
    assert score < 40, "a quarantined user and a public bucket put the account at risk"
    signals = page.get_by_role("table", name="Signals, newest first")
    await expect(signals).to_contain_text("ci-deployer")
    await page.get_by_label("Severity").select_option("CRITICAL")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(r"severity=CRITICAL"))
    assert set(await page.locator("tbody .pill").all_inner_texts()) == {"CRITICAL"}

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.goto(f"{base}/app/accounts/{ACCOUNT}")
    await page.screenshot(path=str(SCREENSHOTS / "account.png"), full_page=True)
    await page.get_by_role("link", name="Accounts", exact=True).click()
    await expect(page.get_by_role("link", name="Production")).to_be_visible()
    await page.set_viewport_size({"width": 1280, "height": 400})
    await page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)

    # Invite a teammate; the invitation arrives by email.
    await page.get_by_role("link", name="Team").click()
    await page.get_by_label("Name", exact=True).fill("Mia")
    await page.get_by_label("Email").fill(MATE)
    await page.get_by_label("Role", exact=True).select_option("member")
    await page.get_by_role("button", name="Send the invitation").click()
    await expect(page.locator(".flash")).to_contain_text(f"Invitation sent to {MATE}")
    invitation = await mail_to(smtp_sink, MATE, "invited")
    accept_link = re.search(rf"{re.escape(base)}/app/accept-invite\?token=[\w\-]+", invitation)
    assert accept_link, invitation

    mate = await browser.new_context(viewport={"width": 1280, "height": 900})
    mate_page = await mate.new_page()
    await mate_page.goto(accept_link.group(0))
    await expect(mate_page.get_by_role("heading")).to_contain_text("Join Acme on Vigilare")
    await mate_page.get_by_label("Password At least 8 characters.").fill(MATE_PASSWORD)
    await mate_page.get_by_label("Password again").fill(MATE_PASSWORD)
    await mate_page.get_by_role("button", name="Accept invitation").click()
    await expect(mate_page.locator(".flash")).to_contain_text("Log in with your new password")

    # The alert the first scan fired was emailed; its link opens the checklist, after logging in.
    alert_mail = await mail_to(smtp_sink, ONCALL, "Alert")
    checklist_link = f"{base}/app/accounts/{ACCOUNT}/recovery-checklist"
    assert f"Recovery checklist: {checklist_link}" in alert_mail
    await mate_page.goto(checklist_link)
    await expect(mate_page).to_have_url(re.compile(r"/app/login\?next=%2Fapp%2Faccounts"))
    await mate_page.get_by_label("Email").fill(MATE)
    await mate_page.get_by_label("Password").fill(MATE_PASSWORD)
    await mate_page.get_by_role("button", name="Log in").click()
    await expect(mate_page).to_have_url(checklist_link)
    await expect(mate_page.get_by_role("heading", name="Recovery checklist")).to_be_visible()
    await expect(mate_page.locator("ol.checklist li").first).to_be_visible()
    await mate_page.get_by_role("button", name="Acknowledge").first.click()
    await expect(mate_page.locator(".flash")).to_have_text("Alert acknowledged.")
    await mate_page.get_by_role("link", name="Alerts", exact=True).click()
    await mate_page.get_by_role("link", name="Acknowledged", exact=True).click()
    await expect(mate_page.get_by_role("table")).to_contain_text("Wake the on-call")
    await expect(mate_page.get_by_role("table")).to_contain_text("delivered")

    # The owner makes Mia a viewer: her session ends, and a viewer sees no action of a member.
    await page.get_by_label("Role of Mia").select_option("viewer")
    await page.get_by_role("button", name="Change role of Mia").click()
    await expect(page.locator(".flash")).to_have_text("Mia is now viewer.")
    await mate_page.goto(f"{base}/app/accounts/{ACCOUNT}")
    await expect(mate_page).to_have_url(re.compile(r"/app/login"))
    await mate_page.get_by_label("Email").fill(MATE)
    await mate_page.get_by_label("Password").fill(MATE_PASSWORD)
    await mate_page.get_by_role("button", name="Log in").click()
    await expect(mate_page.get_by_role("heading", name="Security Risk Score")).to_be_visible()
    for hidden in ("Scan now", "Export signals (CSV)", "Download the panic package", "Disconnect"):
        assert await mate_page.get_by_text(hidden).count() == 0, hidden
    await mate_page.get_by_role("link", name="Accounts", exact=True).click()
    assert await mate_page.get_by_role("link", name="Connect an account").count() == 0

    # ...and posting them anyway is refused, as the API refuses them.
    token = await mate_page.locator("input[name=_csrf_token]").first.get_attribute("value")
    for action, minimum in ((f"/app/accounts/{ACCOUNT}/scan", "member"), ("/app/accounts/connect", "admin")):
        refused = await mate_page.request.post(
            f"{base}{action}", form={"_csrf_token": token or "", "aws_account_id": "123456789012"}
        )
        assert refused.status == 403, action
        said = await refused.text()
        assert f"this action requires the {minimum} role or higher (you are viewer)" in said
        assert '"error"' not in said
    await owner.close()
    await mate.close()


async def test_a_post_without_its_form_token_or_from_another_site_is_refused(
    browser: Browser, console_server: ServerProcess
):
    base = console_server.base_url
    context = await browser.new_context()
    page = await context.new_page()
    await sign_up(page, base, OWNER, OWNER_PASSWORD)

    tokenless = await page.request.post(f"{base}/app/accounts/connect", form={"aws_account_id": ACCOUNT})
    assert tokenless.status == 403
    assert "This form could not be accepted" in await tokenless.text()

    # A page on another site posting a form at the console: the browser sends no session cookie
    # (SameSite=Lax) and no form token, and the console refuses it.
    other_site = await context.new_page()
    await other_site.set_content(
        f'<form method="post" action="{base}/app/accounts/connect">'
        f'<input name="aws_account_id" value="{ACCOUNT}"><button>Win a prize</button></form>'
    )
    await other_site.get_by_role("button", name="Win a prize").click()
    await expect(other_site.get_by_role("heading")).to_have_text("Not allowed")
    await page.reload()
    await expect(page.get_by_text("No AWS account is connected yet")).to_be_visible()
    await context.close()


CONSOLE_PAGES = (
    "/app/accounts",
    f"/app/accounts/{RISKY}",
    f"/app/accounts/{RISKY}/recovery-checklist",
    "/app/accounts/connect",
    "/app/alerts",
    "/app/alert-rules",
    "/app/alert-rules/new",
    "/app/settings/integrations",
    "/app/settings/team",
    "/app/settings/billing",
)
PUBLIC_PAGES = ("/app/login", "/app/signup")

UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea")]
    .filter(el => el.type !== "hidden" && el.labels.length === 0 && !el.getAttribute("aria-label"))
    .map(el => el.name || el.id)"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


async def test_every_page_is_labelled_keyboard_reachable_and_fits_375_px(
    browser: Browser, console_server: ServerProcess, settings: Settings
):
    base = console_server.base_url
    context = await browser.new_context(viewport={"width": 375, "height": 812})
    page = await context.new_page()
    for path in PUBLIC_PAGES:
        await page.goto(f"{base}{path}")
        assert await page.evaluate(UNLABELLED) == [], path
        assert await page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at 375 px"
    await sign_up(page, base, OWNER, OWNER_PASSWORD)
    async with httpx.AsyncClient(base_url=base) as http:
        tokens = (await http.post("/auth/login", json={"email": OWNER, "password": OWNER_PASSWORD})).json()
        me = (await http.get("/me", headers={"Authorization": f"Bearer {tokens['id_token']}"})).json()
    await seed_accounts(settings.database_url, me["tenant"]["tenant_id"])

    for path in CONSOLE_PAGES:
        response = await page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path
        assert await page.evaluate(UNLABELLED) == [], path
        assert await page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at 375 px"

    # From the address bar, the keyboard alone reaches the skip link, then the account's actions.
    await page.goto(f"{base}/app/accounts/{RISKY}")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    reached = set()
    for _ in range(80):
        await page.keyboard.press("Tab")
        reached.add(await page.evaluate("document.activeElement.textContent.trim()"))
        if {"Scan now", "Filter"} <= reached:
            break
    assert {"Recovery checklist", "Scan now", "Export signals (CSV)", "Filter"} <= reached, reached
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Shift+Tab")
    focused_outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused_outline != "none", "the focused control is visible"
    await context.close()
