"""A headless Chromium driven over the DevTools protocol (``--remote-debugging-pipe``), for the report tests.

Only what the tests need: open a file, run JavaScript in it, take a screenshot,
and record what the page did: every network request it made (Chromium's own
background traffic, e.g. component updates, is not the page's and is not
recorded), every dialog it opened (``alert``), every uncaught exception and
every console message (Content-Security-Policy violations are logged there).

Debian/Ubuntu: ``apt-get install -y chromium``.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    # Belt and braces: even if the page tried, no host name would resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
)


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on PATH, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """One headless browser with one page; use as a context manager.

    Attributes:
        requests: URLs the page requested (``Network.requestWillBeSent``), since the last :meth:`open`.
        dialogs: messages of the dialogs the page opened (all dismissed), since the last :meth:`open`.
        exceptions: uncaught JavaScript exceptions, since the last :meth:`open`.
        console: console and log messages (``level: text``), since the last :meth:`open`.
    """

    def __init__(self, executable: str, profile: Path, *, width: int = 1400, height: int = 2000, timeout: float = 30):
        self.timeout = timeout
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.exceptions: list[str] = []
        self.console: list[str] = []
        to_chrome_read, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_write = os.pipe()

        def wire_pipes() -> None:  # in the child: the protocol reads fd 3 and writes fd 4
            os.dup2(to_chrome_read, 3)
            os.dup2(from_chrome_write, 4)

        self._process = subprocess.Popen(
            [executable, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            pass_fds=(3, 4),
        )
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    # ------------------------------------------------------------ protocol
    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from_chrome, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                while b"\0" in buffer:
                    message, buffer = buffer.split(b"\0", 1)
                    self._messages.put(json.loads(message))
        self._messages.put(None)

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its result, recording the events that arrive meanwhile."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        try:
            message = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no answer from Chromium to {waiting_for} in {self.timeout} s") from None
        if message is None:
            raise RuntimeError(f"Chromium closed the pipe while waiting for {waiting_for}")
        if "method" in message:
            self._record(message)
        return message

    def _record(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(params.get("message", ""))
            # An open dialog blocks the page: dismiss it (asynchronously, the reply is not awaited).
            self._next_id += 1
            dismiss = {"id": self._next_id, "method": "Page.handleJavaScriptDialog",
                       "params": {"accept": False}, "sessionId": self._session}
            os.write(self._to_chrome, json.dumps(dismiss).encode() + b"\0")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            self.console.append(f"{params.get('type')}: {text}")
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.console.append(f"{entry.get('level')}: {entry.get('text')}")

    # ------------------------------------------------------------ page
    def open(self, path: Path, *, bypass_csp: bool = False) -> None:
        """Load a file and wait for its load event; forget what the previous page did.

        Args:
            path: the HTML file.
            bypass_csp: ignore the page's Content-Security-Policy, to see what the page
                itself would do without it.
        """
        self.call("Page.setBypassCSP", session=True, enabled=bypass_csp)
        self.requests.clear()
        self.dialogs.clear()
        self.exceptions.clear()
        self.console.clear()
        self._events.clear()
        self.call("Page.navigate", session=True, url=path.resolve().as_uri())
        deadline = time.monotonic() + self.timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self._events):
            self._receive(deadline, "Page.loadEventFired")
        self.evaluate("0")  # let the events queued after the load event arrive

    def evaluate(self, expression: str) -> Any:
        """Run JavaScript in the page and return its (JSON-able) value; awaits a promise."""
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, selector: str | None = None) -> Path:
        """Save a PNG of the page (the first 2000 px), or of one element scrolled into view."""
        params: dict[str, Any] = {"format": "png"}
        if selector:
            box = self.evaluate(
                f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
                "const r = e.getBoundingClientRect();"
                "return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: Math.min(r.height, 2000)}; })()"
            )
            params.update(clip={**box, "scale": 1}, captureBeyondViewport=True)
        data = self.call("Page.captureScreenshot", session=True, **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Close the browser and wait for it to exit."""
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_chrome)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
