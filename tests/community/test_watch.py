"""Watch-over notices with a worker running and a real SMTP server: an unconfirmed guardian gets nothing; a
guardian confirmed by the person or by the school gets the notice within a second of the event."""
from __future__ import annotations

import asyncio
import time

import pytest

from machihub.errors import Forbidden
from machihub.principal import SYSTEM, Principal
from tests.community.conftest import public_app, resident, signed, token_of


async def _until(predicate, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def test_only_confirmed_guardians_get_the_event_within_a_second(cm, smtp, aiohttp_client):
    hub = cm.alerts.hub
    key_id, secret = hub.users.add_api_key(SYSTEM, "13219", "校門カードリーダー", "watch")
    client = await aiohttp_client(public_app(hub))
    mother, father, stranger = (resident(cm, f"{n}@example.jp", topics=["weather"]) for n in ("mother", "father",
                                                                                              "stranger"))
    r = await client.post("/community/13219/watch/register", data={"t": token_of(cm, mother), "person_id": "S-42",
                                                                  "label": "たろう"})
    code = (await r.json())["code_for_person"]
    r = await client.post("/community/13219/watch/register", data={"t": token_of(cm, father), "person_id": "S-42",
                                                                  "label": "たろう"})
    father_gid = (await r.json())["guardian"]
    cm.watch.register(stranger, "13219", "S-42")                 # never confirmed
    assert (await client.post("/community/watch/confirm", data={"code": code})).status == 200
    with pytest.raises(Forbidden):                               # another town's admin
        cm.watch.confirm_by_school(Principal(actor="user:x", tenant_code="37201", roles=frozenset({"admin"})),
                                   father_gid)
    cm.watch.confirm_by_school(cm.towns["komae_admin"], father_gid)

    stop = asyncio.Event()
    worker = asyncio.create_task(cm.alerts.run_worker("watch", stop=stop))
    try:
        await asyncio.sleep(0.3)                                # the worker is up and idle
        body, headers = signed(secret, key_id, {"person_id": "S-42", "event_id": "gate-1", "kind": "arrived",
                                                "place": "和泉小学校 正門"})
        bad = await client.post("/community/api/watch/events", data=body, headers={**headers, "X-Machihub-Key": "x"})
        assert bad.status == 401
        t0 = time.monotonic()
        r = await client.post("/community/api/watch/events", data=body, headers=headers)
        assert r.status == 202 and (await r.json())["queued"] == 2
        assert await _until(lambda: smtp.to("mother@example.jp") and smtp.to("father@example.jp"), 1.0)
        elapsed = time.monotonic() - t0
        assert elapsed < 1.0, elapsed
        again = await client.post("/community/api/watch/events", data=body, headers=headers)
        assert (await again.json())["queued"] == 0              # the same event twice is one event
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await worker
    assert smtp.to("stranger@example.jp") == []
    assert len(smtp.to("mother@example.jp")) == 1 and len(smtp.to("father@example.jp")) == 1
    text = smtp.to("mother@example.jp")[0].message.get_body(("plain",)).get_content()
    assert "たろう" in text and "到着" in text and "正門" in text
    print(f"watch-over notice delivered in {elapsed * 1000:.0f} ms")
