"""The customer portal in headless Chromium against a live gateway: log in,
send to two numbers and watch them reach DELIVERED, download a report and
compare it with `soapsms report`, cancel a scheduled message. Screenshots of
each page go to tests/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from soapsms.dispatch.connectors.simulator import SimulatorConnector, SimulatorOptions
from soapsms.dispatch.worker import Dispatcher
from soapsms.usecases.runtime import Runtime
from tests.browser import Browser, browser_at
from tests.cli_helpers import environment, soapsms
from tests.conftest import LiveServer
from tests.dispatch_helpers import acme_runtime, running


@pytest.fixture
def rt(sqlite_url: str) -> Iterator[Runtime]:
    with acme_runtime(sqlite_url) as runtime:
        yield runtime


@pytest.fixture
def live(rt: Runtime) -> Iterator[LiveServer]:
    with LiveServer(rt) as server:
        yield server


@pytest.fixture
def browser(
    live: LiveServer, required: frozenset[str], request: pytest.FixtureRequest
) -> Iterator[Browser]:
    with browser_at(live.url, request.node.name, required) as opened:
        yield opened


def _simulator() -> SimulatorConnector:
    options = SimulatorOptions(  # type: ignore[call-arg]
        submit_latency=0.001,
        receipt_delay=(0.05, 0.2),
        seed=7,
        rejected_rate=0.0,
        undelivered_rate=0.0,
    )
    return SimulatorConnector("simulator", options)


def _log_in(browser: Browser) -> None:
    browser.go("/portal/")
    assert browser.path.startswith("/portal/login")
    browser.shot("login")
    browser.fill("account_id", "acme")
    browser.fill("password", "s3cret")
    browser.click("form button[type=submit]")
    browser.wait(lambda: browser.path == "/portal/")


def test_wrong_password_is_said_on_the_page(browser: Browser) -> None:
    browser.go("/portal/login")
    browser.fill("account_id", "acme")
    browser.fill("password", "wrong")
    browser.click("form button[type=submit]")
    assert "unknown account or wrong password" in browser.text("[role=alert]")
    assert browser.path.startswith("/portal/login")
    browser.shot("login-failed")


def test_send_to_two_numbers_and_see_them_delivered(
    browser: Browser, rt: Runtime
) -> None:
    _log_in(browser)
    browser.click("nav a[href='/portal/send']")
    browser.fill("recipients", "+17036069996\n+447700900123")
    browser.fill("text", "Server web01 is down {disk} €")
    counter = browser.text("#counter")
    # 26 basic characters and three from the extension table (two septets each).
    assert counter.startswith("29 characters, 32 septets: 1 part (GSM-7)"), counter
    browser.fill("client_reference", "ticket-4711")
    browser.shot("send-form")
    browser.click("#send-form button[type=submit]")
    assert browser.text("#accepted-count") == "2"
    assert browser.text("#rejected-count") == "0"
    browser.shot("sent")

    with running(Dispatcher(rt, {"simulator": _simulator()}, callbacks=False)):
        browser.go("/portal/messages?client_reference=ticket-4711")

        def both_delivered() -> bool:
            cells = browser.find_all("#messages td[data-field=status]")
            return len(cells) == 2 and all(c.text == "DELIVERED" for c in cells)

        browser.wait(both_delivered, reload=True)
    browser.shot("messages-delivered")
    recipients = {
        c.text for c in browser.find_all("#messages td[data-field=recipient]")
    }
    assert recipients == {"+17036069996", "+447700900123"}

    browser.click("#messages td[data-field=message_id] a")
    assert browser.find("dd[data-field=status]").text == "DELIVERED"
    history = [li.text for li in browser.find_all(".timeline li")]
    assert [h.split()[0] for h in history] == ["Accepted", "SUBMITTED", "DELIVERED"]
    assert browser.find_all("#parts tbody tr") and browser.find_all(
        "#receipts tbody tr"
    )
    browser.shot("message")

    browser.go("/portal/")
    today = "[data-window='1'] "
    assert browser.text(today + "[data-figure=sent]") == "2"
    assert browser.text(today + "[data-figure=delivered]") == "2"
    assert browser.text(today + "[data-figure=rate]") == "100.0 %"
    assert browser.text(today + "[data-figure=median]") != "—"
    assert len(browser.find_all("svg.chart rect.delivered")) == 1
    browser.shot("dashboard")


@pytest.mark.parametrize("kind", ["messages", "days", "months"])
def test_report_download_is_soapsms_report(
    browser: Browser, rt: Runtime, kind: str
) -> None:
    _log_in(browser)
    browser.go("/portal/send")
    browser.fill("recipients", "+17036069996, +447700900123, +33612345678")
    browser.fill("text", "monthly figures")
    browser.click("#send-form button[type=submit]")
    browser.go("/portal/reports")
    assert [c.text for c in browser.find_all("#report tbody tr:first-child td")][
        1
    ] == "3"
    browser.shot("reports")
    for fmt in ("csv", "json"):
        browser.find(f"#download-{kind}-{fmt}").click()
        got = browser.downloaded(f".{fmt}").read_text(encoding="utf-8")
        today = rt.now().date()
        args = ["--since", str(today - timedelta(days=29)), "--until", str(today)]
        cli = soapsms(
            "report",
            "--account",
            "acme",
            *args,
            "--format",
            fmt,
            *({"days": ["--summary"], "months": ["--summary", "month"]}.get(kind, [])),
            env=environment(SOAPSMS_DATABASE_URL=rt.settings.database_url),
        )
        assert cli.code == 0, cli.err
        assert got == cli.out
        shown = {"messages": "+33612345678", "months": f"{today:%Y-%m}"}
        assert got.count(shown.get(kind, today.isoformat()))
        for path in browser.downloads.iterdir():
            path.unlink()


def test_cancel_a_scheduled_message(browser: Browser, rt: Runtime) -> None:
    _log_in(browser)
    browser.go("/portal/send")
    browser.fill("recipients", "+17036069996")
    browser.fill("text", "tomorrow's maintenance window")
    later = (rt.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    browser.driver.execute_script(
        "document.getElementById('scheduled_for').value = arguments[0]", later
    )
    browser.click("#send-form button[type=submit]")
    assert browser.text("#accepted td:nth-child(3)") == "SCHEDULED"
    browser.click("#accepted td a")
    browser.shot("scheduled")
    browser.click("#cancel")
    assert browser.find("dd[data-field=status]").text == "CANCELLED"
    assert "Cancelled" in browser.text(".note.ok")
    assert not browser.find_all("#cancel")
    browser.shot("cancelled")


def _unlabelled(browser: Browser) -> list[str]:
    """Form fields on the page that no <label for> names."""
    found: list[str] = browser.driver.execute_script(
        "return Array.from(document.querySelectorAll("
        "'input:not([type=hidden]), select, textarea')).filter(function (e) {"
        " return !e.id || !document.querySelector('label[for=\"' + e.id + '\"]');"
        "}).map(function (e) { return e.outerHTML; });"
    )
    return found


def test_every_page_by_keyboard_with_labels(browser: Browser, rt: Runtime) -> None:
    from selenium.webdriver.common.keys import Keys

    from soapsms.usecases import accounts
    from soapsms.usecases.dispatching.receipts import InboundIn, record_inbound
    from tests.dispatch_helpers import send_to

    accounts.set_fields(rt, "acme", default_sender="15550001111")
    accounts.set_networks(rt, "acme", ["127.0.0.0/8", "::1/128"])
    record_inbound(
        rt, [InboundIn("simulator", "+17036069996", "15550001111", "STOP", rt.now())]
    )
    sent = send_to(rt, "acme", "+17036069996", "12345", client_reference="keys")
    browser.go("/portal/login")
    # The account field has the focus; Tab to the password, Enter sends the form.
    page = browser.find("html")
    browser.driver.switch_to.active_element.send_keys("acme", Keys.TAB, "s3cret")
    browser.driver.switch_to.active_element.send_keys(Keys.ENTER)
    browser.wait(lambda: browser.path == "/portal/")
    assert page.id != browser.find("html").id
    # The first Tab reaches the skip link, which moves the focus to the content.
    browser.find("body").send_keys(Keys.TAB)
    skip = browser.driver.switch_to.active_element
    assert skip.text == "Skip to content"
    for path, label in [
        ("/portal/", "dashboard"),
        ("/portal/send", "send"),
        ("/portal/messages", "messages"),
        (f"/portal/batches/{sent.batch_id}", "batch"),
        ("/portal/reports?by=month", "reports-month"),
        ("/portal/inbound", "inbound"),
        ("/portal/settings", "settings"),
    ]:
        browser.go(path)
        assert not _unlabelled(browser), path
        assert "Traceback" not in browser.driver.page_source
        browser.shot(label)
    browser.go("/portal/inbound")
    assert "STOP" in browser.text("table")
    browser.go("/portal/send")
    browser.fill("recipients", "+17036069996")
    browser.fill("text", "Привет")
    browser.find("#encoding option[value=GSM7]").click()
    assert "GSM7 cannot carry" in browser.text("#counter")
    browser.click("#send-form button[type=submit]")
    assert "Nothing was sent" in browser.text("[role=alert]")
    browser.shot("send-refused")
    browser.go("/portal/messages?since=2026-02-30")
    assert "is not a date" in browser.text("[role=alert]")


COUNTED = [
    "a" * 160,
    "a" * 161,
    "a" * 306,
    "a" * 307,
    "a" * 152 + "€",  # the two septets of € do not fit in part one's last one
    "^" * 80,
    "^" * 81,
    "П" * 70,
    "П" * 71,
    "😀" * 35,
    "a" * 66 + "😀" + "b" * 3,  # the pair moves whole to part two
    "line one\nline two",
]


def test_the_counter_counts_parts_as_the_gateway_does(browser: Browser) -> None:
    from soapsms.domain import encoding

    _log_in(browser)
    browser.go("/portal/send")
    for text in COUNTED:
        browser.driver.execute_script(
            "var t = document.getElementById('text'); t.value = arguments[0];"
            "t.dispatchEvent(new Event('input'));",
            text,
        )
        shown = browser.text("#counter")
        planned = encoding.plan(text, "Auto", max_parts=99)
        parts = int(re.search(r": (\d+) parts?", shown)[1])  # type: ignore[index]
        assert parts == planned.parts, (text[:20], shown)
        wanted = "GSM-7" if planned.encoding == encoding.GSM7 else "UCS-2"
        assert f"({wanted})" in shown
    browser.shot("counter")
