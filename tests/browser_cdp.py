"""
A small driver for headless Chromium over the DevTools protocol, for the browser page's tests.

No browser download and no extra package: Debian's ``chromium`` is started with ``--remote-debugging-port``
and driven over a WebSocket with aiohttp (installed with sunpy[net] through parfive). Used by
``tests/test_browser.py``; also handy by hand::

    with Browser() as b:
        page = b.open("http://127.0.0.1:8000/")
        print(page.evaluate("document.title"))
"""
import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

__all__ = ["Browser", "find_chromium"]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--no-default-browser-check", "--mute-audio"]


def find_chromium():
    """Path of a Chromium or Chrome executable, or None (``CHROMIUM`` overrides)."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Loop:
    """An asyncio loop in a thread, so the tests can call the protocol synchronously."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


class Page:
    """One tab: evaluate JavaScript, set a file input, wait for conditions, take screenshots."""

    def __init__(self, browser, ws_url):
        self.browser = browser
        self.ws_url = ws_url
        self._id = 0
        self._pending = {}
        self.console = []
        self.events = []
        browser._loop.run(self._connect())

    async def _connect(self):
        import aiohttp

        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(self.ws_url, max_msg_size=0)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self):
        async for msg in self._ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif data.get("method") == "Runtime.consoleAPICalled":
                args = data["params"]["args"]
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif data.get("method") == "Runtime.exceptionThrown":
                self.console.append("EXCEPTION " + json.dumps(data["params"]["exceptionDetails"])[:2000])
            elif "method" in data:
                self.events.append(data)

    async def _send(self, method, params=None):
        self._id += 1
        future = asyncio.get_running_loop().create_future()
        self._pending[self._id] = future
        await self._ws.send_str(json.dumps({"id": self._id, "method": method, "params": params or {}}))
        reply = await future
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def send(self, method, params=None, timeout=120):
        return self.browser._loop.run(self._send(method, params), timeout)

    def evaluate(self, expression, timeout=120):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                           timeout=timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url, timeout=60):
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'", timeout=timeout)

    def wait_for(self, expression, timeout=60, interval=0.2):
        """Wait until a JavaScript expression is truthy; returns its value."""
        end = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None
            if value:
                return value
            if time.monotonic() > end:
                raise TimeoutError(f"timed out after {timeout} s waiting for {expression}")
            time.sleep(interval)

    def set_files(self, selector, paths):
        doc = self.send("DOM.getDocument", {"depth": 0})
        node = self.send("DOM.querySelector", {"nodeId": doc["root"]["nodeId"], "selector": selector})
        self.send("DOM.setFileInputFiles", {"nodeId": node["nodeId"], "files": [str(p) for p in paths]})

    def screenshot(self, path, selector=None):
        params = {"format": "png"}
        if selector:
            box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                                ".getBoundingClientRect(); "
                                "return [r.x + scrollX, r.y + scrollY, r.width, r.height]; })()")
            margin = 8
            params["clip"] = {"x": max(box[0] - margin, 0), "y": max(box[1] - margin, 0),
                              "width": box[2] + 2 * margin, "height": box[3] + 2 * margin, "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", params)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        async def _close():
            self._reader.cancel()
            await self._ws.close()
            await self._session.close()

        try:
            self.browser._loop.run(_close(), 10)
        except Exception:
            pass


class Browser:
    """
    Headless Chromium with a fresh profile, started on enter and ended on exit.

    ``gpu=True`` leaves out ``--disable-gpu`` (for WebGPU, e.g. on the software SwiftShader adapter).
    """

    def __init__(self, executable=None, extra_flags=(), window=(1200, 1400), gpu=False):
        self.executable = executable or find_chromium()
        if self.executable is None:
            msg = "no chromium executable"
            raise FileNotFoundError(msg)
        self.extra_flags = list(extra_flags)
        self.window = window
        self.flags = [f for f in CHROMIUM_FLAGS if not (gpu and f == "--disable-gpu")]

    def __enter__(self):
        self._profile = tempfile.mkdtemp(prefix="sunpy-enhance-chromium-")
        self.downloads = Path(tempfile.mkdtemp(prefix="sunpy-enhance-downloads-"))
        self.port = _free_port()
        self.process = subprocess.Popen(
            [self.executable, *self.flags, f"--user-data-dir={self._profile}",
             f"--remote-debugging-port={self.port}", "--remote-debugging-address=127.0.0.1",
             f"--window-size={self.window[0]},{self.window[1]}", *self.extra_flags, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/version", timeout=2) as r:
                    self.version = json.load(r)
                break
            except OSError:
                if time.monotonic() > end or self.process.poll() is not None:
                    self.__exit__(None, None, None)
                    msg = "chromium did not start"
                    raise RuntimeError(msg) from None
                time.sleep(0.2)
        self._loop = _Loop()
        self.pages = []
        return self

    def open(self, url):
        """A new tab at ``url``, with downloads going to ``self.downloads``."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            target = json.load(r)
        page = Page(self, target["webSocketDebuggerUrl"])
        self.pages.append(page)
        page.send("Runtime.enable")
        page.send("Page.enable")
        page.send("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(self.downloads)})
        page.goto(url)
        return page

    def __exit__(self, *exc):
        for page in getattr(self, "pages", []):
            page.close()
        if hasattr(self, "_loop"):
            self._loop.stop()
        if getattr(self, "process", None) is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self._profile, ignore_errors=True)
        return False
