"""Real servers and a real browser for portal tests: the hub's apps on loopback ports in a background
thread, and Debian's Chromium driven by Playwright with every non-loopback request aborted."""
from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import need

AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """Runs aiohttp apps on 127.0.0.1 in their own thread and event loop."""

    def __init__(self, apps) -> None:
        self.apps = apps
        self.ports = [free_port() for _ in apps]
        self.loop = asyncio.new_event_loop()
        self.runners = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> LiveServer:
        from aiohttp import web

        self.thread.start()

        async def up():
            for app, port in zip(self.apps, self.ports, strict=True):
                runner = web.AppRunner(app)
                await runner.setup()
                await web.TCPSite(runner, "127.0.0.1", port).start()
                self.runners.append(runner)

        asyncio.run_coroutine_threadsafe(up(), self.loop).result(30)
        return self

    def url(self, i: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def stop(self) -> None:
        async def down():
            for r in self.runners:
                await r.cleanup()

        asyncio.run_coroutine_threadsafe(down(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def browser():
    if not shutil.which("chromium") and not Path(CHROMIUM).exists():
        need("Debian chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("playwright is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update",
            "--disable-gpu", "--no-first-run", "--disable-sync"])
        yield b
        b.close()


def loopback_only(context) -> list[str]:
    """Abort every request that leaves the machine; return the list of what was blocked."""
    blocked: list[str] = []

    def route(r):
        host = urlsplit(r.request.url).hostname or ""
        if r.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return blocked


def run_axe(page) -> list[dict]:
    """axe-core with the WCAG 2.0/2.1 A and AA rules; returns the violations."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""async () => await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})""")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]]


class ServeProcess:
    """`machihub serve` in its own process on the given store: for clients that hold the GIL while they wait
    for HTTP (GDAL's OAPIF driver inside pyogrio), which would starve an in-process server thread."""

    def __init__(self, store: str, data_dir: Path, secret: str) -> None:
        import os

        self.public_port, self.staff_port = free_port(), free_port()
        self.env = {**os.environ, "MACHIHUB_STORE": store, "MACHIHUB_DATA_DIR": str(data_dir),
                    "MACHIHUB_SECRET_KEY": secret, "MACHIHUB_PUBLIC_PORT": str(self.public_port),
                    "MACHIHUB_STAFF_PORT": str(self.staff_port), "MACHIHUB_CONFIG": str(data_dir / "none.toml")}
        self.proc = None

    def __enter__(self) -> ServeProcess:
        import subprocess
        import sys
        import time

        self.proc = subprocess.Popen([sys.executable, "-m", "machihub.cli", "serve"], env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.public_port)) == 0:
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read().decode())
            time.sleep(0.1)
        raise RuntimeError("machihub serve did not start")

    def url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """The public app over the real demo data (高松市, 狛江市, 沼津市) on loopback, one per test module."""
    from machihub.demo import load_demo
    from portal.public_app import make_public_app
    from tests.conftest import make_hub

    tmp = tmp_path_factory.mktemp("demo")
    hub = make_hub(f"sqlite:///{tmp}/hub.gpkg", tmp)
    list(load_demo(hub, quiet=True))
    server = LiveServer([make_public_app(hub)]).start()
    yield hub, server
    server.stop()
    hub.close()


def open_page(browser, width: int = 390, height: int = 844, locale: str = "ja-JP", **kw):
    """(context, page, blocked requests) in a fresh context limited to loopback. bypass_csp lets a test evaluate
    its probes; the page itself still runs under our CSP."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale, bypass_csp=True, **kw)
    blocked = loopback_only(context)
    return context, context.new_page(), blocked
