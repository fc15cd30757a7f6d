"""The dispatch worker: claims outbox rows, composes them, hands them to the channels' lanes and records
every result. Run it as `machihub worker` (any number, on any number of hosts with PostgreSQL) or inside
`serve` for a small single-host install.

Durability: every hand-off goes into the worker's journal (journal.py) right after the relay or push service
accepted it and, with alerts_serial_handoff, before the next hand-off starts, so kill -9 repeats at most one
message per killed worker. The database learns of hand-offs in batches. Everything else a killed worker held
comes back when its lease ends, or at once when a worker of the same name starts on the same host."""
from __future__ import annotations

import asyncio
import os
import queue
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from alerts.channels import Channel, Delivery, Outcome, Result
from alerts.journal import Journal, orphans
from alerts.links import Links
from alerts.outbox import Claimed, Outbox
from alerts.render import Composer
from alerts.subscriptions import SubscriberStore


class Wakeup:
    """'New rows are queued': from the lifecycle (any thread, after its commit) to the workers of this process,
    so a send starts at once instead of at the next poll. Workers in other processes still poll."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def subscribe(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._waiting.append((loop, event))

    def unsubscribe(self, event: asyncio.Event) -> None:
        with self._lock:
            self._waiting = [(lp, ev) for lp, ev in self._waiting if ev is not event]

    def notify(self) -> None:
        with self._lock:
            waiting = list(self._waiting)
        for loop, event in waiting:
            try:
                loop.call_soon_threadsafe(event.set)  # asyncio.Event is not thread-safe; its loop sets it
            except RuntimeError:  # that loop has closed
                self.unsubscribe(event)


class AckWriter:
    """Copies hand-offs from the journal into the database in batches, from one thread. A failed batch is
    retried; the journal keeps it meanwhile (and after a crash)."""

    def __init__(self, outbox: Outbox, journal: Journal) -> None:
        self.outbox, self.journal = outbox, journal
        self._q: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="outbox-acks", daemon=True)
        self._thread.start()
        self.failed = False

    def submit(self, row_id: int) -> None:
        self._q.put(row_id)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._q.get()
            batch: list[int] = []
            while item is not None:
                batch.append(item)
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    break
            stopping = item is None
            for attempt in range(30 if stopping else 10**9):
                try:
                    if batch:
                        self.outbox.mark_sent(batch, self.journal.owner)
                        self.journal.flushed(len(batch))
                    break
                except Exception:  # noqa: BLE001 - the journal holds them; try again
                    time.sleep(min(5.0, 0.1 * 2 ** min(attempt, 6)))
            else:
                self.failed = True

    def close(self) -> None:
        self._q.put(None)
        self._thread.join(120)


class HandoffGate:
    def __init__(self, journal: Journal, acks: AckWriter, serial: bool) -> None:
        self.journal, self.acks = journal, acks
        self.lock = asyncio.Lock() if serial else None

    async def handoff(self, delivery: Delivery, final: Callable[[], Awaitable[Any]]) -> Any:
        if self.lock is None:
            value = await final()
            self.journal.append(delivery.row.id)
        else:
            async with self.lock:  # nothing else is handed over before this one is in the journal
                value = await final()
                self.journal.append(delivery.row.id)
        self.acks.submit(delivery.row.id)
        return value


class Worker:
    def __init__(self, *, outbox: Outbox, composer: Composer, subs: SubscriberStore, links: Links,
                 channels: dict[str, Channel], name: str, journal_dir: Path, batch: int = 200,
                 serial: bool = True, poll_s: float = 0.25, wakeup: Wakeup | None = None) -> None:
        self.outbox, self.composer, self.subs, self.links = outbox, composer, subs, links
        self.channels, self.batch, self.serial, self.poll_s = channels, batch, serial, poll_s
        self.name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        self.me = f"{self.name}/{os.getpid()}/{secrets.token_hex(3)}"
        self.journal_dir = journal_dir
        self.counts: Counter[str] = Counter()
        self._inflight: dict[int, Delivery] = {}
        self._paused: dict[str, float] = {}
        self._down_s: dict[str, float] = {}
        self._room = asyncio.Event()   # set when a lane frees room or new rows were queued (Wakeup)
        self._busy = 0
        self.wakeup = wakeup

    async def run(self, *, until_idle: bool = False, stop: asyncio.Event | None = None) -> Counter[str]:
        """Work until `stop` is set (or, with until_idle, until nothing is due). Returns result counts."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._recover)
        journal = Journal(self.journal_dir, self.me)
        acks = AckWriter(self.outbox, journal)
        gate = HandoffGate(journal, acks, self.serial)
        queues: dict[str, asyncio.Queue[Delivery]] = {k: asyncio.Queue() for k in self.channels}
        for ch in self.channels.values():
            await ch.open()
        lanes = [asyncio.create_task(self._lane(kind, i, queues, gate))
                 for kind, ch in self.channels.items() for i in range(ch.concurrency)]
        beat = asyncio.create_task(self._heartbeat())
        stopping = asyncio.create_task(self._wake_when(stop))  # stop at once, not after the poll
        if self.wakeup is not None:
            self.wakeup.subscribe(loop, self._room)
        try:
            while not stop.is_set():
                self._room.clear()  # before claiming: a wake-up during the claim is not lost
                active = [k for k in self.channels if self._paused.get(k, 0.0) <= loop.time()]
                room = 2 * self.batch - len(self._inflight)
                rows = await asyncio.to_thread(self.outbox.claim, self.me, active, min(self.batch, room)) \
                    if active and room >= self.batch // 2 else []
                if rows:
                    await self._enqueue(rows, queues)
                    continue
                if until_idle and not self._inflight:
                    break
                try:
                    await asyncio.wait_for(self._room.wait(), self.poll_s)
                except TimeoutError:
                    pass
        finally:
            if self.wakeup is not None:
                self.wakeup.unsubscribe(self._room)
            await self._drain(queues)
            for task in [*lanes, beat, stopping]:
                task.cancel()
            await asyncio.gather(*lanes, beat, stopping, return_exceptions=True)
            if self._inflight:  # handed back unsent (no attempt counted)
                await asyncio.to_thread(self.outbox.release, list(self._inflight), self.me)
                self._inflight.clear()
            for ch in self.channels.values():
                await ch.close()
            await asyncio.to_thread(acks.close)
            if not acks.failed:
                journal.close()
        return self.counts

    async def _drain(self, queues: dict[str, asyncio.Queue[Delivery]], grace_s: float = 15.0) -> None:
        """Stopping: what no lane has started goes back now; what a lane is handing over may finish (a
        message cut off after the relay took it would be sent again)."""
        waiting = [d for q in queues.values() for d in _drain(q)]
        if waiting:
            await asyncio.to_thread(self.outbox.release, [d.row.id for d in waiting], self.me)
            for d in waiting:
                self._inflight.pop(d.row.id, None)
        deadline = asyncio.get_running_loop().time() + grace_s
        while self._busy and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)

    def _recover(self) -> None:
        """Earlier workers of this name that died: their hand-offs count as sent, their leases end now."""
        for owner, ids, path in orphans(self.journal_dir, self.name):
            self.outbox.recover(owner, ids)
            path.unlink(missing_ok=True)
            self.counts["recovered"] += len(ids)

    async def _enqueue(self, rows: list[Claimed], queues: dict[str, asyncio.Queue[Delivery]]) -> None:
        composed = await asyncio.to_thread(lambda: [(r, self._compose(r)) for r in rows])
        for row, d in composed:
            if isinstance(d, Delivery):
                self._inflight[row.id] = d
                queues[row.channel].put_nowait(d)
            else:
                await asyncio.to_thread(self.outbox.finish, row, d[0], d[1])
                self.counts[d[0]] += 1

    def _compose(self, row: Claimed) -> Delivery | tuple[str, str]:
        try:
            d = self.composer.compose(row)
        except Exception as exc:  # noqa: BLE001 - one bad row must not stop a send
            return ("failed", f"cannot compose: {type(exc).__name__}: {exc}")
        return d if isinstance(d, Delivery) else (d, "")

    async def _lane(self, kind: str, lane: int, queues: dict[str, asyncio.Queue[Delivery]], gate: HandoffGate) -> None:
        channel, q = self.channels[kind], queues[kind]
        while True:
            d = await q.get()
            self._busy += 1
            try:
                try:
                    result = await channel.deliver(lane, d, gate)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - never lose the row: retry it later
                    result = Result(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
                await self._settle(kind, d, result, q)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the lease brings the row back
                self._inflight.pop(d.row.id, None)
            finally:
                self._busy -= 1

    async def _settle(self, kind: str, d: Delivery, result: Result, q: asyncio.Queue[Delivery]) -> None:
        row, outcome = d.row, result.outcome
        if outcome is Outcome.DEFER:
            asyncio.get_running_loop().call_later(result.delay_s, q.put_nowait, d)
            return
        self.counts[outcome.value] += 1
        if outcome is Outcome.SENT:
            self._down_s.pop(kind, None)
        elif outcome is Outcome.RETRY:
            await asyncio.to_thread(self.outbox.retry, row, result.error)
        elif outcome is Outcome.FAILED:
            await asyncio.to_thread(self.outbox.finish, row, "failed", result.error)
        elif outcome is Outcome.SUPPRESS:
            key = self.links.address_hash(kind, str(d.target).lower())
            await asyncio.to_thread(self.outbox.suppress, row, key, kind, result.error)
        elif outcome is Outcome.GONE:
            await asyncio.to_thread(self.outbox.finish, row, "gone", result.error)
            if row.contact_id is not None:
                await asyncio.to_thread(self.subs.remove_contact, row.contact_id)
        elif outcome is Outcome.DOWN:
            await self._pause(kind, [d] + _drain(q))
            return
        self._inflight.pop(row.id, None)
        self._room.set()

    async def _pause(self, kind: str, deliveries: list[Delivery]) -> None:
        """The channel is unreachable: hand its rows back and stop claiming for it a while (1 s … 60 s)."""
        delay = min(60.0, self._down_s.get(kind, 0.5) * 2)
        self._down_s[kind] = delay
        self._paused[kind] = asyncio.get_running_loop().time() + delay
        ids = [d.row.id for d in deliveries]
        await asyncio.to_thread(self.outbox.release, ids, self.me, delay_s=delay)
        for i in ids:
            self._inflight.pop(i, None)
        self.counts["released"] += len(ids)
        self._room.set()

    async def _wake_when(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._room.set()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.outbox.config.lease_s / 3))
            await asyncio.to_thread(self.outbox.renew, self.me, list(self._inflight))


def _drain(q: asyncio.Queue[Delivery]) -> list[Delivery]:
    items = []
    while not q.empty():
        items.append(q.get_nowait())
    return items
