"""Feeds benchmark; prints one JSON line.

1. Parsing: every sample telegram in ../shared/data/jma parsed (and schema-validated) repeatedly:
   telegrams per second.
2. Latency over --runs runs on the embedded store with a real aiosmtpd sink on loopback and a local JMA PULL
   feed server on 127.0.0.1: a 大雨特別警報 for 高松市 appears in the Atom feed; the poller (every --poll-s
   seconds, the production default is 60) fetches it, ingest sends it at once, the outbox worker hands the
   mail to SMTP. Reported: feed update → first SMTP hand-off, and telegram received (push) → first hand-off.

    .venv/bin/python bench/feeds.py [--runs 20] [--repeat 20] [--poll-s 0.2]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from feeds.config import FeedsConfig  # noqa: E402
from feeds.jma import parse_jma  # noqa: E402
from feeds.service import build_feeds  # noqa: E402
from machihub.clock import Clock  # noqa: E402
from machihub.compose import build_hub  # noqa: E402
from machihub.principal import SYSTEM  # noqa: E402
from machihub.settings import load_settings  # noqa: E402
from tests.shared_data import DATA  # noqa: E402

SAMPLE = DATA / "jma" / "15_08_01_130412_VPWW53.xml"
OFFICE = "<EditorialOffice>奈良地方気象台</EditorialOffice>"


def parse_rate(repeat: int) -> tuple[float, int]:
    blobs = [p.read_bytes() for p in sorted((DATA / "jma").glob("*.xml"))]
    start = time.perf_counter()
    for _ in range(repeat):
        for b in blobs:
            parse_jma(b)
    return len(blobs) * repeat / (time.perf_counter() - start), len(blobs)


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.count += 1
        return "250 OK"


def telegram(i: int) -> bytes:
    """The sample moved to 高松市, as a new event each run (its own editorial office)."""
    text = SAMPLE.read_text(encoding="utf-8").replace("2920100", "3720100")
    return text.replace(OFFICE, OFFICE.replace("気象台<", f"気象台{i}<")).encode()


async def latency(runs: int, poll_s: float, tmp: Path) -> dict[str, list[float]]:
    sink = Sink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        smtp_port = s.getsockname()[1]
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    settings = load_settings(config_file=tmp / "none.toml", env={}, store=f"sqlite:///{tmp}/hub.gpkg",
                             data_dir=str(tmp), secret_key="bench-secret-0123456789", smtp_port=smtp_port,
                             alerts_inbound_port=0)
    hub = build_hub(settings, clock=Clock())
    hub.init_schema()
    hub.tenants.add(SYSTEM, "37201", "高松市", name_en="Takamatsu", prefecture="香川県")
    hub.alerts.admin.import_subscribers(SYSTEM, "37201", [{"email": "r@example.jp", "topics": ["weather"],
                                                           "areas": [{"kind": "town"}]}])
    docs: dict[str, bytes] = {}
    app = web.Application()

    async def feed(_: web.Request) -> web.Response:
        entries = "".join(f'<entry><id>{p}</id><title>t</title><updated>2026-01-01T00:00:00Z</updated>'
                          f'<link type="application/xml" href="http://127.0.0.1:{port}{p}"/></entry>' for p in docs)
        return web.Response(text=f'<feed xmlns="http://www.w3.org/2005/Atom"><id>f</id><title>f</title>'
                                 f'<updated>2026-01-01T00:00:00Z</updated>{entries}</feed>',
                            content_type="application/atom+xml", headers={"ETag": f'"{len(docs)}"'})

    async def doc(request: web.Request) -> web.Response:
        return web.Response(body=docs[request.path], content_type="application/xml")

    app.router.add_get("/feed", feed)
    app.router.add_get("/t/{n}", doc)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    feeds = build_feeds(hub, FeedsConfig(jma_urls=(f"http://127.0.0.1:{port}/feed",), poll_s=poll_s,  # type: ignore[arg-type]
                                         drop_dir=str(tmp / "drop")))
    stop = asyncio.Event()
    worker = asyncio.create_task(hub.alerts.run_worker("bench", stop=stop))
    out: dict[str, list[float]] = {"feed": [], "push": []}

    async def until_mail(before: int, t0: float) -> float:
        while sink.count == before:
            await asyncio.sleep(0.002)
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("no mail within 60 s")
        return time.perf_counter() - t0

    async with feeds.background(drop=False):
        for i in range(runs):
            before, t0 = sink.count, time.perf_counter()
            docs[f"/t/{i}.xml"] = telegram(i)
            out["feed"].append(await until_mail(before, t0))
        for i in range(runs, 2 * runs):
            before, t0 = sink.count, time.perf_counter()
            await asyncio.to_thread(feeds.ingest.ingest_jma, telegram(i), "push")
            out["push"].append(await until_mail(before, t0))
    stop.set()
    await worker
    await runner.cleanup()
    smtp.stop()
    hub.close()
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))] * 1000, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--poll-s", type=float, default=0.2)
    args = ap.parse_args()
    rate, samples = parse_rate(args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        lat = asyncio.run(latency(args.runs, args.poll_s, Path(tmp)))
    print(json.dumps({"bench": "feeds", "samples": samples, "parse_telegrams_per_s": round(rate, 1),
                      "runs": args.runs, "poll_s": args.poll_s,
                      "feed_to_first_handoff_ms": {"p50": pct(lat["feed"], 0.5), "p95": pct(lat["feed"], 0.95),
                                                   "mean": round(statistics.mean(lat["feed"]) * 1000, 1)},
                      "push_to_first_handoff_ms": {"p50": pct(lat["push"], 0.5), "p95": pct(lat["push"], 0.95),
                                                   "mean": round(statistics.mean(lat["push"]) * 1000, 1)}},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
