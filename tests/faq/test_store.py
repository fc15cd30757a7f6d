"""faq.store on both stores (SQLite and PostGIS): entries, versions, the shared prefecture pool with local
overrides, visibility, rich-text cleaning, permissions, import/export, inquiries, votes and the report, and the
audit trail. Lexical-only search here (the fused search has its own contract test in test_store_search.py)."""
from __future__ import annotations

import json

import pytest

from faq.richtext import plain_text, sanitize
from faq.store_io import export_csv, export_json, import_entries
from machihub.errors import Conflict, Forbidden, Invalid, NotFound
from machihub.principal import SYSTEM, Principal


@pytest.fixture
def faq(hub, towns):
    hub.faq.configure_search(encoder=None)
    f = hub.faq
    shared = f.create(SYSTEM, "37", {"question": "ごみの分別方法を知りたい", "answer": "燃やすごみと資源ごみに分けます。",
                                     "categories": "ごみ; くらし", "alert_topics": ["weather"]}, ref="gomi")
    bulky = f.create(SYSTEM, "37", {"question": "粗大ゴミの出し方", "answer": "電話で申し込んでください。"}, ref="sodai")
    local = f.create(towns["admin"].principal(), "37201",
                     {"question": "国民健康保険の加入手続き", "answer": "市民課で手続きします。", "visibility": "staff",
                      "department_id": towns["kenko"].id}, ref="kokuho")
    return {"shared": shared, "bulky": bulky, "local": local, **towns}


def test_rich_text_keeps_the_whitelist_and_drops_scripts():
    html = sanitize('<p onclick="x()">詳しくは<a href="https://www.city.example.jp/a?b=1&c=2" target=_blank>こちら</a>'
                    '<script>alert(1)</script><a href="javascript:alert(1)">危険</a><a href=" jav&#x09;ascript:x">x</a>'
                    '<img src=x onerror=alert(1)><iframe src="https://evil.example">中身</iframe><ul><li>一<li>二</ul>')
    assert html == ('<p>詳しくは<a href="https://www.city.example.jp/a?b=1&amp;c=2" rel="noopener noreferrer">こちら</a>'
                    '<a>危険</a><a>x</a></p><ul><li>一</li><li>二</li></ul>')
    assert sanitize("一行目\n二行目\n\n詳細 https://example.jp/x") == (
        '<p>一行目<br>二行目</p><p>詳細 <a href="https://example.jp/x" rel="noopener noreferrer">https://example.jp/x</a></p>')
    assert sanitize("<b>太字") == "<b>太字</b>"  # unclosed tags are closed
    assert plain_text(html) == "詳しくはこちら危険x\n一\n二"


def test_versions_history_restore_and_stale_edits(hub, faq):
    admin = faq["admin"].principal()
    e = faq["local"]
    v2 = hub.faq.update(admin, e.id, {**e.content(), "answer": "<p>市民課か支所で手続きします。</p>"}, e.version, "支所を追加")
    assert v2.version == 2 and "支所" in v2.answer
    with pytest.raises(Conflict) as stale:
        hub.faq.update(admin, e.id, {**e.content(), "answer": "古い画面から"}, e.version)
    assert stale.value.details == {"stored_version": 2, "your_version": 1}
    retired = hub.faq.retire(admin, e.id, 2)
    assert retired.status == "retired" and hub.faq.search("37201", "国民健康保険", mode="lexical").hits == []
    restored = hub.faq.restore(admin, e.id, 2, 3)
    assert restored.status == "active" and restored.version == 4 and "支所" in restored.answer
    history = hub.faq.versions(e.id)
    assert [(v["version"], v["snapshot"]["status"]) for v in history] == [(4, "active"), (3, "retired"),
                                                                           (2, "active"), (1, "active")]
    assert history[2]["note"] == "支所を追加" and history[0]["actor"] == "user:admin37201"
    assert [h.entry.id for h in hub.faq.search("37201", "国保", mode="lexical").hits] == [e.id]
    actions = [a["action"] for a in hub.audit.entries(tenant="37201", limit=4)]
    assert actions == ["faq.restore", "faq.retire", "faq.update", "faq.create"]


def test_shared_pool_local_override_and_visibility(hub, faq):
    admin, f = faq["admin"].principal(), hub.faq
    public = {e.id for e in f.visible("37201", "public")}
    assert public == {faq["shared"].id, faq["bulky"].id}  # the staff-only entry is not public
    assert {e.id for e in f.visible("37201", "staff")} == public | {faq["local"].id}
    assert f.visible("13219", "staff") == []  # 狛江市 is in another prefecture's pool
    local = f.override(admin, "37201", faq["shared"].id)
    assert (local.tenant_code, local.overrides, local.ref, local.question) == ("37201", faq["shared"].id, "gomi",
                                                                               faq["shared"].question)
    with pytest.raises(Conflict):
        f.override(admin, "37201", faq["shared"].id)
    local = f.update(admin, local.id, {**local.content(), "answer": "高松市では月曜日と木曜日に収集します。"}, local.version)
    assert {e.id for e in f.visible("37201", "public")} == {local.id, faq["bulky"].id}
    assert f.for_tenant("37201", faq["shared"].id).id == local.id  # old links to the shared entry still work
    hit = f.search("37201", "分別", audience="public", mode="lexical").hits[0]
    assert hit.entry.id == local.id and "<mark>分別</mark>" in hit.question_html
    f.retire(admin, local.id, local.version)  # back to the shared answer
    assert f.for_tenant("37201", faq["shared"].id).id == faq["shared"].id
    again = f.override(admin, "37201", faq["shared"].id)
    assert again.id == local.id and again.status == "active"
    with pytest.raises(NotFound):
        f.for_tenant("37201", faq["local"].id, "public")


def test_who_may_write(hub, faq):
    f = faq
    bousai, kenko_cc, komae = (f[k].principal() for k in ("bousai_editor", "kenko_viewer", "komae_editor"))
    with pytest.raises(Forbidden):
        hub.faq.create(bousai, "37", {"question": "q", "answer": "a"})  # only admins write the shared pool
    with pytest.raises(Forbidden):
        hub.faq.update(bousai, f["local"].id, f["local"].content(), 1)  # 健康福祉課's entry
    with pytest.raises(Forbidden):
        hub.faq.update(komae, f["shared"].id, f["shared"].content(), 1)  # another prefecture
    own = hub.faq.create(bousai, "37201", {"question": "避難所の場所", "answer": "地図で確認できます。"})
    assert own.department_id == f["bousai"].id  # non-admins write for their own department
    with pytest.raises(Forbidden):
        hub.faq.create(bousai, "37201", {"question": "q", "answer": "a", "department_id": f["kenko"].id})
    with pytest.raises(Invalid):  # a department of another town
        hub.faq.create(f["admin"].principal(), "37201", {"question": "q", "answer": "a",
                                                          "department_id": f["komae_bousai"].id})
    hub.faq.update(kenko_cc, f["local"].id, {**f["local"].content(), "categories": ["国保"]}, 1)  # owner department
    for bad, message in [({"question": "", "answer": "a"}, "question is empty"),
                         ({"question": "q", "answer": "<script>x</script>"}, "answer is empty"),
                         ({"question": "q", "answer": "a", "visibility": "secret"}, "visibility"),
                         ({"question": "q", "answer": "a", "review_date": "来月"}, "YYYY-MM-DD"),
                         ({"question": "q", "answer": "a", "layers": "Shelters!"}, "layer keys")]:
        with pytest.raises(Invalid, match=message):
            hub.faq.create(SYSTEM, "37201", bad)


CSV = ("番号,質問,回答,カテゴリ,担当課,公開範囲,見直し日,地図レイヤ,警報区分,上書き元\r\n"
       "hinan,避難所はどこ？,地図ページで確認できます。,防災; 避難,bousai,public,2027-03-31,"
       "evacuation_shelters_37201,evacuation; weather,\r\n"
       "gomi-local,\"=HYPERLINK(\"\"http://evil\"\",\"\"ごみの出し方\"\")\",月曜と木曜です。,@ごみ,,public,,,,gomi\r\n")


def test_import_csv_cp932_and_utf8_round_trip(hub, faq):
    admin = faq["admin"].principal()
    result = import_entries(hub.faq, admin, "37201", CSV.encode("cp932"), "faq.csv")
    assert (result.format, result.encoding, result.created, result.updated) == ("csv", "cp932", 2, 0)
    hinan = hub.faq.find("37201", "hinan")
    assert hinan.department_id == faq["bousai"].id and hinan.alert_topics == ("evacuation", "weather")
    assert hinan.layers == ("evacuation_shelters_37201",) and hinan.review_date == "2027-03-31"
    assert hub.faq.find("37201", "gomi-local").overrides == faq["shared"].id
    exported = export_csv(hub.faq, admin, "37201")
    assert exported.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens UTF-8 correctly
    text = exported.decode("utf-8-sig")
    assert "\"'=HYPERLINK" in text and ",'@ごみ," in text and ",=" not in text  # formulas neutralised
    assert ",bousai," in text and ",gomi\r\n" in text
    again = import_entries(hub.faq, admin, "37201", exported, "export.csv")  # the apostrophe comes off again
    assert (again.encoding, again.created, again.updated, again.unchanged) == ("utf-8", 0, 0, 3)
    cp932 = export_csv(hub.faq, admin, "37201", encoding="cp932")
    assert cp932.decode("cp932") == text
    edited = text.replace("地図ページで確認できます。", "地図ページと防災アプリで確認できます。")
    changed = import_entries(hub.faq, admin, "37201", edited.encode("cp932"), "edited.csv")
    assert (changed.updated, changed.unchanged) == (1, 2) and hub.faq.find("37201", "hinan").version == 2
    doc = json.loads(export_json(hub.faq, admin, "37201"))
    assert doc["format"] == "machihub-faq/1" and {e["ref"] for e in doc["entries"]} == {"kokuho", "hinan", "gomi-local"}
    assert import_entries(hub.faq, admin, "37201", json.dumps(doc).encode(), "x.json").unchanged == 3
    assert "faq.import" in [a["action"] for a in hub.audit.entries(tenant="37201", limit=10)]


def test_import_is_all_or_nothing_with_row_numbers(hub, faq):
    admin = faq["admin"].principal()
    before = len(hub.faq.owned("37201"))
    bad = ("ref,question,answer,department,visibility,overrides\n"
           "ok-1,正しい行,回答です,,public,\n"
           "bad 2,空白入りの番号,回答,,public,\n"
           ",質問だけ,,,public,\n"
           "ok-4,課が違う,回答,no-such-dept,public,\n"
           "ok-5,上書き元なし,回答,,everyone,\n"
           "ok-1,同じ番号,回答,,public,\n"
           "ok-7,存在しない共有,回答,,public,nothing\n")
    with pytest.raises(Invalid) as err:
        import_entries(hub.faq, admin, "37201", bad.encode(), "bad.csv")
    assert [d["row"] for d in err.value.details] == [3, 4, 5, 6, 7, 8]
    assert "nothing was imported" in err.value.message and len(hub.faq.owned("37201")) == before
    for data, message in [(b"\xff\xfeq\x00", "UTF-16 or binary"),
                          (b"question,answer\n\x81\x20,x", "neither UTF-8 nor Shift_JIS"), (b"question\nq\n", "needs question and answer"),
                          (b'{"entries": 3}', "list of entries"), (b"[{]", "JSON cannot be read")]:
        with pytest.raises(Invalid, match=message):
            import_entries(hub.faq, admin, "37201", data, "x")
    with pytest.raises(Forbidden):
        import_entries(hub.faq, faq["bousai_editor"].principal(), "37201", CSV.encode(), "x.csv")
    with pytest.raises(Forbidden):
        export_csv(hub.faq, faq["komae_editor"].principal(), "37201")
    emoji = hub.faq.create(admin, "37201", {"question": "絵文字🙂の質問", "answer": "回答"}, ref="emoji")
    with pytest.raises(Invalid, match="emoji"):
        export_csv(hub.faq, admin, "37201", encoding="cp932")
    assert emoji.question in export_csv(hub.faq, admin, "37201").decode("utf-8-sig")


def test_inquiries_escalations_votes_and_report(hub, faq):
    cc = faq["kenko_viewer"].principal()  # call center role, 健康福祉課
    log = hub.faq.inquiries
    answered = log.log(cc, channel="phone", entry_id=faq["shared"].id, query="ごみ　分別 ", matched=2)  # NFKC: the full-width space
    assert (answered.status, answered.category, answered.query) == ("answered", "ごみ", "ごみ 分別")
    esc = log.log(cc, channel="mail", query="犬の登録をしたい", matched=0, department_id=faq["bousai"].id,
                  note="折り返し希望 090-xxxx")
    log.log(cc, channel="counter", query="犬の登録をしたい", matched=0)
    log.public_search("37201", "ペットの登録", 0, None)
    log.public_search("37201", "ごみ 分別", 3, faq["shared"].id)
    log.vote("37201", faq["shared"].id, True)
    log.vote("37201", faq["bulky"].id, False)
    with pytest.raises(NotFound):
        log.vote("37201", faq["local"].id, True)  # staff-only entries get no public votes
    with pytest.raises(Forbidden):
        log.log(faq["bousai_editor"].principal(), channel="phone", query="x")
    with pytest.raises(Invalid):
        log.log(cc, channel="fax", query="x")
    with pytest.raises(NotFound):
        komae_cc = Principal(actor="user:komae-cc", tenant_code="13219", roles=frozenset({"call_center"}))
        log.log(komae_cc, channel="phone", entry_id=faq["local"].id)  # another town's entry

    bousai = faq["bousai_editor"].principal()
    assert [i.id for i in log.escalations(bousai)] == [esc.id]
    assert log.escalations(faq["doboku_editor"].principal()) == []
    with pytest.raises(Forbidden):
        log.close(faq["doboku_editor"].principal(), esc.id)
    assert log.close(bousai, esc.id, "電話で回答済み").status == "closed"
    assert log.escalations(bousai) == [] and log.escalations(bousai, include_closed=True)[0].close_note == "電話で回答済み"

    report = log.report(cc)
    assert report["totals"] == {"inquiries": 3, "escalated": 1, "searches": 5, "no_match": 3, "helpful": 1,
                                "not_helpful": 1}
    assert report["top_entries"] == [{"entry_id": faq["shared"].id, "question": "ごみの分別方法を知りたい", "n": 1}]
    assert report["top_queries"][:2] == [{"query": "ごみ 分別", "n": 2}, {"query": "犬の登録をしたい", "n": 2}]
    assert [r["query"] for r in report["no_match"]] == ["犬の登録をしたい", "ペットの登録"]
    assert report["without_faq"] == [{"query": "犬の登録をしたい", "category": "", "n": 2}]
    assert {c["channel"]: c["n"] for c in report["channels"]} == {"phone": 1, "mail": 1, "counter": 1}
    assert [(v["entry_id"], v["not_helpful"]) for v in report["votes"]] == [(faq["bulky"].id, 1), (faq["shared"].id, 0)]
    assert len(report["days"]) == 1 and report["days"][0]["day"] == log.today()
    assert log.report(cc, start="2000-01-01", end="2000-01-31")["totals"]["inquiries"] == 0
    with pytest.raises(Forbidden):
        log.report(bousai)
    actions = [a["action"] for a in hub.audit.entries(tenant="37201", limit=4)]
    assert actions == ["faq.escalation_close", "faq.inquiry", "faq.inquiry", "faq.inquiry"]
    assert hub.audit.verify().ok


def test_demo_faq_is_our_own_and_loads(hub, towns):
    """The demo set is written for the project (no entry of the shared test corpus) and imports cleanly."""
    from faq.demo import DEMO, load_demo_faq
    from tests.conftest import DATA

    hub.faq.configure_search(encoder=None)
    for tenant, code in [("37201", "kikikanri"), ("37201", "toshokan"), ("37201", "doro"), ("37201", "kohocho"),
                         ("13219", "anshin")]:  # the demo's department codes
        hub.tenants.add_department(SYSTEM, tenant, code, f"{code} ({tenant})")
    lines = list(load_demo_faq(hub, warm=False))
    assert lines[0].startswith("FAQ 37: 15 new") and len(hub.faq.visible("37201", "staff")) == 25
    assert list(load_demo_faq(hub, warm=False))[1].startswith("FAQ 37201: 0 new, 0 updated, 11 unchanged")
    corpus = DATA / "faq" / "corpus.json"
    if corpus.exists():
        theirs = {e["question"] for e in json.loads(corpus.read_text(encoding="utf-8"))}
        ours = {e["question"] for s in json.loads(DEMO.read_text(encoding="utf-8"))["sets"] for e in s["entries"]}
        assert not ours & theirs
    assert [h.entry.ref for h in hub.faq.search("37201", "津波", audience="public", mode="lexical").hits][:1] == [
        "tsunami-hinan"]
