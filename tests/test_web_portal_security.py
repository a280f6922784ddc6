"""The portal's security: logins through SOAP's authentication and throttle,
sessions (cookie flags, expiry, ended by a password change or a disable),
CSRF on every form, security headers, and an account that sees only its own
data whichever id it puts in a URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from soapsms.usecases import accounts
from soapsms.usecases.results import SendResult
from soapsms.usecases.runtime import Runtime
from soapsms.web import security
from tests.dispatch_helpers import acme_runtime, send_to
from tests.web_helpers import Portal, text_of

PAGES = [
    "/portal/",
    "/portal/send",
    "/portal/messages",
    "/portal/reports",
    "/portal/reports/download",
    "/portal/inbound",
    "/portal/settings",
]
FORMS = [
    "/portal/send",
    "/portal/logout",
    "/portal/settings/password",
    "/portal/settings/callback-secret",
]


@pytest.fixture
def rt(db_url: str) -> Iterator[Runtime]:
    with acme_runtime(db_url, login_failures_per_window=3) as runtime:
        accounts.create_account(runtime, "globex", "other-pw", "Globex")
        yield runtime


@pytest.fixture
def theirs(rt: Runtime) -> SendResult:
    """A scheduled batch of the other account, with a client reference."""
    return send_to(
        rt,
        "globex",
        "+17036069996",
        client_reference="globex-ref",
        scheduled_for=rt.now().replace(year=rt.now().year + 1),
    )


@pytest.fixture
def portal(rt: Runtime) -> Portal:
    signed_in = Portal(rt)
    assert signed_in.log_in().status_code == 302
    return signed_in


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_login(rt: Runtime, path: str) -> None:
    response = Portal(rt).get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/portal/login?next=")


@pytest.mark.parametrize("path", [*FORMS, "/portal/login"])
def test_a_form_without_its_csrf_token_is_refused(portal: Portal, path: str) -> None:
    for form in ({}, {"csrf_token": "forged"}):
        response = portal.post(path, form, csrf=False)
        assert response.status_code == 400
        assert "the form has expired" in text_of(response)


def test_a_form_with_another_sessions_token_is_refused(
    rt: Runtime, portal: Portal
) -> None:
    stranger = Portal(rt)
    token = stranger.token()
    response = portal.post("/portal/send", {"csrf_token": token}, csrf=False)
    assert response.status_code == 400


def test_login_failures_are_said_and_throttled_like_soap(rt: Runtime) -> None:
    browser = Portal(rt)
    first = browser.log_in(password="wrong")
    assert first.status_code == 401
    assert "Login failed: unknown account or wrong password." in text_of(first)
    assert browser.log_in(account_id="nobody").status_code == 401
    # The third failure from this address reaches the limit of 3.
    assert browser.log_in(password="wrong").status_code == 429
    throttled = browser.log_in()
    assert throttled.status_code == 429
    assert "Too many failed logins" in text_of(throttled)


def test_a_disabled_account_cannot_log_in_and_its_sessions_end(
    rt: Runtime, portal: Portal
) -> None:
    accounts.set_disabled(rt, "acme", True)
    assert portal.get("/portal/").status_code == 302
    refused = Portal(rt).log_in()
    assert refused.status_code == 403
    assert "the account is disabled" in text_of(refused)


def test_allowed_networks_apply_to_the_portal(rt: Runtime) -> None:
    accounts.set_networks(rt, "acme", ["10.0.0.0/8"])
    assert Portal(rt).log_in().status_code == 403
    inside = Portal(rt, REMOTE_ADDR="10.1.2.3")
    assert inside.log_in().status_code == 302
    assert inside.get("/portal/").status_code == 200


def test_the_session_cookie_flags(rt: Runtime) -> None:
    cookie = Portal(rt).log_in().headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie


def test_the_cookie_is_secure_behind_a_tls_proxy(db_url: str) -> None:
    with acme_runtime(db_url, trusted_proxies=("127.0.0.1/32",)) as rt:
        behind = Portal(rt, HTTP_X_FORWARDED_PROTO="https")
        response = behind.log_in()
        assert "Secure" in response.headers["Set-Cookie"]
        assert "max-age" in behind.get("/portal/").headers["Strict-Transport-Security"]


def test_security_headers(portal: Portal) -> None:
    for path in ("/portal/", "/portal/login", "/portal/messages/nothing"):
        headers = portal.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"


def test_no_page_has_inline_script_or_style(portal: Portal, theirs: SendResult) -> None:
    for path in ("/portal/", "/portal/send", "/portal/messages", "/portal/reports"):
        html = portal.get(path).get_data(as_text=True)
        assert "<script>" not in html and "<script " not in html.replace(
            '<script src="/static/counter.js" defer>', ""
        )
        assert "style=" not in html and "onclick" not in html


def test_sessions_expire_when_idle_and_when_old(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = security.clock
    idle = security.IDLE.total_seconds()
    # Each use restarts the idle clock.
    monkeypatch.setattr(security, "clock", lambda: real() + idle - 60)
    assert portal.get("/portal/").status_code == 200
    monkeypatch.setattr(security, "clock", lambda: real() + 2 * idle - 120)
    assert portal.get("/portal/").status_code == 200
    monkeypatch.setattr(security, "clock", lambda: real() + 3 * idle)
    assert portal.get("/portal/").status_code == 302
    # Gone for good: the cookie was cleared, not merely refused.
    monkeypatch.setattr(security, "clock", real)
    assert portal.get("/portal/").status_code == 302


def test_a_session_ends_at_its_lifetime_however_busy(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = security.clock
    step = 20 * 60
    for k in range(1, 36):  # used every 20 minutes for 11 h 40 min
        monkeypatch.setattr(security, "clock", lambda k=k: real() + k * step)
        assert portal.get("/portal/").status_code == 200
    monkeypatch.setattr(security, "clock", lambda: real() + 12 * 3600 + 60)
    assert portal.get("/portal/").status_code == 302


def test_logout_ends_the_session(portal: Portal) -> None:
    assert portal.post("/portal/logout").status_code == 302
    assert portal.get("/portal/").status_code == 302


def test_a_password_change_ends_the_other_sessions(rt: Runtime, portal: Portal) -> None:
    other = Portal(rt)
    other.log_in()
    changed = portal.post(
        "/portal/settings/password",
        {"current": "s3cret", "new": "n3w-secret", "repeat": "n3w-secret"},
    )
    assert changed.status_code == 302
    assert portal.get("/portal/settings").status_code == 200
    assert other.get("/portal/").status_code == 302
    assert Portal(rt).log_in(password="n3w-secret").status_code == 302


def test_next_never_leaves_the_portal(rt: Runtime) -> None:
    for wanted, landing in [
        ("/portal/messages", "/portal/messages"),
        ("//evil.example/x", "/portal/"),
        ("https://evil.example/", "/portal/"),
    ]:
        browser = Portal(rt)
        response = browser.post(
            "/portal/login",
            {"account_id": "acme", "password": "s3cret", "next": wanted},
        )
        assert response.headers["Location"] == landing


def _their_urls(theirs: SendResult) -> list[tuple[str, str]]:
    message_id = theirs.messages[0].message_id
    return [
        ("get", f"/portal/messages/{message_id}"),
        ("get", f"/portal/messages/{message_id.lower()}"),
        ("post", f"/portal/messages/{message_id}/cancel"),
        ("get", f"/portal/batches/{theirs.batch_id}"),
        ("post", f"/portal/batches/{theirs.batch_id}/cancel"),
    ]


def test_the_other_accounts_ids_are_not_found_in_every_url(
    rt: Runtime, portal: Portal, theirs: SendResult
) -> None:
    for method, path in _their_urls(theirs):
        response: Any = getattr(portal, method)(path)
        assert response.status_code == 404, path
        assert "You have no" in text_of(response)
    listed = portal.get(f"/portal/messages?batch={theirs.batch_id}")
    assert theirs.messages[0].message_id not in text_of(listed)
    by_reference = portal.get("/portal/messages?client_reference=globex-ref")
    assert "No batch has the client reference 'globex-ref'" in text_of(by_reference)
    # Still scheduled: nothing of theirs was cancelled from here.
    owner = Portal(rt)
    owner.log_in("globex", "other-pw")
    page = owner.get(f"/portal/messages/{theirs.messages[0].message_id}")
    assert "SCHEDULED" in text_of(page)
