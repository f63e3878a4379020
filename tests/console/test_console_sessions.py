"""Browser sessions: cookies, the way back after login, refresh rotation, logout, revocation, CSRF."""

from __future__ import annotations

from http.cookies import SimpleCookie

import msgspec
from litestar.testing import AsyncTestClient

from tests.support.api import DEFAULT_PASSWORD, bearer, login, signup
from tests.support.console import console_login, console_signup, csrf_token, flash_of, submit, text_of
from tests.support.team import add_member
from vigilare.api.app import create_app
from vigilare.api.console.session import ID_COOKIE, REFRESH_COOKIE

CHECKLIST = "/app/accounts/123456789012/recovery-checklist"


def _set_cookies(response) -> dict[str, SimpleCookie]:
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        cookies.update({name: parsed for name in parsed})
    return cookies


async def test_a_browser_opening_the_service_lands_in_the_console(console):
    root = await console.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (302, "/app/")
    home = await console.get("/app/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (302, "/app/accounts")
    page = await console.get("/app/accounts", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/app/login?next=%2Fapp%2Faccounts")


async def test_signing_up_then_logging_in_sets_httponly_samesite_secure_cookies_living_as_the_tokens(console):
    signed_up = await submit(
        console,
        "/app/signup",
        "/app/signup",
        {"name": "Acme", "email": "owner@acme.test", "password": DEFAULT_PASSWORD},
    )
    assert (signed_up.status_code, signed_up.headers["location"]) == (
        303,
        "/app/login?email=owner%40acme.test",
    )
    assert not {ID_COOKIE, REFRESH_COOKIE} & set(_set_cookies(signed_up))
    login_page = await console.get(signed_up.headers["location"])
    assert flash_of(login_page.text) == (
        "ok",
        "Your account is ready: log in to connect your first AWS account.",
    )
    assert 'value="owner@acme.test"' in login_page.text

    response = await console_login(console, "owner@acme.test")
    assert (response.status_code, response.headers["location"]) == (303, "/app/accounts")
    cookies = _set_cookies(response)
    for name, max_age in ((ID_COOKIE, "3600"), (REFRESH_COOKIE, str(30 * 24 * 3600))):
        morsel = cookies[name][name]
        assert morsel["httponly"] and morsel["secure"], name
        assert morsel["samesite"].lower() == "lax" and morsel["path"] == "/app", name
        assert morsel["max-age"] == max_age, name
    page = await console.get("/app/accounts")
    assert page.status_code == 200
    assert "No AWS account is connected yet" in text_of(page.text)


async def test_signing_up_with_a_registered_email_answers_exactly_as_a_new_account(console):
    await console_signup(console, "owner@acme.test")
    console.cookies.clear()
    again = await submit(
        console,
        "/app/signup",
        "/app/signup",
        {"name": "Mallory", "email": "owner@acme.test", "password": "another-password"},
    )
    assert (again.status_code, again.headers["location"]) == (303, "/app/login?email=owner%40acme.test")
    assert flash_of((await console.get(again.headers["location"])).text)[1].startswith(
        "Your account is ready"
    )
    assert (await console_login(console, "owner@acme.test", password="another-password")).status_code == 401


async def test_cookies_are_not_secure_when_the_public_url_is_plain_http(settings):
    local = msgspec.structs.replace(settings, public_url="http://127.0.0.1:8000")
    async with AsyncTestClient(app=create_app(local)) as client:
        response = await console_signup(client, "owner@acme.test")
        morsel = _set_cookies(response)[ID_COOKIE][ID_COOKIE]
        assert morsel["httponly"] and not morsel["secure"]


async def test_a_deep_link_followed_logged_out_returns_to_its_page_after_login(console):
    await signup(console, "owner@acme.test")
    followed = await console.get(CHECKLIST, follow_redirects=False)
    assert followed.status_code == 303
    assert (
        followed.headers["location"]
        == "/app/login?next=%2Fapp%2Faccounts%2F123456789012%2Frecovery-checklist"
    )
    login_page = await console.get(followed.headers["location"])
    assert f'name="next" value="{CHECKLIST}"' in login_page.text
    logged_in = await console_login(console, "owner@acme.test", next_page=CHECKLIST)
    assert (logged_in.status_code, logged_in.headers["location"]) == (303, CHECKLIST)


async def test_login_never_sends_the_browser_to_another_site(console):
    await signup(console, "owner@acme.test")
    for target in ("https://evil.test/", "//evil.test/app/", "/app//evil.test", "/accounts", "javascript:x"):
        console.cookies.clear()
        response = await console_login(console, "owner@acme.test", next_page=target)
        assert response.headers["location"] == "/app/accounts", target


async def test_a_wrong_password_shows_the_form_again_with_the_apis_answer(console):
    await signup(console, "owner@acme.test")
    response = await console_login(console, "owner@acme.test", password="not-the-password")
    assert response.status_code == 401
    assert "invalid email or password" in text_of(response.text)
    assert 'value="owner@acme.test"' in response.text
    assert ID_COOKIE not in console.cookies


async def test_an_expired_id_token_is_renewed_once_and_a_replayed_refresh_token_ends_the_login(console):
    await console_signup(console, "owner@acme.test")
    old_refresh = console.cookies[REFRESH_COOKIE]
    del console.cookies[ID_COOKIE]  # the browser drops it when its hour is up

    renewed = await console.get("/app/accounts")
    assert renewed.status_code == 200
    new_cookies = _set_cookies(renewed)
    assert set(new_cookies) >= {ID_COOKIE, REFRESH_COOKIE}
    assert console.cookies[REFRESH_COOKIE] != old_refresh

    # The rotated-out refresh token presented again (it leaked): the whole login ends.
    current = dict(console.cookies)
    console.cookies.clear()
    console.cookies.set(REFRESH_COOKIE, old_refresh, domain="vigilare.local", path="/app")
    replayed = await console.get("/app/accounts", follow_redirects=False)
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/app/login")
    console.cookies.clear()
    console.cookies.set(REFRESH_COOKIE, current[REFRESH_COOKIE], domain="vigilare.local", path="/app")
    revoked = await console.get("/app/accounts", follow_redirects=False)
    assert revoked.status_code == 303, "the family was revoked: the newest token is refused too"


async def test_logout_revokes_the_login_and_clears_the_cookies(console):
    await console_signup(console, "owner@acme.test")
    refresh_token = console.cookies[REFRESH_COOKIE]
    response = await submit(console, "/app/accounts", "/app/logout")
    assert (response.status_code, response.headers["location"]) == (303, "/app/login")
    cleared = _set_cookies(response)
    assert cleared[ID_COOKIE][ID_COOKIE]["max-age"] == "0"
    assert cleared[REFRESH_COOKIE][REFRESH_COOKIE]["max-age"] == "0"
    api = await console.post("/auth/refresh", json={"refresh_token": refresh_token})
    assert api.status_code == 401


async def test_a_role_change_ends_the_teammates_browser_session(console):
    await signup(console, "owner@acme.test")
    owner = bearer(await login(console, "owner@acme.test"))
    member = await add_member(console, owner, "member@acme.test", "member")
    console.cookies.clear()
    await console_login(console, "member@acme.test")
    assert (await console.get("/app/accounts")).status_code == 200
    member_id = (await console.get("/me", headers=bearer(member))).json()["user"]["user_id"]
    changed = await console.patch(f"/users/{member_id}", headers=owner, json={"role": "viewer"})
    assert changed.status_code == 200, changed.text
    after = await console.get("/app/accounts", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/app/login")


async def test_a_form_without_its_csrf_token_is_refused_and_the_json_api_is_not_affected(console):
    await console_signup(console, "owner@acme.test")
    refused = await console.post(
        "/app/accounts/connect", data={"aws_account_id": "123456789012"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "This form could not be accepted" in text_of(refused.text)
    forged = await console.post(
        "/app/accounts/connect",
        data={"aws_account_id": "123456789012", "_csrf_token": "0" * 128},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    accounts = await console.get("/app/accounts")
    assert "No AWS account is connected yet" in text_of(accounts.text)

    # The API takes JSON with a Bearer token and no CSRF token, from any client.
    api = bearer(await login(console, "owner@acme.test"))
    created = await console.post("/accounts", headers=api, json={"aws_account_id": "123456789012"})
    assert created.status_code == 201, created.text
    assert (await console.post("/auth/login", json={"email": "x@y.test", "password": "p"})).status_code == 401


async def test_the_csrf_token_of_another_browser_does_not_work(console, settings):
    await console_signup(console, "owner@acme.test")
    async with AsyncTestClient(app=console.app, base_url="https://vigilare.local") as attacker:
        stolen_elsewhere = await csrf_token(attacker, "/app/login")
    refused = await console.post(
        "/app/logout", data={"_csrf_token": stolen_elsewhere}, follow_redirects=False
    )
    assert refused.status_code == 403


async def test_errors_are_pages_that_say_what_to_do(console, monkeypatch):
    await console_signup(console, "owner@acme.test")
    missing = await console.get("/app/no-such-page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Page not found" in text_of(missing.text) and "start again from your accounts" in text_of(
        missing.text
    )
    other_tenant = await console.get("/app/accounts/123456789012")
    assert other_tenant.status_code == 404 and "account not found" in text_of(other_tenant.text)
    bad_filter = await console.get("/app/alerts", params={"show": "everything"})
    assert bad_filter.status_code == 400 and "show: must be one of" in text_of(bad_filter.text)

    async def broken(*_args, **_kwargs):
        raise RuntimeError("database exploded: secret detail")

    monkeypatch.setattr("vigilare.api.console.account_pages.accounts_overview", broken)
    crashed = await console.get("/app/accounts")
    assert crashed.status_code == 500 and crashed.headers["content-type"].startswith("text/html")
    assert "Something went wrong on our side" in text_of(crashed.text)
    assert "secret detail" not in crashed.text and "Traceback" not in crashed.text


async def test_a_failed_slack_install_is_a_page_for_a_browser_and_json_for_a_client(console):
    as_browser = await console.get(
        "/webhooks/slack/install", params={"state": "x", "code": "y"}, headers={"accept": "text/html"}
    )
    # Slack is not configured in these settings: the API's 503, said as a page.
    assert as_browser.status_code == 503 and as_browser.headers["content-type"].startswith("text/html")
    assert "Slack is not configured on this server" in text_of(as_browser.text)
    as_client = await console.get("/webhooks/slack/install", params={"state": "x", "code": "y"})
    assert as_client.status_code == 503 and "error" in as_client.json()


async def test_accept_invite_page_explains_an_unusable_link(console):
    response = await console.get("/app/accept-invite", params={"token": "not-a-token"})
    assert response.status_code == 400
    assert "This invitation cannot be used" in text_of(response.text)
    assert DEFAULT_PASSWORD not in response.text
