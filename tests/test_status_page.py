"""The status page in a real browser: headless Chromium through chromedriver.

The page is opened against a running system; the test changes an actor's
status (and fails one, and fills a mailbox) and waits for the rendered DOM to
show it. Without Chromium the test skips, saying so; with ``CI=true`` it
fails instead, so CI cannot pass without running it (``.ci/run`` installs
Debian's ``chromium`` and ``chromium-driver``).

``BACKSTAGE_SCREENSHOT=docs/status_page.png`` also saves a screenshot of the
page (that is how README's picture is made).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import WAIT, Latch, LatchedRecorder, assert_clean_shutdown
from webdriver import Browser, find_browser

from backstage_threads import Actor, ActorSystem, ServiceStatus

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


class Service(Actor[Any]):
    """Sets its status to each `ServiceStatus` it gets; raises on "boom"."""

    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("boom")
        if isinstance(message, ServiceStatus):
            self.context.set_status(message)
        return message


class Shop(Actor[Any]):
    """An application root with a few services under it."""

    def on_start(self) -> None:
        for name in ("db", "cache", "api", "mailer"):
            self.context.spawn(Service, name=name)

    def receive(self, message: Any) -> Any:
        return message


@pytest.fixture
def browser() -> Iterator[Browser]:
    found = find_browser()
    if isinstance(found, str):
        if CI:
            pytest.fail(f"CI=true requires the browser test to run, but: {found}")
        pytest.skip(found)
    with Browser(*found, timeout=WAIT * 3) as session:
        yield session


def node(path: str) -> str:
    return f'li[data-path="{path}"]'


def field(path: str, name: str) -> str:
    return f"{node(path)} > .row > .{name}"


def test_the_page_shows_status_changes_live(browser: Browser) -> None:
    system = ActorSystem("shop", workers=2)
    latch = Latch()
    try:
        shop = system.spawn(Shop, name="shop")
        shop.ask("ready", timeout=WAIT)
        server = system.serve_status()
        browser.open(server.url)
        browser.wait_until("#connection", "text", "live")
        browser.wait_until(node("/user/shop/api"), "data-status", "Running")
        assert browser.wait_until("#system", "text", "shop") == "shop"

        api = system.lookup("/user/shop/api")
        assert api is not None
        api.tell(ServiceStatus.DEGRADED)
        browser.wait_until(node("/user/shop/api"), "data-status", "Degraded")
        browser.wait_until(field("/user/shop/api", "status"), "text", "Degraded")

        mailer = system.lookup("/user/shop/mailer")
        assert mailer is not None
        mailer.tell("boom")  # restarted by its supervisor: the page counts it
        browser.wait_until(field("/user/shop/mailer", "restarts"), "data-restarts", "1")
        browser.wait_until(node("/user/shop/mailer"), "data-status", "Running")

        # A new actor appears, and its mailbox depth is drawn as it fills.
        held = system.spawn(
            lambda: LatchedRecorder(latch, [], threading.Lock()), name="reports", pinned=True
        )
        held.tell("first")
        assert latch.entered.wait(WAIT)
        for index in range(3):
            held.tell(index)
        browser.wait_until(field("/user/reports", "depth"), "data-depth", "3")
        cache = system.lookup("/user/shop/cache")
        assert cache is not None
        cache.tell(ServiceStatus.MAINTENANCE)
        browser.wait_until(node("/user/shop/cache"), "data-status", "Maintenance")

        # Nothing was loaded from anywhere but the server itself.
        loaded = browser.run(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        )
        assert all(url.startswith(server.url) for url in loaded), loaded
        shot = os.environ.get("BACKSTAGE_SCREENSHOT")
        if shot:
            browser.screenshot(Path(shot))
        latch.release_and_drain(2)
    finally:
        latch.release.set()
        assert_clean_shutdown(system)
    browser.wait_until("#connection", "text", "stopped")
