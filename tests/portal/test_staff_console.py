"""The staff console over HTTP: login, the layer dashboard, import with a progress job, history, diff,
rollback and publishing through the forms (CSRF-protected), and the audit page."""
from __future__ import annotations

import asyncio
import re

from aiohttp import FormData

from machihub.principal import SYSTEM
from portal.staff_app import make_staff_app
from tests.conftest import DATA


async def _login(client, user, password):
    r = await client.post("/login", data={"username": user, "password": password}, allow_redirects=False)
    assert r.status == 303, await r.text()
    page = await (await client.get("/", headers={"Accept": "text/html"})).text()
    return page, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def test_console_flow(aiohttp_client, hub, towns):
    hub.settings = hub.settings.replace(cookie_secure=False)
    client = await aiohttp_client(make_staff_app(hub))
    r = await client.get("/", headers={"Accept": "text/html"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/login")
    r = await client.post("/login", data={"username": "sato", "password": "wrong password"})
    assert r.status == 401 and "wrong" in await r.text()

    page, csrf = await _login(client, "sato", towns["password"])
    assert "危機管理課" in page
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("layer", "aed")
    form.add_field("name", "AED")
    form.add_field("classification", "internal")
    form.add_field("file", (DATA / "gis" / "takamatsu" / "aed_location.csv").read_bytes(), filename="aed.csv")
    r = await client.post("/import", data=form, headers={"Accept": "application/json"})
    assert r.status == 202
    job = (await r.json())["job"]
    for _ in range(200):
        state = await (await client.get(f"/jobs/{job}")).json()
        if state["state"] != "running":
            break
        await asyncio.sleep(0.1)
    assert state["state"] == "done" and state["layer"] == "aed_37201" and state["percent"] == 100
    assert hub.layers.count("aed_37201", SYSTEM) == 455

    layer_page = await (await client.get("/layers/aed_37201", headers={"Accept": "text/html"})).text()
    assert "r1" in layer_page and 'data-editable="true"' in layer_page
    f = hub.layers.features("aed_37201", SYSTEM, limit=1)[0]
    hub.layers.update_feature(towns["bousai_editor"].principal(), "aed_37201", f.fid, base_version=1,
                              properties={"name": "変更"})
    diff_page = await (await client.get("/layers/aed_37201?from=1&to=2", headers={"Accept": "text/html"})).text()
    assert f"changed #{f.fid} (name)" in diff_page

    r = await client.post("/layers/aed_37201/rollback", data={"rev": "1"})  # no CSRF token
    assert r.status == 403
    r = await client.post("/layers/aed_37201/rollback", data={"rev": "1", "csrf_token": csrf}, allow_redirects=False)
    assert r.status == 303
    assert hub.layers.get_feature("aed_37201", f.fid, SYSTEM).properties["name"] == f.properties["name"]
    r = await client.post("/layers/aed_37201/classification", data={"classification": "public", "csrf_token": csrf},
                          allow_redirects=False)
    assert r.status == 303 and hub.layers.get_layer("aed_37201", None).classification == "public"

    # a failed import reports why and leaves nothing behind
    bad = FormData()
    bad.add_field("csrf_token", csrf)
    bad.add_field("layer", "broken")
    bad.add_field("file", b"PK\x03\x04garbage", filename="broken.zip")
    job = (await (await client.post("/import", data=bad, headers={"Accept": "application/json"})).json())["job"]
    for _ in range(200):
        state = await (await client.get(f"/jobs/{job}")).json()
        if state["state"] != "running":
            break
        await asyncio.sleep(0.1)
    assert state["state"] == "failed" and "zip" in state["message"]
    assert "broken_37201" not in [la.key for la in hub.layers.list_layers(SYSTEM)]


async def test_audit_page_is_for_auditors_and_admins(aiohttp_client, hub, towns):
    hub.settings = hub.settings.replace(cookie_secure=False)
    client = await aiohttp_client(make_staff_app(hub))
    await _login(client, "sato", towns["password"])
    assert (await client.get("/audit")).status == 403
    client2 = await aiohttp_client(make_staff_app(hub))
    await _login(client2, "admin37201", towns["password"])
    page = await (await client2.get("/audit", headers={"Accept": "text/html"})).text()
    assert "<td>user:sato</td><td>login</td>" in page  # the auditor sees who logged in
    assert "<strong>" not in page.split("<h1>")[1].split("</p>")[0]  # the chain is reported intact, not broken
