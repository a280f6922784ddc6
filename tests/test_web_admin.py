"""The operator console through Flask's test client: operators only (an
account's session does not open it), CSRF on every form, bad input said on
the page, every page answering; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from soapsms.usecases import accounts, carriers, operators
from soapsms.usecases.operators import Actor
from soapsms.usecases.runtime import Runtime
from soapsms.web.app import create_app
from tests.dispatch_helpers import send_to

CLI = Actor("cli", "root", "cli")


@pytest.fixture
def web(runtime: Runtime, account: dict[str, str]) -> Iterator[FlaskClient]:
    operators.create(runtime, CLI, "alice", "correct horse")
    app = create_app(runtime)
    with app.test_client() as client:
        yield client


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _log_in(web: FlaskClient, password: str = "correct horse") -> tuple[int, str]:
    page = web.get("/admin/login")
    answer = web.post(
        "/admin/login",
        data={"name": "alice", "password": password, "csrf_token": _token(page.text)},
    )
    return answer.status_code, answer.text


def _post(web: FlaskClient, path: str, **data: str) -> str:
    """Post a console form with the session's token; the page it leads to."""
    token = _token(web.get("/admin/").text)
    answer = web.post(path, data={**data, "csrf_token": token}, follow_redirects=True)
    assert answer.status_code == 200, answer.text
    return answer.text


def test_pages_need_an_operator(web: FlaskClient) -> None:
    for path in ("/admin/", "/admin/queue", "/admin/accounts", "/admin/audit"):
        answer = web.get(path)
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/admin/login?next=")
    code, text = _log_in(web, "wrong")
    assert code == 401 and "unknown account or wrong password" in text
    code, _ = _log_in(web)
    assert code == 303
    for path in (
        "/admin/",
        "/admin/queue",
        "/admin/accounts",
        "/admin/accounts/acme",
        "/admin/messages",
        "/admin/audit",
    ):
        answer = web.get(path)
        assert answer.status_code == 200, path
        assert "Content-Security-Policy" in answer.headers
    assert web.get("/admin/accounts/nobody").status_code == 404


def test_an_account_s_session_does_not_open_the_console(
    web: FlaskClient, runtime: Runtime
) -> None:
    page = web.get("/portal/login")
    answer = web.post(
        "/portal/login",
        data={
            "account_id": "acme",
            "password": "s3cret",
            "csrf_token": _token(page.text),
        },
    )
    assert answer.status_code in (302, 303)
    assert web.get("/portal/").status_code == 200
    answer = web.get("/admin/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/admin/login")
    # An account's password is not an operator's.
    page = web.get("/admin/login")
    answer = web.post(
        "/admin/login",
        data={"name": "acme", "password": "s3cret", "csrf_token": _token(page.text)},
    )
    assert answer.status_code == 401


def test_every_form_needs_the_csrf_token(web: FlaskClient, runtime: Runtime) -> None:
    _log_in(web)
    for path, data in (
        ("/admin/carriers/simulator/pause", {}),
        ("/admin/queue/pause", {"account": "acme"}),
        ("/admin/accounts/acme/credits", {"how": "set", "amount": "5"}),
        ("/admin/accounts", {"account_id": "x", "password": "y"}),
        ("/admin/logout", {}),
    ):
        answer = web.post(path, data=data)
        assert answer.status_code == 400, path
        assert "the form has expired" in answer.text
    assert carriers.carriers(runtime)[0].paused is False
    assert accounts.get(runtime, "acme").credits is None


def test_pause_and_resume_a_connector_and_see_it_audited(
    web: FlaskClient, runtime: Runtime
) -> None:
    _log_in(web)
    page = _post(web, "/admin/carriers/simulator/pause")
    assert "Connector simulator paused" in page
    assert 'id="resume-simulator"' in page
    assert carriers.carriers(runtime)[0].paused_by == "alice"
    page = _post(web, "/admin/carriers/simulator/resume")
    assert "Connector simulator resumed." in page
    page = _post(web, "/admin/carriers/nope/pause")
    assert "no connector &#39;nope&#39;" in page
    audit = web.get("/admin/audit").text
    assert "connector.pause" in audit and "connector.resume" in audit
    assert "127.0.0.1" in audit


def test_account_changes_and_bad_input(web: FlaskClient, runtime: Runtime) -> None:
    _log_in(web)
    page = _post(web, "/admin/accounts/acme/credits", how="set", amount="abc")
    assert "Credits: &#39;abc&#39; is not a whole number" in page
    page = _post(web, "/admin/accounts/acme/credits", how="set", amount="-4")
    assert "a balance is 0 to" in page
    assert accounts.get(runtime, "acme").credits is None
    page = _post(web, "/admin/accounts/acme/credits", how="set", amount="500")
    assert "Credits changed: set 500." in page
    page = _post(web, "/admin/accounts/acme/networks", networks="10.0.0.0/8\nnonsense")
    assert "not a network" in page
    _post(web, "/admin/accounts/acme/networks", networks="10.0.0.0/8, 192.0.2.0/24")
    _post(web, "/admin/accounts/acme/rate", per_minute="60")
    _post(web, "/admin/accounts/acme/block", numbers="+17036069996")
    page = _post(web, "/admin/accounts/acme/senders", senders="ACME")
    view = accounts.get(runtime, "acme")
    assert view.credits == 500 and view.rate_limit_per_minute == 60
    assert view.allowed_networks == ("10.0.0.0/8", "192.0.2.0/24")
    assert view.allowed_senders == ("ACME",) and view.blocked_count == 1
    _post(web, "/admin/accounts/acme/state", state="disable")
    assert accounts.get(runtime, "acme").disabled is True
    page = _post(web, "/admin/accounts", account_id="globex", password="pw", name="G")
    assert "Account globex created." in page
    page = _post(web, "/admin/accounts", account_id="bad id", password="pw")
    assert "an account id is 1 to 64 characters" in page
    actions = [e.action for e in operators.audit_page(runtime) if e.actor == "alice"]
    assert actions[:7] == [
        "account.create",
        "account.state",
        "account.senders",
        "account.block",
        "account.rate",
        "account.networks",
        "account.credits",
    ]


def test_queue_lookup_and_message_pages(web: FlaskClient, runtime: Runtime) -> None:
    sent = send_to(runtime, "acme", "+17036069996", client_reference="INC-9")
    message_id = sent.messages[0].message_id
    _log_in(web)
    page = _post(web, "/admin/queue/pause", account="acme")
    assert "Sending paused for acme" in page
    assert 'id="paused-accounts"' in page
    page = web.get("/admin/queue").text
    assert 'id="routes"' in page and "simulator" in page
    page = _post(web, "/admin/queue/resume", account="acme")
    assert "Sending resumed for acme." in page
    found = web.get("/admin/messages", query_string={"kind": "reference", "q": "INC-9"})
    assert found.status_code == 200 and message_id in found.text
    bad = web.get("/admin/messages", query_string={"kind": "message_id", "q": "x"})
    assert bad.status_code == 400 and "is not a MessageId" in bad.text
    page = web.get(f"/admin/messages/acme/{message_id}")
    assert page.status_code == 200 and 'id="history"' in page.text
    assert web.get(f"/admin/messages/globex/{message_id}").status_code == 404
    page = _post(web, "/admin/queue/requeue")
    assert "select at least one message" in page
    page = web.get("/admin/queue", query_string={"account": "acme", "status": "QUEUED"})
    assert page.status_code == 400 and "retry lists messages that ended" in page.text


def test_an_account_s_own_settings_changes_are_audited(
    web: FlaskClient, runtime: Runtime
) -> None:
    page = web.get("/portal/login")
    web.post(
        "/portal/login",
        data={
            "account_id": "acme",
            "password": "s3cret",
            "csrf_token": _token(page.text),
        },
    )
    token = _token(web.get("/portal/settings").text)
    answer = web.post(
        "/portal/settings/password",
        data={
            "current": "s3cret",
            "new": "new-s3cret",
            "repeat": "new-s3cret",
            "csrf_token": token,
        },
    )
    assert answer.status_code in (302, 303)
    token = _token(web.get("/portal/settings").text)
    web.post("/portal/settings/callback-secret", data={"csrf_token": token})
    entries = operators.audit_page(runtime, target="acme")
    assert [(e.actor_kind, e.actor, e.action) for e in entries] == [
        ("account", "acme", "account.callback_secret"),
        ("account", "acme", "account.password"),
    ]
    assert entries[0].source == "127.0.0.1"
