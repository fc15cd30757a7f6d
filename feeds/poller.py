"""Sources of telegrams: polling JMA PULL Atom feeds (and CAP Atom/RSS index feeds) with conditional GET,
fetching each new entry's document once (JMA blocks clients that download again), and a drop folder a J-ALERT
receiver or LGWAN relay writes into. Both hand documents to feeds.ingest.FeedIngest."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from feeds.ingest import FeedIngest, IngestResult
from feeds.safe_xml import parse_untrusted
from machihub.errors import Invalid

log = logging.getLogger("machihub.feeds")


@dataclass(frozen=True)
class Entry:
    entry_id: str
    link: str


def feed_entries(data: bytes) -> list[Entry]:
    """Entries of an Atom feed (JMA PULL, CAP index) or RSS 2.0 channel, oldest first."""
    root = parse_untrusted(data, what="feed")
    out: list[Entry] = []
    for entry in root.iter("{http://www.w3.org/2005/Atom}entry"):
        eid = (entry.findtext("{http://www.w3.org/2005/Atom}id") or "").strip()
        links = entry.findall("{http://www.w3.org/2005/Atom}link")
        link = next((x.get("href") for x in links if x.get("type") in ("application/xml", "application/cap+xml")), None) \
            or next((x.get("href") for x in links if x.get("href")), None)
        if link:
            out.append(Entry(eid or link, link))
    for item in root.iter("item"):
        link = (item.findtext("link") or "").strip()
        if link:
            out.append(Entry((item.findtext("guid") or link).strip(), link))
    return list(reversed(out))


class FeedPoller:
    """One poll of every configured feed per call to `poll_once`; `run` repeats it every poll_s seconds with
    APScheduler. Feed state (ETag/Last-Modified) and fetched entries live in the store, so several processes
    (and restarts) never fetch an entry twice."""

    def __init__(self, ingest: FeedIngest, jma_urls: tuple[str, ...], cap_urls: tuple[tuple[str, str], ...] = (),
                 *, user_agent: str = "machihub-feeds/1.0", max_bytes: int = 2 << 20) -> None:
        self.ingest, self.jma_urls, self.cap_urls = ingest, jma_urls, cap_urls
        self.user_agent, self.max_bytes = user_agent, max_bytes
        self.db, self.clock = ingest.hub.db, ingest.hub.clock

    async def _get(self, session: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[int, bytes, Any]:
        async with session.get(url, headers=headers) as resp:
            chunks, size = [], 0
            async for chunk in resp.content.iter_chunked(65536):
                size += len(chunk)
                if size > self.max_bytes:
                    raise Invalid(f"{url}: larger than {self.max_bytes} bytes")
                chunks.append(chunk)
            return resp.status, b"".join(chunks), resp.headers.copy()

    def _state(self, url: str) -> dict[str, str]:
        with self.db.read() as tx:
            row = tx.one("SELECT etag, last_modified FROM fd_feed_state WHERE feed_url = ?", (url,))
        headers = {}
        if row and row["etag"]:
            headers["If-None-Match"] = row["etag"]
        if row and row["last_modified"]:
            headers["If-Modified-Since"] = row["last_modified"]
        return headers

    def _save_state(self, url: str, h: Any) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM fd_feed_state WHERE feed_url = ?", (url,))
            tx.execute("INSERT INTO fd_feed_state (feed_url, etag, last_modified, checked) VALUES (?, ?, ?, ?)",
                       (url, h.get("ETag"), h.get("Last-Modified"), self.clock.iso()))

    def _claim(self, url: str, entry: Entry) -> bool:
        """Record the entry before fetching it: whoever inserts it first fetches it (once, ever)."""
        with self.db.transaction() as tx:
            cur = tx.execute("INSERT INTO fd_entries (feed_url, entry_id, link, fetched) VALUES (?, ?, ?, ?)"
                             " ON CONFLICT DO NOTHING", (url, entry.entry_id, entry.link, self.clock.iso()))
            return cur.rowcount == 1

    async def poll_feed(self, session: aiohttp.ClientSession, url: str, tenant: str | None = None) -> list[IngestResult]:
        status, body, headers = await self._get(session, url, self._state(url))
        if status == 304:
            return []
        if status != 200:
            raise Invalid(f"{url}: HTTP {status}")
        entries = await asyncio.to_thread(feed_entries, body)
        results = []
        for entry in entries:
            if not await asyncio.to_thread(self._claim, url, entry):
                continue
            try:
                st, doc, _ = await self._get(session, entry.link, {})
            except (aiohttp.ClientError, Invalid, TimeoutError) as exc:
                log.warning("feed entry %s not fetched: %s", entry.link, exc)
                continue
            if st != 200:
                log.warning("feed entry %s: HTTP %s", entry.link, st)
                continue
            if tenant is None:
                results.append(await asyncio.to_thread(self.ingest.ingest_jma, doc, f"pull:{url}"))
            else:
                results.append(await asyncio.to_thread(self.ingest.ingest_cap, doc, tenant, f"cap:{url}"))
        await asyncio.to_thread(self._save_state, url, headers)
        return results

    async def poll_once(self) -> list[IngestResult]:
        results: list[IngestResult] = []
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": self.user_agent}) as session:
            feeds = [(u, None) for u in self.jma_urls] + [(u, t) for t, u in self.cap_urls]
            for url, tenant in feeds:
                try:
                    results += await self.poll_feed(session, url, tenant)
                except (aiohttp.ClientError, Invalid, TimeoutError) as exc:
                    log.warning("feed %s not polled: %s", url, exc)
        return results


def scan_drop_folder(ingest: FeedIngest, folder: Path) -> list[IngestResult]:
    """Ingest every *.xml in the folder, then move it to done/ (or failed/ with the reason beside it)."""
    results = []
    for path in sorted(folder.glob("*.xml")):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        head = data[:4096]
        is_cap = b"urn:oasis:names:tc:emergency:cap" in head and b"kishou" not in head
        result = ingest.ingest_cap(data, "", "folder") if is_cap else ingest.ingest_jma(data, "folder")
        target = folder / ("failed" if result.outcome in ("invalid", "refused", "error") else "done")
        target.mkdir(exist_ok=True)
        path.replace(target / path.name)
        if target.name == "failed":
            (target / (path.name + ".reason.txt")).write_text(result.detail, encoding="utf-8")
        results.append(result)
    return results
