"""The FAQ over HTTP on both stores: public list/search/entry/"Was this helpful?", and the staff side —
console search as JSON, inquiry logging (JSON with the CSRF header, or the form), escalations, the report,
editing with history, import errors with row numbers, export, and alerts in force pinned in the console."""
from __future__ import annotations

import re

import pytest
from aiohttp import FormData

from machihub.principal import SYSTEM
from portal.public_app import make_public_app
from portal.staff_app import make_staff_app
from tests.alerts.conftest import al, chome_alert, send, smtp  # noqa: F401  (fixtures)


@pytest.fixture
def faq(hub, towns):
    hub.faq.configure_search(encoder=None)
    admin = towns["admin"].principal()
    shared = hub.faq.create(SYSTEM, "37", {"question": "ごみの分別方法を知りたい", "answer": "<p>燃やすごみと資源ごみ。</p>",
                                           "categories": "ごみ"}, ref="gomi")
    public = hub.faq.create(admin, "37201", {"question": "近くの避難所はどこですか？", "answer": "地図で確認できます。",
                                             "categories": "防災", "alert_topics": ["evacuation"]}, ref="hinan")
    staff = hub.faq.create(admin, "37201", {"question": "避難所開設の職員向け手順", "answer": "本部の一覧で回答する。",
                                            "visibility": "staff"}, ref="hinan-staff")
    hub.settings = hub.settings.replace(cookie_secure=False)
    return {"shared": shared, "public": public, "staff": staff, **towns}


async def _login(client, user, password, page="/faq"):
    r = await client.post("/login", data={"username": user, "password": password}, allow_redirects=False)
    assert r.status == 303, await r.text()
    html = await (await client.get(page, headers={"Accept": "text/html"})).text()
    return html, re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def test_public_pages(aiohttp_client, hub, faq):
    client = await aiohttp_client(make_public_app(hub))
    town = await (await client.get("/37201/?lang=ja")).text()  # residents reach the FAQ and feeds from the map
    links = set(re.findall(r'(?:href|action)="(/37201/(?:faq|feeds)[^"]*)"', town))
    assert {"/37201/faq", "/37201/faq?lang=ja", "/37201/feeds/rss.xml?lang=ja", "/37201/feeds/atom.xml?lang=ja",
            "/37201/feeds/cap.xml"} <= links
    for link in links:
        assert (await client.get(link.replace("&amp;", "&"))).status == 200, link
    html = await (await client.get("/37201/faq?lang=ja")).text()
    assert "ごみの分別方法を知りたい" in html and "近くの避難所" in html and "職員向け" not in html
    found = await (await client.get("/37201/faq?q=避難所&lang=en")).text()
    assert '<mark>避難所</mark>' in found and "職員向け" not in found and 'lang="en"' in found
    assert (await client.get(f"/37201/faq/{faq['staff'].id}")).status == 404  # staff only
    assert (await client.get(f"/13219/faq/{faq['shared'].id}")).status == 404  # another prefecture
    entry = await (await client.get(f"/37201/faq/{faq['shared'].id}?lang=ja")).text()
    assert "<p>燃やすごみと資源ごみ。</p>" in entry and 'name="helpful" value="yes"' in entry
    r = await client.post(f"/37201/faq/{faq['shared'].id}/helpful", data={"helpful": "no"}, allow_redirects=False)
    assert r.status == 303 and "voted=no" in r.headers["Location"]
    assert (await client.post(f"/37201/faq/{faq['shared'].id}/helpful", data={"helpful": "maybe"})).status == 400
    data = await (await client.get("/api/37201/faq/search?q=ゴミ")).json()
    assert data["hits"][0]["id"] == faq["shared"].id and data["matched"] == 1
    report = hub.faq.inquiries.report(faq["kenko_viewer"].principal())
    assert report["totals"]["not_helpful"] == 1 and report["totals"]["searches"] == 1  # the page search, not the API


async def test_console_search_log_escalate_and_report(aiohttp_client, hub, faq):
    client = await aiohttp_client(make_staff_app(hub))
    html, csrf = await _login(client, "takahashi", faq["password"])  # call center, 健康福祉課
    assert 'id="alerts-h"' in html and 'id="faq-q"' in html and "/static/faq_console.js" in html
    data = await (await client.get("/faq/api/search?q=避難所")).json()
    assert {h["id"] for h in data["hits"]} >= {faq["public"].id, faq["staff"].id}  # staff see staff-only ones
    assert "<mark>避難所</mark>" in data["hits"][0]["question_html"]
    r = await client.post("/faq/inquiries", json={"entry_id": faq["public"].id, "channel": "phone", "query": "避難所",
                                                  "matched": data["matched"]})
    assert r.status == 403  # no CSRF header
    r = await client.post("/faq/inquiries", json={"entry_id": faq["public"].id, "channel": "phone", "query": "避難所",
                                                  "matched": data["matched"]}, headers={"X-CSRF-Token": csrf})
    assert r.status == 200 and (await r.json())["status"] == "answered"
    r = await client.post("/faq/inquiries", data={"csrf_token": csrf, "channel": "mail", "query": "犬の登録",
                                                  "matched": "0", "department_id": str(faq["bousai"].id),
                                                  "note": "折り返し希望", "next": "/faq"}, allow_redirects=False)
    assert r.status == 303 and "/faq?logged=" in r.headers["Location"]
    bad = await client.post("/faq/inquiries", json={"channel": "fax"}, headers={"X-CSRF-Token": csrf})
    assert bad.status == 400 and "channel" in (await bad.json())["message"]
    report = await (await client.get("/faq/report", headers={"Accept": "text/html"})).text()
    assert re.search(r'id="total-inquiries">2<', report) and "近くの避難所はどこですか？" in report and "犬の登録" in report

    other = await aiohttp_client(make_staff_app(hub))
    esc_html, csrf2 = await _login(other, "sato", faq["password"], "/faq/escalations")  # 危機管理課
    assert "折り返し希望" in esc_html
    iid = re.search(r"/faq/inquiries/(\d+)/close", esc_html).group(1)
    r = await other.post(f"/faq/inquiries/{iid}/close", data={"csrf_token": csrf2, "note": "回答済み"},
                         allow_redirects=False)
    assert r.status == 303 and hub.faq.inquiries.get(int(iid)).status == "closed"
    assert (await other.get("/faq/report")).status == 403  # not the call center
    actions = [a["action"] for a in hub.audit.entries(tenant="37201", limit=10) if a["action"].startswith("faq.")]
    assert actions[:3] == ["faq.escalation_close", "faq.inquiry", "faq.inquiry"]


async def test_edit_history_import_and_export(aiohttp_client, hub, faq):
    client = await aiohttp_client(make_staff_app(hub))
    page, csrf = await _login(client, "admin37201", faq["password"], f"/faq/entries/{faq['public'].id}")
    assert 'name="version" value="1"' in page
    form = {"csrf_token": csrf, "version": "1", "question": "近くの避難所はどこですか？",
            "answer": "<p>地図で確認できます。<script>alert(1)</script></p>", "categories": "防災; 避難",
            "visibility": "public", "review_date": "2027-03-31", "layers": "", "note": "カテゴリ追加"}
    r = await client.post(f"/faq/entries/{faq['public'].id}", data=form, allow_redirects=False)
    assert r.status == 303
    updated = hub.faq.get(faq["public"].id)
    assert updated.version == 2 and updated.categories == ("防災", "避難") and "script" not in updated.answer
    stale = await client.post(f"/faq/entries/{faq['public'].id}", data=form)  # version 1 again
    assert stale.status == 409
    r = await client.post(f"/faq/entries/{faq['shared'].id}/override", data={"csrf_token": csrf}, allow_redirects=False)
    local = hub.faq.find("37201", "gomi")
    assert r.status == 303 and r.headers["Location"] == f"/faq/entries/{local.id}" and local.overrides == faq["shared"].id
    shared_page = await (await client.get(f"/faq/entries/{faq['shared'].id}")).text()
    assert f'href="/faq/entries/{local.id}"' in shared_page and "/override" not in shared_page
    r = await client.post(f"/faq/entries/{local.id}/retire", data={"csrf_token": csrf, "version": "1"},
                          allow_redirects=False)
    retired_page = await (await client.get(f"/faq/entries/{local.id}")).text()  # staff still reach it, to restore
    assert r.status == 303 and "/restore" in retired_page and 'id="entry-log"' not in retired_page
    assert (await client.post(f"/faq/entries/{local.id}/retire", data={"csrf_token": csrf, "version": "x"})).status == 400
    bad_json = await client.post("/faq/inquiries", data=b"{not json", headers={"X-CSRF-Token": csrf,
                                                                               "Content-Type": "application/json"})
    assert bad_json.status == 400

    upload = FormData()
    upload.add_field("csrf_token", csrf)
    upload.add_field("file", "ref,question,answer\nok,質問,回答\nbad ref,質問,回答\nok2,,回答\n".encode("cp932"),
                     filename="faq.csv", content_type="text/csv")
    r = await client.post("/faq/import", data=upload)
    html = await r.text()
    assert r.status == 400 and "nothing was imported" in html
    assert "FAQ id &#39;bad ref&#39;" in html and "the question is empty" in html  # every row's problem
    assert hub.faq.find("37201", "ok") is None
    csv_body = await (await client.get("/faq/export.csv")).read()
    assert csv_body.startswith(b"\xef\xbb\xbfref,question") and "近くの避難所".encode() in csv_body
    good = FormData()
    good.add_field("csrf_token", csrf)
    good.add_field("file", csv_body.replace("地図で確認".encode(), "地図ページで確認".encode()), filename="faq.csv")
    assert (await client.post("/faq/import", data=good)).status == 200
    assert hub.faq.get(faq["public"].id).version == 3
    assert (await client.get("/faq/export.json?owner=37")).status == 200
    assert (await client.get("/faq/export.json?owner=13")).status == 403


async def test_alerts_in_force_pinned_in_the_console(aiohttp_client, al):  # noqa: F811
    hub = al.hub
    hub.faq.configure_search(encoder=None)
    hub.settings = hub.settings.replace(cookie_secure=False)
    komae = al.towns["komae_admin"]
    pinned = hub.faq.create(komae, "13219", {"question": "不審者を見かけたときの連絡先", "answer": "110番へ。",
                                             "alert_topics": ["crime"]})
    hub.faq.create(komae, "13219", {"question": "ごみの収集日", "answer": "カレンダーで確認。"})
    hub.users.add(SYSTEM, "13219", "komae_cc", "call center password", roles=["call_center"])
    send(al, chome_alert(severity="Severe", headline="不審者情報（和泉本町）"))
    send(al, chome_alert(status="Exercise", headline="訓練：不審者対応"))
    client = await aiohttp_client(make_staff_app(hub))
    html, _ = await _login(client, "komae_cc", "call center password")
    alerts = html.split('id="alerts-h"')[1].split("</section>")[0]
    assert "不審者情報（和泉本町）" in alerts and "訓練" not in alerts
    assert f"/faq/entries/{pinned.id}" in alerts and "ごみの収集日" not in alerts


async def test_linking_map_layers_from_the_form(aiohttp_client, hub, faq):
    import shapely

    from layers.model import FieldSpec, LayerSchema

    editor, schema = faq["bousai_editor"].principal(), LayerSchema((FieldSpec("name", required=True),))
    shelters = hub.layers.create_layer(editor, "37201", "hinanjo", "避難所", owner_department_id=faq["bousai"].id,
                                       geometry_type="Point", schema=schema, classification="public")
    secret = hub.layers.create_layer(editor, "37201", "naibu", "内部資料", owner_department_id=faq["bousai"].id,
                                     geometry_type="Point", schema=schema, classification="internal")
    hub.layers.add_features(editor, shelters.key, [(shapely.Point(134.05, 34.34), {"name": "中央公園"})])
    staff = await aiohttp_client(make_staff_app(hub))
    page, csrf = await _login(staff, "admin37201", faq["password"], f"/faq/entries/{faq['public'].id}")
    # the editor picks layers by name, not by typing keys
    assert f'name="layers" value="{shelters.key}"' in page and "避難所" in page
    form = {"csrf_token": csrf, "version": "1", "question": "近くの避難所はどこですか？", "answer": "地図で確認できます。",
            "visibility": "public", "note": "地図を追加"}
    body = FormData([*form.items(), ("layers", shelters.key), ("layers", secret.key)])
    assert (await staff.post(f"/faq/entries/{faq['public'].id}", data=body, allow_redirects=False)).status == 303
    assert hub.faq.get(faq["public"].id).layers == (shelters.key, secret.key)
    public = await aiohttp_client(make_public_app(hub))
    html = await (await public.get(f"/37201/faq/{faq['public'].id}?lang=ja")).text()
    assert f"/list/{shelters.key}" in html and secret.key not in html and "内部資料" not in html  # never leaks


async def test_no_word_match_is_said_not_hidden(aiohttp_client, hub, faq, tmp_path):
    """Meaning-only neighbours are offered, but the page says no entry contains the words (and the search is
    counted as one that found nothing: a candidate for a new FAQ entry)."""
    hub.faq.configure_search(encoder="default", cache_dir=tmp_path)
    client = await aiohttp_client(make_public_app(hub))
    html = await (await client.get("/37201/faq?q=ペットの火葬&lang=ja")).text()
    assert "この言葉を含むFAQはありません" in html and "<li>" in html
    found = await (await client.get("/37201/faq?q=避難所&lang=ja")).text()
    assert "この言葉を含むFAQはありません" not in found
    report = hub.faq.inquiries.report(faq["kenko_viewer"].principal())
    assert [r["query"] for r in report["no_match"]] == ["ペットの火葬"]
