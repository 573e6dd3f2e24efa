"""A minimal WebDriver client for headless Chromium, spoken over HTTP with urllib.

Debian's ``chromium`` and ``chromium-driver`` packages give the browser and its
driver; no selenium needed. `find_browser` says what is missing (the tests
skip with that reason, or fail under CI=true); `Browser` starts chromedriver on
a free loopback port, opens one headless session with a fresh profile, and
quits both on `close`. Nothing sleeps: the driver's start is seen on its
output, and `Browser.wait_until` waits inside the page with a
MutationObserver for the DOM to show what the test expects, bounded by
WebDriver's script timeout.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

#: The flags the browser runs with: headless, no sandbox (tests run as root),
#: and nothing that would reach the network on its own.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1200,760",
)
_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver")


def find_browser() -> tuple[str, str] | str:
    """``(chromium, chromedriver)`` paths, or a sentence saying what is missing."""
    browser = next((found for name in _BROWSERS if (found := shutil.which(name))), None)
    driver = next((found for name in _DRIVERS if (found := shutil.which(name))), None)
    if browser is None or driver is None:
        missing = " and ".join(
            what for what, path in (("chromium", browser), ("chromedriver", driver)) if path is None
        )
        return (
            f"no {missing} on this machine (Debian: apt-get install chromium chromium-driver; "
            ".ci/run installs them)"
        )
    return browser, driver


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Browser:
    """One headless Chromium session driven through chromedriver."""

    def __init__(self, browser: str, driver: str, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="backstage-chromium-")
        self._port = _free_port()
        self._driver = subprocess.Popen(
            [driver, f"--port={self._port}", "--allowed-ips=127.0.0.1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._started = threading.Event()
        self._output: list[str] = []
        assert self._driver.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self._driver.stdout,), name="chromedriver-output", daemon=True
        )
        self._reader.start()
        self._session: str | None = None
        try:
            if not self._started.wait(timeout):
                raise RuntimeError(
                    f"chromedriver did not start within {timeout} s: {''.join(self._output)!r}"
                )
            options = {
                "binary": browser,
                "args": [*CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}"],
            }
            reply = self._call(
                "POST",
                "/session",
                {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}},
            )
            self._session = reply["sessionId"]
            self._session_call("POST", "/timeouts", {"script": round(timeout * 1000)})
        except BaseException:
            self.close()
            raise

    def _read(self, stream: IO[str]) -> None:
        # Drains the driver's output (so it never blocks on a full pipe) and
        # notes when it says it is listening.
        for line in stream:
            if len(self._output) < 50:
                self._output.append(line)
            if "started successfully" in line:
                self._started.set()

    def _call(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self._port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise RuntimeError(f"WebDriver {method} {path} failed: {detail}") from exc

    def _session_call(self, method: str, path: str, body: object = None) -> Any:
        assert self._session is not None
        return self._call(method, f"/session/{self._session}{path}", body)

    def open(self, url: str) -> None:
        """Load ``url`` (returns once the document has loaded)."""
        self._session_call("POST", "/url", {"url": url})

    def run(self, script: str, *args: object) -> Any:
        """Run ``script`` (a function body; ``arguments`` holds ``args``) in the page."""
        return self._session_call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_until(self, selector: str, attribute: str, expected: str) -> str:
        """Wait until the element at ``selector`` has ``attribute`` (or, for
        ``"text"``, its text) equal to ``expected``; return it.

        The page itself watches (a MutationObserver), so this returns as soon
        as the DOM changes, within the session's script timeout.

        Raises:
            TimeoutError: If it does not happen in time (with what was there).
        """
        try:
            found: str = self._session_call(
                "POST",
                "/execute/async",
                {"script": _WAIT_SCRIPT, "args": [selector, attribute, expected]},
            )
        except RuntimeError as exc:
            if "timeout" not in str(exc):
                raise
            now = self.run(_READ_SCRIPT, selector, attribute)
            raise TimeoutError(
                f"{selector} {attribute}: expected {expected!r}, still {now!r}"
            ) from exc
        return found

    def screenshot(self, path: Path) -> None:
        """Save the window as a PNG."""
        path.write_bytes(base64.b64decode(self._session_call("GET", "/screenshot")))

    def close(self) -> None:
        """Quit the session and the driver; remove the profile."""
        try:
            if self._session is not None:
                self._session_call("DELETE", "")
        except (OSError, RuntimeError):
            pass
        finally:
            self._session = None
            self._driver.terminate()
            try:
                self._driver.wait(10)
            except subprocess.TimeoutExpired:
                self._driver.kill()
                self._driver.wait(10)
            self._reader.join(10)  # the pipe ends with the driver
            if self._driver.stdout is not None:
                self._driver.stdout.close()
            self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# Resolves when the element matches; written out here (the page's
# Content-Security-Policy forbids eval, so no code is built from strings).
_WAIT_SCRIPT = """
const [selector, attribute, expected, done] = arguments;
function read() {
  const element = document.querySelector(selector);
  if (element === null) return null;
  return attribute === "text" ? element.textContent : element.getAttribute(attribute);
}
if (read() === expected) { done(expected); return; }
const observer = new MutationObserver(function () {
  if (read() === expected) { observer.disconnect(); done(expected); }
});
observer.observe(document.documentElement,
                 {subtree: true, childList: true, attributes: true, characterData: true});
"""

_READ_SCRIPT = """
const [selector, attribute] = arguments;
const element = document.querySelector(selector);
if (element === null) return null;
return attribute === "text" ? element.textContent : element.getAttribute(attribute);
"""
