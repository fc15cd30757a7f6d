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
