"""Headless Chromium for the web tests: Debian's chromium and chromium-driver
through Selenium (no browser download), screenshots into tests/screenshots/."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path(__file__).parent / "screenshots"


def chromium_or_skip(required: frozenset[str]) -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        why = f"browser tests need Debian's chromium and chromium-driver ({missing})"
        if "browser" in required:
            pytest.fail(f"SOAPSMS_REQUIRE=browser but {why}")
        pytest.skip(why)


class Browser:
    """One headless Chromium pointed at a base URL; a test's pages and shots."""

    def __init__(self, base_url: str, name: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        self.downloads = Path(tempfile.mkdtemp(prefix="soapsms-downloads-"))
        self.profile = tempfile.mkdtemp(prefix="soapsms-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in (
            "--headless=new",
            "--no-sandbox",  # the tests run as root in CI
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1280,1000",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={self.profile}",
        ):
            options.add_argument(argument)
        options.add_experimental_option(
            "prefs",
            {
                "download.default_directory": str(self.downloads),
                "download.prompt_for_download": False,
            },
        )
        self.driver = webdriver.Chrome(
            options=options, service=Service(executable_path=CHROMEDRIVER)
        )
        self.driver.set_page_load_timeout(30)
        self.driver.execute_cdp_cmd(
            "Page.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(self.downloads)},
        )
        self.shots = 0

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.downloads, ignore_errors=True)
            shutil.rmtree(self.profile, ignore_errors=True)

    def go(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def shot(self, label: str) -> Path:
        """A full-page screenshot, named after the test and the step."""
        SHOTS.mkdir(exist_ok=True)
        self.shots += 1
        path = SHOTS / f"{self.name}-{self.shots:02d}-{label}.png"
        height = self.driver.execute_script(
            "return document.documentElement.scrollHeight"
        )
        # The whole page, not the window's part of it.
        metrics = {"width": 1280, "deviceScaleFactor": 1, "mobile": False}
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {**metrics, "height": max(800, min(int(height), 6000))},
        )
        try:
            self.driver.save_screenshot(str(path))
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        return path

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def click(self, css: str, timeout: float = 30) -> None:
        """Click what `css` finds and wait until the next page has replaced this one."""
        page = self.find("html")
        self.find(css).click()
        WebDriverWait(self.driver, timeout).until(lambda _driver: _replaced(page))

    def fill(self, field_id: str, value: str) -> None:
        element = self.find(f"#{field_id}")
        element.clear()
        element.send_keys(value)

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    @property
    def path(self) -> str:
        url = str(self.driver.current_url)
        return url[len(self.base_url) :] if url.startswith(self.base_url) else url

    def wait(
        self, predicate: Callable[[], Any], timeout: float = 60, reload: bool = False
    ) -> Any:
        """Poll until `predicate()` is truthy, reloading the page between tries."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = predicate()
            except WebDriverException:
                found = None
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting on {self.path}")
            time.sleep(0.3)
            if reload:
                self.driver.refresh()

    def downloaded(self, suffix: str, timeout: float = 30) -> Path:
        """The finished download ending in `suffix`."""

        def done() -> Path | None:
            for path in self.downloads.iterdir():
                if path.name.endswith(suffix):
                    return path
            return None

        found: Path = self.wait(done, timeout)
        return found


@contextmanager
def browser_at(base_url: str, name: str, required: frozenset[str]) -> Iterator[Browser]:
    chromium_or_skip(required)
    browser = Browser(base_url, name)
    try:
        yield browser
    finally:
        browser.close()


def _replaced(element: WebElement) -> bool:
    """Whether the page `element` belongs to has been replaced."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        # What Chromium sometimes answers instead while the next page comes.
        return "does not belong to the document" in str(exc.msg)
    return False
