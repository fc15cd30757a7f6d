"""The in-process wake-up: a worker whose poll interval is far longer than the test hands an alert to the
real SMTP server right after the lifecycle queues it (approval or a machine source in another thread)."""
from __future__ import annotations

import asyncio
import time

from machihub.principal import SYSTEM
from tests.alerts.conftest import chome_alert, send

POLL_S = 60.0  # the fallback poll; the mails below must not wait for it


async def until(predicate, timeout_s: float) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout_s, "the worker was not woken"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_queued_alert_wakes_the_worker(al, smtp):
    al.admin.import_subscribers(SYSTEM, "13219", [{"email": "near@example.jp", "topics": ["crime"],
                                                   "areas": [{"kind": "town"}]}])
    stop = asyncio.Event()
    worker = asyncio.create_task(al.worker("wake", poll_s=POLL_S).run(stop=stop))
    await asyncio.sleep(0.2)  # the worker has claimed nothing and is waiting out its poll
    await asyncio.to_thread(send, al, chome_alert())  # approval from another thread, as a web request would
    waited = await until(lambda: smtp.to("near@example.jp"), timeout_s=POLL_S / 4)
    auto = chome_alert(severity="Extreme")  # a machine source with a rule: sent at once, again in a thread
    al.lifecycle.set_rule(SYSTEM, "13219", "cap", "crime", "Severe")
    await asyncio.to_thread(al.lifecycle.ingest, SYSTEM, auto, "cap")
    waited = max(waited, await until(lambda: len(smtp.to("near@example.jp")) == 2, timeout_s=POLL_S / 4))
    stop.set()
    await worker
    assert waited < POLL_S / 4


async def test_closed_worker_is_not_woken(al):
    stop = asyncio.Event()
    stop.set()
    await al.worker("gone", poll_s=POLL_S).run(stop=stop)
    al.wakeup.notify()  # nobody is waiting any more: nothing to do, nothing raised
    assert al.wakeup._waiting == []
