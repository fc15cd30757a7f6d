"""Watch-over notices with a worker running and a real SMTP server: an unconfirmed guardian gets nothing; a
guardian confirmed by the person (with a code the watch system showed them) or by the school gets the notice
within a second of the event. The guardian never holds a code and cannot confirm themselves."""
from __future__ import annotations

import asyncio
import time

import pytest

from machihub.errors import Forbidden, NotFound
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
    mother_gid = (await r.json())["guardian"]
    r = await client.post("/community/13219/watch/register", data={"t": token_of(cm, father), "person_id": "S-42",
                                                                  "label": "たろう"})
    father_gid = (await r.json())["guardian"]
    cm.watch.register(stranger, "13219", "S-42")                 # never confirmed
    # the watch system (not the guardian) gets the person's codes and shows them to the person
    body, headers = signed(secret, key_id, {"person_id": "S-42"})
    r = await client.post("/community/api/watch/codes", data=body, headers=headers)
    pending = {p["guardian"]: p["code"] for p in (await r.json())["pending"]}
    assert r.status == 200 and mother_gid in pending and len(pending) == 3
    assert (await client.post("/community/watch/confirm", data={"code": pending[mother_gid]})).status == 200
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


async def test_a_guardian_cannot_confirm_their_own_registration(cm, aiohttp_client):
    hub = cm.alerts.hub
    key_id, secret = hub.users.add_api_key(SYSTEM, "13219", "見守り端末", "watch")
    other_key, other_secret = hub.users.add_api_key(SYSTEM, "37201", "高松の端末", "watch")
    client = await aiohttp_client(public_app(hub))
    guardian = resident(cm, "self@example.jp", topics=["weather"])
    t = token_of(cm, guardian)
    r = await client.post("/community/13219/watch/register", data={"t": t, "person_id": "S-7", "label": "じろう"})
    assert r.status == 201 and set(await r.json()) == {"guardian"}      # no code for the guardian
    gid = (await r.json())["guardian"]
    page = await (await client.get(f"/community/13219/me?t={t}", headers={"Accept": "text/html",
                                                                         "Accept-Language": "en"})).text()
    assert "waiting for confirmation by the person or the school" in page and 'id="watch-code"' not in page

    with pytest.raises(Forbidden):                               # residents and staff cannot fetch codes
        cm.watch.issue_codes(cm.towns["komae_admin"], "S-7")
    body, headers = signed(other_secret, other_key, {"person_id": "S-7"})  # another town's terminal
    assert (await (await client.post("/community/api/watch/codes", data=body, headers=headers)).json())[
        "pending"] == []
    body, headers = signed(secret, key_id, {"person_id": "S-7"})
    answer = await (await client.post("/community/api/watch/codes", data=body, headers=headers)).json()
    (item,) = answer["pending"]
    assert item["guardian"] == gid and item["label"] == "じろう"
    assert answer["confirm_url"].endswith("/community/watch/confirm")     # what the terminal shows the person

    # even holding the code, the guardian's own settings link (form or cookie) is refused
    r = await client.post("/community/watch/confirm", data={"code": item["code"], "t": t})
    assert r.status == 403
    r = await client.post("/community/watch/confirm", data={"code": item["code"]}, cookies={"mh_resident": t})
    assert r.status == 403
    assert cm.watch.mine(guardian, "13219")[0]["confirmed"] is None
    r = await client.post("/community/watch/confirm", data={"code": item["code"]})
    assert r.status == 200 and cm.watch.mine(guardian, "13219")[0]["confirmed_by"] == "person"


def test_watch_codes_are_unique_across_towns(cm):
    """Codes are 8 digits for every town: two open registrations can never hold the same one."""
    a = cm.watch.register(resident(cm, "a@example.jp"), "13219", "S-1")
    b = cm.watch.register(resident(cm, "b@example.jp"), "37201", "S-2")   # a registration in another town
    komae = Principal(actor="api:gate", tenant_code="13219", purpose="watch")
    (item,) = cm.watch.issue_codes(komae, "S-1")
    with pytest.raises(Exception), cm.alerts.db.transaction() as tx:  # noqa: B017 - the store's integrity error
        tx.execute("UPDATE cm_watch_guardians SET code_hash = ? WHERE id = ?", (cm.watch._code(item["code"]), b))
    (again,) = cm.watch.issue_codes(komae, "S-1")                  # issuing again replaces the old code
    with pytest.raises(NotFound):
        cm.watch.confirm_by_person(item["code"])
    cm.watch.confirm_by_person(again["code"])
    assert [g["id"] for g in cm.watch.guardians(cm.towns["komae_admin"], "13219") if g["confirmed"]] == [a]
