"""The operator console in headless Chromium against a live gateway: an
operator pauses the carrier, sees new messages wait QUEUED, resumes it and
sees them DELIVERED. Screenshots of each page go to tests/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from soapsms.dispatch.connectors.simulator import SimulatorConnector, SimulatorOptions
from soapsms.dispatch.worker import Dispatcher
from soapsms.usecases import carriers, operators
from soapsms.usecases.operators import Actor
from soapsms.usecases.runtime import Runtime
from tests.browser import Browser, browser_at
from tests.conftest import LiveServer
from tests.dispatch_helpers import acme_runtime, running, send_to, status_of


@pytest.fixture
def rt(sqlite_url: str) -> Iterator[Runtime]:
    with acme_runtime(sqlite_url) as runtime:
        operators.create(runtime, Actor("cli", "root", "cli"), "alice", "correct horse")
        yield runtime


@pytest.fixture
def browser(
    rt: Runtime, required: frozenset[str], request: pytest.FixtureRequest
) -> Iterator[Browser]:
    with LiveServer(rt) as live, browser_at(live.url, request.node.name, required) as b:
        yield b


def _simulator() -> SimulatorConnector:
    options = SimulatorOptions(  # type: ignore[call-arg]
        submit_latency=0.001,
        receipt_delay=(0.05, 0.2),
        seed=7,
        rejected_rate=0.0,
        undelivered_rate=0.0,
    )
    return SimulatorConnector("simulator", options)


def _state(browser: Browser) -> str:
    return browser.text("tr[data-connector=simulator] td[data-field=state]")


def _statuses(browser: Browser) -> list[str]:
    return [e.text for e in browser.find_all("#found tbody td:nth-child(3)")]


def test_pause_a_carrier_see_messages_wait_resume_see_them_delivered(
    browser: Browser, rt: Runtime
) -> None:
    dispatcher = Dispatcher(rt, {"simulator": _simulator()}, callbacks=False)
    dispatcher.pool.states.every = 0.2
    with running(dispatcher):
        browser.go("/admin/")
        assert browser.path.startswith("/admin/login")
        browser.shot("login")
        browser.fill("name", "alice")
        browser.fill("password", "correct horse")
        browser.click("form button[type=submit]")
        browser.wait(lambda: _state(browser).startswith("bound"), reload=True)
        browser.shot("carriers-bound")

        browser.click("#pause-simulator")
        assert "Connector simulator paused" in browser.text("[role=status]")
        assert _state(browser).startswith("paused")
        browser.wait(lambda: dispatcher.pool.states.paused("simulator"))
        browser.shot("carriers-paused")

        sent = send_to(
            rt, "acme", "+17036069996", "+447700900123", client_reference="P-1"
        )
        ids = [m.message_id for m in sent.messages]
        browser.go("/admin/queue")
        browser.wait(lambda: browser.text("#due").startswith("2"), reload=True)
        browser.shot("queue-waiting")
        browser.go("/admin/messages?kind=reference&q=P-1")
        assert _statuses(browser) == ["QUEUED", "QUEUED"]
        browser.shot("lookup-queued")
        # Still waiting after the dispatcher has looked for due messages a few
        # times (it does every 0.2 s, and publishes every 0.2 s).
        later = rt.now() + timedelta(seconds=1)
        browser.wait(lambda: carriers.carriers(rt)[0].dispatchers[0].updated_at > later)
        assert [status_of(rt, i) for i in ids] == ["QUEUED", "QUEUED"]

        browser.go("/admin/")
        browser.click("#resume-simulator")
        assert "Connector simulator resumed." in browser.text("[role=status]")
        browser.go("/admin/messages?kind=reference&q=P-1")
        browser.wait(
            lambda: _statuses(browser) == ["DELIVERED", "DELIVERED"], reload=True
        )
        browser.shot("lookup-delivered")
        browser.click(f"#found a[href$='{ids[0]}']")
        assert "DELIVERED" in browser.text("#history")
        browser.shot("message")
        browser.go("/admin/audit")
        actions = browser.text("#audit")
        assert "connector.pause" in actions and "connector.resume" in actions
        browser.shot("audit")
        browser.go("/admin/accounts/acme")
        browser.shot("account")


def _unlabelled(browser: Browser) -> list[str]:
    """Form fields on the page that no <label for> names."""
    found: list[str] = browser.driver.execute_script(
        "return Array.from(document.querySelectorAll("
        "'input:not([type=hidden]), select, textarea')).filter(function (e) {"
        " return !e.id || !document.querySelector('label[for=\"' + e.id + '\"]');"
        "}).map(function (e) { return e.outerHTML; });"
    )
    return found


def test_every_console_page_by_keyboard_with_labels(
    browser: Browser, rt: Runtime
) -> None:
    from selenium.webdriver.common.keys import Keys
    from sqlalchemy import update

    from soapsms.store import models
    from soapsms.store.db import transaction

    sent = send_to(rt, "acme", "+17036069996", "+17036069997", client_reference="K")
    waiting, failed = (m.message_id for m in sent.messages)
    with transaction(rt.engine, write=True) as conn:  # one on back-off, one ended
        conn.execute(
            update(models.Message)
            .where(models.Message.message_id == waiting)
            .values(attempts=2, due_at=rt.now() + timedelta(minutes=5))
        )
        conn.execute(
            update(models.Message)
            .where(models.Message.message_id == failed)
            .values(status="FAILED", error_code="ROUTING_ERROR")
        )
    browser.go("/admin/login")
    page = browser.find("html")
    browser.driver.switch_to.active_element.send_keys(
        "alice", Keys.TAB, "correct horse"
    )
    browser.driver.switch_to.active_element.send_keys(Keys.ENTER)
    browser.wait(lambda: browser.path == "/admin/")
    assert page.id != browser.find("html").id
    for path, label in [
        ("/admin/", "carriers"),
        ("/admin/queue?account=acme&status=FAILED", "queue-lists"),
        ("/admin/accounts", "accounts"),
        ("/admin/accounts/acme", "account"),
        ("/admin/messages?kind=number&q=%2B17036069996", "lookup"),
        (f"/admin/messages/acme/{failed}", "message"),
        ("/admin/audit", "audit"),
    ]:
        browser.go(path)
        assert not _unlabelled(browser), path
        assert "Traceback" not in browser.driver.page_source
        browser.shot(label)
    # Requeue the one on back-off, retry the failed one: by keyboard.
    browser.go("/admin/queue?account=acme&status=FAILED")
    browser.find(f"#b-{waiting}").send_keys(Keys.SPACE)
    browser.click("#requeue")
    assert "1 of 1 due now." in browser.text("[role=status]")
    browser.go("/admin/queue?account=acme&status=FAILED")
    browser.find(f"#r-{failed}").send_keys(Keys.SPACE)
    browser.click("#retry")
    assert "1 of 1 sent again as new messages" in browser.text("[role=status]")
    browser.shot("retried")
    browser.go("/admin/messages?kind=message_id&q=nonsense")
    assert "is not a MessageId" in browser.text("[role=alert]")
    browser.shot("lookup-refused")
