"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: no port, no network),
for tests that open a page as a reader would: evaluate JavaScript in it and take a screenshot."""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-pipe",
         "--window-size=1400,1000", "--hide-scrollbars")


def find_or_install() -> tuple[str | None, str]:
    """The chromium executable, installed with apt-get (Debian's package) when missing and possible; else None
    and why not."""
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name), ""
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return None, "chromium is not installed and apt-get cannot install it here (not root, or no apt-get)"
    proc = subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, text=True,
                          timeout=900, check=False, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if proc.returncode or not shutil.which("chromium"):
        return None, f"apt-get install chromium failed: {proc.stderr.strip()[-300:]}"
    return shutil.which("chromium"), ""


class Browser:
    """One headless Chromium with a fresh profile in ``profile``, and one page (tab) to drive."""

    def __init__(self, executable: str, profile: Path, timeout: float = 60.0):
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        # Chromium's --remote-debugging-pipe reads commands on fd 3 and writes replies on fd 4. The commands pipe is
        # made first, so its read end is never above the replies' write end and the redirections cannot clobber. bash,
        # not sh: dash refuses descriptors above 9, which a test process usually holds.
        redirect = f'exec "$@" 3<&{commands_read} 4>&{replies_write}'
        self.proc = subprocess.Popen(["/bin/bash", "-c", redirect, "bash", executable, *FLAGS,
                                      f"--user-data-dir={profile}", "about:blank"],
                                     pass_fds=(commands_read, replies_write), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(commands_read)
        os.close(replies_write)
        self.timeout, self._id, self._buffer, self.events = timeout, 0, b"", []
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.send("Page.enable", session=True)

    def send(self, method: str, session: bool = False, **params) -> dict:
        """Send a command (to the page when ``session``) and return its result; an error reply raises."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.events.clear()
        self.send("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading")
            self.events.append(self._read())

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", session=True, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}...: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 30.0):
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.25)
        raise TimeoutError(f"never true in the page: {expression}")

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._commands)
        os.close(self._replies)
