"""Markup stored in an account's messages, and the pages' Content-Security-
Policy, in headless Chromium against a live gateway: no payload runs and no
page of the portal breaks its own policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soapsms.usecases.runtime import Runtime
from tests.browser import Browser, browser_at
from tests.conftest import LiveServer
from tests.dispatch_helpers import acme_runtime, send_to
from tests.test_web_portal_browser import _log_in

PAYLOAD = "\"><img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
# Recorded from the first script of every document, before the page's own.
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture
def attacked(
    sqlite_url: str, required: frozenset[str], request: pytest.FixtureRequest
) -> Iterator[tuple[Browser, Runtime]]:
    """A live gateway with the account acme, and a browser watching its policy."""
    with (
        acme_runtime(sqlite_url) as rt,
        LiveServer(rt) as live,
        browser_at(live.url, request.node.name, required) as browser,
    ):
        browser.driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": WATCH}
        )
        yield browser, rt


def test_stored_markup_does_not_run_and_pages_keep_their_policy(
    attacked: tuple[Browser, Runtime],
) -> None:
    browser, rt = attacked
    sent = send_to(
        rt, "acme", "+17036069996", text=PAYLOAD, client_reference=PAYLOAD[:60]
    )
    message_id = sent.messages[0].message_id
    _log_in(browser)
    for path in (
        "/portal/",
        "/portal/send",
        "/portal/messages",
        f"/portal/messages/{message_id}",
        f"/portal/batches/{sent.batch_id}",
        "/portal/reports",
        "/portal/inbound",
        "/portal/settings",
    ):
        browser.go(path)
        assert browser.driver.title != "pwned", path
        assert not browser.find_all("img[src=x]"), path
        violations = browser.driver.execute_script("return window.__violations")
        assert violations == [], (path, violations)
    browser.go(f"/portal/messages/{message_id}")
    assert PAYLOAD[:20] in browser.find("main").text
    browser.shot("stored-markup-shown-as-text")
    # The watcher sees a violation: an image from outside 'self' is one.
    browser.driver.execute_script(
        "var i = document.createElement('img'); i.src = 'data:,x';"
        " document.body.appendChild(i);"
    )
    seen = browser.wait(
        lambda: browser.driver.execute_script("return window.__violations"), 10
    )
    assert any("img-src" in v for v in seen)
