"""The JMA PULL poller against a local Atom feed server on 127.0.0.1: conditional GET, each telegram fetched
once, and the time from the feed update to the first SMTP hand-off at a real aiosmtpd sink."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from feeds.config import FeedsConfig
from feeds.poller import scan_drop_folder
from feeds.service import build_feeds
from machihub.principal import SYSTEM
from tests.alerts import conftest as alert_fixtures
from tests.alerts.conftest import dispatcher, free_port
from tests.feeds.test_ingest import retarget

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" lang="ja"><title>高頻度（随時）</title>
<id>urn:test:extra</id><updated>2026-01-01T00:00:00Z</updated>{entries}</feed>"""
ENTRY = """<entry><title>気象特別警報・警報・注意報</title><id>{url}</id><updated>2026-01-01T00:00:00Z</updated>
<author><name>奈良地方気象台</name></author><link type="application/xml" href="{url}"/></entry>"""

smtp = alert_fixtures.smtp  # the real aiosmtpd sink on loopback


@dataclass
class JmaServer:
    port: int
    telegrams: dict[str, bytes] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    conditional: int = 0
    version: int = 0
    runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def feed(self, request: web.Request) -> web.StreamResponse:
        self.hits["/feed"] = self.hits.get("/feed", 0) + 1
        etag = f'"v{self.version}"'
        if request.headers.get("If-None-Match") == etag:
            self.conditional += 1
            return web.Response(status=304, headers={"ETag": etag})
        entries = "".join(ENTRY.format(url=self.url(p)) for p in self.telegrams)
        return web.Response(body=ATOM.format(entries=entries).encode(), content_type="application/atom+xml",
                            headers={"ETag": etag})

    async def telegram(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        return web.Response(body=self.telegrams[request.path], content_type="application/xml")

    def publish(self, path: str, data: bytes) -> None:
        self.telegrams[path] = data
        self.version += 1

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/feed", self.feed)
        app.router.add_get("/t/{name}", self.telegram)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()


@pytest.fixture
def feeds_hub(hub, towns, smtp):
    al = dispatcher(hub, towns, smtp)
    al.admin.import_subscribers(SYSTEM, "37201", [{"email": "resident@example.jp", "topics": ["weather"],
                                                   "areas": [{"kind": "town"}]}])
    return hub


async def feed_to_first_handoff(hub, smtp, server: JmaServer, path: str, data: bytes, poll_s: float = 0.2) -> float:
    """Publish a telegram on the feed server while poller and worker run; seconds until the relay has a mail."""
    feeds = build_feeds(hub, FeedsConfig(jma_urls=(server.url("/feed"),), poll_s=poll_s,  # type: ignore[arg-type]
                                         drop_dir=str(hub.settings.data_dir) + "/drop"))
    stop = asyncio.Event()
    worker = asyncio.create_task(hub.alerts.run_worker("feeds-test", stop=stop))
    try:
        async with feeds.background(drop=False):
            await asyncio.sleep(poll_s * 2)
            before = len(smtp.received)
            t0 = time.perf_counter()
            server.publish(path, data)
            while len(smtp.received) == before:
                await asyncio.sleep(0.005)
                if worker.done():
                    worker.result()
                if time.perf_counter() - t0 > 30:
                    raise AssertionError(f"no mail within 30 s: {feeds.ingest.telegrams()[:1]}")
            return time.perf_counter() - t0
    finally:
        stop.set()
        await worker


def test_feed_update_to_first_smtp_handoff(feeds_hub, smtp):
    hub = feeds_hub

    async def scenario() -> tuple[float, JmaServer]:
        server = JmaServer(free_port())
        await server.start()
        try:
            raw = retarget("15_08_01_130412_VPWW53.xml", {"2920100": "3720100"})
            latency = await feed_to_first_handoff(hub, smtp, server, "/t/one.xml", raw)
            await asyncio.sleep(0.5)  # more polls: conditional GETs, no second download
            return latency, server
        finally:
            await server.stop()

    latency, server = asyncio.run(scenario())
    print(f"feed update → first SMTP hand-off: {latency * 1000:.0f} ms")
    assert latency < 5
    assert server.hits["/t/one.xml"] == 1          # fetched once
    assert server.conditional >= 1                 # If-None-Match answered 304
    assert smtp.received[0].rcpt_tos == ["resident@example.jp"]
    assert "大雨特別警報" in smtp.received[0].message.get_body(("plain",)).get_content()


def test_drop_folder(feeds_hub, tmp_path):
    feeds = build_feeds(feeds_hub)
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.xml").write_bytes(retarget("15_08_01_130412_VPWW53.xml", {"2920100": "3720100"}))
    (drop / "bad.xml").write_bytes(b"<not-jma/>")
    results = scan_drop_folder(feeds.ingest, drop)
    assert sorted(r.outcome for r in results) == ["accepted", "invalid"]
    assert (drop / "done" / "a.xml").exists() and (drop / "failed" / "bad.xml.reason.txt").exists()


def test_polled_cap_index_feed(feeds_hub):
    """A CAP 1.2 Atom index on 127.0.0.1 (as a neighbouring town or the prefecture publishes it) → an alert."""
    from alerts.model import Alert, AlertArea, AlertText
    from feeds.cap import to_cap_xml

    hub = feeds_hub
    cap = Alert(tenant_code="37201", topic="evacuation", event="避難指示", severity="Severe", identifier="pref-kagawa-1",
                sender="bousai@pref.kagawa.example", texts={"ja": AlertText(headline="高松市に避難指示")},
                areas=[AlertArea(desc="高松市", geocodes=[("JIS-X0402", "37201")])]).to_cap()
    cap11 = b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"><identifier>old</identifier></alert>'

    async def scenario() -> list:
        server = JmaServer(free_port())
        server.publish("/t/cap.xml", to_cap_xml(cap))
        server.publish("/t/old.xml", cap11)
        await server.start()
        try:
            feeds = build_feeds(hub, FeedsConfig(jma_urls=(), cap_urls=(("37201", server.url("/feed")),)))
            first = await feeds.poller.poll_once()
            again = await feeds.poller.poll_once()
            return [first, again, server.hits]
        finally:
            await server.stop()

    first, again, hits = asyncio.run(scenario())
    assert sorted(r.outcome for r in first) == ["accepted", "refused"] and again == []
    refused = next(r for r in first if r.outcome == "refused")
    assert "1.1" in refused.detail or "namespace" in refused.detail
    (record,) = [r for r in hub.alerts.lifecycle.list("37201") if r.alert.identifier == "pref-kagawa-1"]
    assert record.source == "cap" and record.state == "pending"   # Severe evacuation: waits for approval
    assert hits["/t/cap.xml"] == 1
