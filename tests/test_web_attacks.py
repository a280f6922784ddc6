"""The web pages attacked as an outsider would: every console URL with an
account's session, every form of both apps without the token, markup in
every stored field, headers on every kind of answer, the login throttle
per source, and downloads named from odd input."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from soapsms.usecases import accounts, carriers, operators
from soapsms.usecases.operators import Actor
from soapsms.usecases.runtime import Runtime
from soapsms.web.app import create_app
from tests.dispatch_helpers import acme_runtime, send_to
from tests.web_helpers import Portal, signed_in, text_of

CLI = Actor("cli", "root", "cli")
MARKUP = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
NUMBER = "+17036069996"


@pytest.fixture
def rt(db_url: str) -> Iterator[Runtime]:
    with acme_runtime(db_url, login_failures_per_window=3) as runtime:
        operators.create(runtime, CLI, "alice", "correct horse")
        yield runtime


def _urls(app: Flask, prefix: str, method: str) -> list[str]:
    """Every rule of `app` under `prefix` taking `method`, its arguments filled."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix) and method in (rule.methods or ()):
            found.append(re.sub(r"<[^>]+>", "acme", rule.rule))
    assert found
    return found


def test_an_account_session_opens_no_console_url(rt: Runtime) -> None:
    portal = signed_in(rt)
    app = create_app(rt)
    for path in _urls(app, "/admin", "GET"):
        if path == "/admin/login":
            continue
        answer = portal.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"].startswith("/admin/login")
    # Its own valid CSRF token does not make it an operator either.
    for path in _urls(app, "/admin", "POST"):
        if path != "/admin/login":
            answer = portal.post(
                path, {"state": "disable", "how": "set", "amount": "5"}
            )
            assert answer.status_code == 302, path
    assert accounts.get(rt, "acme").disabled is False
    assert accounts.get(rt, "acme").credits is None
    assert carriers.carriers(rt)[0].paused is False
    assert portal.get("/portal/").status_code == 200


@pytest.mark.parametrize("prefix", ["/portal", "/admin"])
def test_every_post_of_both_apps_needs_the_token(rt: Runtime, prefix: str) -> None:
    portal = signed_in(rt)
    for path in _urls(create_app(rt), prefix, "POST"):
        for form in ({}, {"csrf_token": "forged"}):
            answer = portal.post(path, form, csrf=False)
            assert answer.status_code == 400, path
            assert "the form has expired" in text_of(answer)
    assert portal.get("/portal/").status_code == 200


def test_wrong_passwords_from_one_source_do_not_lock_out_another(rt: Runtime) -> None:
    for _ in range(4):
        Portal(rt, REMOTE_ADDR="192.0.2.7").log_in(password="wrong")
    assert Portal(rt, REMOTE_ADDR="192.0.2.7").log_in().status_code == 429
    assert Portal(rt, REMOTE_ADDR="198.51.100.9").log_in().status_code == 302
    # Operators share the source's counter: the same source is refused there too.
    refused = Portal(rt, REMOTE_ADDR="192.0.2.7").operator_log_in()
    assert refused.status_code == 429
    # A peer that is no trusted proxy cannot pass for other sources.
    for n in range(4):
        spoofed = Portal(
            rt, REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"
        )
        assert spoofed.log_in(password="wrong").status_code == 429


@pytest.mark.parametrize("payload", MARKUP)
def test_markup_in_stored_fields_is_shown_as_text(rt: Runtime, payload: str) -> None:
    accounts.set_fields(rt, "acme", allowed_senders=["Alert"])
    sent = send_to(rt, "acme", NUMBER, text=payload, client_reference=payload[:40])
    message_id = sent.messages[0].message_id
    portal = signed_in(rt)
    for path in (
        "/portal/messages",
        f"/portal/messages/{message_id}",
        f"/portal/batches/{sent.batch_id}",
        "/portal/messages?client_reference=" + payload,
    ):
        html = portal.get(path).get_data(as_text=True)
        assert payload not in html and "<img" not in html, path
    posted = portal.post("/portal/send", {"recipients": NUMBER, "text": payload})
    assert payload not in posted.get_data(as_text=True)


def test_headers_on_every_kind_of_answer(rt: Runtime) -> None:
    portal = signed_in(rt)
    answers = {
        "page": portal.get("/portal/"),
        "not found": portal.get("/portal/nothing/here"),
        "static": portal.get("/static/web.css"),
        "static missing": portal.get("/static/nothing.js"),
        "wrong method": portal.client.put("/portal/send"),
        "too large": portal.post("/portal/send", {"text": "x" * 2 * 1024 * 1024}),
        "bad input": portal.get("/portal/messages?since=x"),
        "console": portal.get("/admin/login"),
    }
    assert answers["too large"].status_code == 413
    for what, answer in answers.items():
        policy = answer.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy, what
        assert "unsafe-inline" not in policy, what
        assert answer.headers["X-Frame-Options"] == "DENY", what
        assert answer.headers["X-Content-Type-Options"] == "nosniff", what
        if not what.startswith("static"):
            assert answer.headers["Cache-Control"] == "no-store", what
        assert "Traceback" not in answer.get_data(as_text=True), what
        answer.close()


def test_a_download_name_holds_no_header_syntax(rt: Runtime) -> None:
    answer = signed_in(rt).get(
        "/portal/reports/download",
        query_string={"since": "2026-01-01", "until": "2026-01-31", "format": "csv"},
    )
    assert answer.status_code == 200
    disposition = answer.headers["Content-Disposition"]
    assert (
        disposition == 'attachment; filename="acme-messages-2026-01-01-2026-01-31.csv"'
    )
    # An account id is checked whole: a trailing line break is no id.
    with pytest.raises(Exception, match="account"):
        accounts.create_account(rt, "acme2\n", "pw-pw-pw", None)


def _cookie(portal: Portal) -> str:
    found = portal.client.get_cookie("soapsms_session")
    assert found is not None
    return found.value


def test_forged_tampered_and_foreign_cookies_open_nothing(
    rt: Runtime, tmp_path: Path
) -> None:
    valid = _cookie(signed_in(rt))
    payload, _, signature = valid.rpartition(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    unsigned = base64.urlsafe_b64encode(b'{"account":"acme","stamp":""}').decode()
    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    with acme_runtime(other_db) as other:
        foreign = _cookie(signed_in(other))
    for value in (payload + "." + flipped, unsigned + ".x.y", foreign, "", "."):
        browser = Portal(rt)
        browser.client.set_cookie("soapsms_session", value)
        answer = browser.get("/portal/")
        assert answer.status_code == 302, value
        assert browser.get("/admin/").status_code == 302, value


def test_an_operator_s_session_ends_at_a_disable_or_a_new_password(
    rt: Runtime,
) -> None:
    for change in (
        lambda: operators.set_disabled(rt, CLI, "alice", True),
        lambda: operators.set_password(rt, CLI, "alice", "another horse"),
    ):
        operators.set_disabled(rt, CLI, "alice", False)
        operators.set_password(rt, CLI, "alice", "correct horse")
        console = Portal(rt)
        assert console.operator_log_in().status_code == 303
        assert console.get("/admin/").status_code == 200
        # The operator's session opens no portal page either.
        assert console.get("/portal/").status_code == 302
        change()
        assert console.get("/admin/").status_code == 302


def test_the_console_s_next_never_leaves_it(rt: Runtime) -> None:
    for wanted, landing in [
        ("/admin/queue", "/admin/queue"),
        ("//evil.example/x", "/admin/"),
        ("/portal/", "/admin/"),
        ("https://evil.example/", "/admin/"),
        ("/\\evil.example", "/admin/"),
    ]:
        console = Portal(rt)
        form = {"name": "alice", "password": "correct horse", "next": wanted}
        token = console.token("/admin/login")
        answer = console.post("/admin/login", {**form, "csrf_token": token})
        assert answer.headers["Location"] == landing, wanted


def test_another_account_s_cursor_shows_nothing_of_theirs(rt: Runtime) -> None:
    accounts.create_account(rt, "globex", "other-pw", "Globex")
    theirs = [f"+1703606{n:04d}" for n in range(51)]
    send_to(rt, "globex", *theirs)
    owner = signed_in(rt, "globex", "other-pw")
    listed = owner.get("/portal/messages").get_data(as_text=True)
    found = re.search(r'href="/portal/messages\?cursor=([^"&]+)"', listed)
    assert found, "no next page"
    cursor = {"cursor": html.unescape(found[1])}
    older = text_of(owner.get("/portal/messages", query_string=cursor))
    assert any(number in older for number in theirs)
    answer = signed_in(rt).get("/portal/messages", query_string=cursor)
    assert answer.status_code in (200, 400)
    shown = text_of(answer)
    assert not any(number in shown for number in theirs)


def test_known_unknown_and_disabled_operators_run_the_same_check(rt: Runtime) -> None:
    operators.create(rt, CLI, "bob", "battery staple")
    operators.set_disabled(rt, CLI, "bob", True)
    hashed: list[tuple[str, str]] = []
    original = rt.authenticator._check_hash
    rt.authenticator._check_hash = lambda h, p: hashed.append((h, p)) or original(h, p)  # type: ignore[method-assign]
    for name in ("alice", "nobody", "bob", "n" * 100_000):
        answer = Portal(rt, REMOTE_ADDR=f"203.0.113.{len(hashed)}").operator_log_in(
            name, "x" * 128
        )
        assert answer.status_code == 401, name
    # Each ran argon2 once, of the same cost; the overlong name on nothing bigger.
    assert len(hashed) == 4
    assert {p for _, p in hashed[:3]} == {"x" * 128}
    assert len({h.split("$")[3] for h, _ in hashed}) == 1
