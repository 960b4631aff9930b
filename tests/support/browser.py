"""Debian's Chromium driven by Playwright, for the desk's browser tests: one headless browser
per test session, and pages that fail the test on any dialog, console error or CSP violation.

Without ``/usr/bin/chromium`` or the ``playwright`` package the tests skip and say which is
missing, unless ``MEDIAWATCH_REQUIRE_BROWSER=1`` (``.ci/run`` sets it once Chromium is
installed), then they fail. Playwright never downloads a browser here: it drives Debian's.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page

CHROMIUM = Path("/usr/bin/chromium")

# Runs before any script of the page; CSP violations also reach the console as errors, this
# names the directive and the blocked address in the message.
_REPORT_CSP = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


def browser_missing() -> str | None:
    """None when the browser tests can run, else what is missing."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


def require_browser() -> None:
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("MEDIAWATCH_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " (MEDIAWATCH_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@dataclass
class Watched:
    """A browser tab that writes down what a user must never see."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """No dialog opened, no console error, no CSP violation, no uncaught exception."""
        seen, self.problems = self.problems, []  # each problem fails the test once
        assert not seen, "\n".join(seen)


def watch(page: Page) -> Watched:
    watched = Watched(page)

    def on_dialog(dialog: Dialog) -> None:
        watched.problems.append(f"a {dialog.type} dialog opened: {dialog.message!r}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "")
        if urlsplit(where).path == "/favicon.ico":
            return  # the browser asks for it by itself; no page of the desk links it
        watched.problems.append(f"console error on {page.url}: {message.text} ({where})")

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.problems.append(f"uncaught error: {error}"))
    page.add_init_script(_REPORT_CSP)
    return watched


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Headless Chromium from /usr/bin/chromium, started once per test session."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


OpenTab = Callable[..., Watched]
"""``open_tab(java_script=True, **context_options)``: a fresh watched tab."""


@pytest.fixture
def open_tab(chromium: Browser) -> Iterator[OpenTab]:
    """Fresh tabs, each in its own context (cookies, JavaScript on or off), closed after the
    test; a problem one of them saw and the test did not check fails the test here."""
    contexts: list[BrowserContext] = []
    tabs: list[Watched] = []

    def open_(java_script: bool = True, **options: Any) -> Watched:
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = chromium.new_context(java_script_enabled=java_script, **options)
        contexts.append(context)
        tab = watch(context.new_page())
        tabs.append(tab)
        return tab

    yield open_
    for context in contexts:
        context.close()
    for tab in tabs:
        tab.assert_clean()


@pytest.fixture
def tab(open_tab: OpenTab) -> Watched:
    """One watched tab with JavaScript on."""
    return open_tab()
