"""The police/school liaison API (HMAC-signed, API key purpose 'liaison'): a bad key, a bad signature, another
purpose's key and a bad body are refused and store nothing; a good call files a report that waits for a staff
approver, and nothing is public (map layer, mail) before that approval."""
from __future__ import annotations

from machihub.principal import SYSTEM
from tests.community.conftest import public_app, residents, signed

REPORT = {"occurred": "2026-05-12T07:40:00+09:00", "lat": 35.637363, "lon": 139.577442,
          "what": "下校中の児童に声かけ。通報者 03-1234-5678", "person": "黒い上着の男", "follow_up": "見守りを強化"}


def _reports(cm) -> int:
    with cm.alerts.db.transaction() as tx:
        return int(tx.scalar("SELECT count(*) FROM cm_reports"))


async def test_liaison_key_files_a_pending_report_only(cm, smtp, aiohttp_client):
    hub = cm.alerts.hub
    key_id, secret = hub.users.add_api_key(SYSTEM, "13219", "狛江警察署", "liaison")
    ils_id, ils_secret = hub.users.add_api_key(SYSTEM, "13219", "ILS", "ils")
    residents(cm, [{"email": "home@example.jp", "topics": ["crime"], "areas": [{"kind": "chome", "name": "和泉本町一丁目"}]}])
    client = await aiohttp_client(public_app(hub))

    body, headers = signed(secret, key_id, REPORT)
    refused = [
        ({**headers, "X-Machihub-Key": "unknown"}, body, 401),
        ({**headers, "X-Machihub-Signature": "ab" * 32}, body, 401),
        ({**headers}, body.replace(b"139.577442", b"139.577443"), 401),           # tampered after signing
        (signed(ils_secret, ils_id, REPORT)[1], body, 403),                        # a key for another purpose
        (signed(secret, key_id, "not json")[1], b"not json", 400),
        (signed(secret, key_id, [1, 2])[1], b"[1, 2]", 400),
        (signed(secret, key_id, {**REPORT, "lat": "north"})[1], signed(secret, key_id, {**REPORT, "lat": "north"})[0], 400),
        (signed(secret, key_id, {**REPORT, "what": ""})[1], signed(secret, key_id, {**REPORT, "what": ""})[0], 400),
    ]
    for h, b, status in refused:
        r = await client.post("/community/api/reports", data=b, headers=h)
        assert r.status == status, (status, await r.text())
    assert _reports(cm) == 0

    r = await client.post("/community/api/reports", data=body, headers=headers)
    assert r.status == 201
    rid = (await r.json())["id"]
    report = cm.reports.get(rid)
    assert report.state == "pending" and report.filed_by == f"api:{key_id}"
    assert [f.kind for f in report.findings] == ["phone"]
    assert [r.id for r in cm.reports.pending("13219")] == [rid]

    layer = await (await client.get("/community/13219/reports.geojson")).json()
    assert layer["features"] == []                                          # nothing public before approval
    listing = await (await client.get("/community/13219/reports", headers={"Accept": "text/html"})).text()
    assert "声かけ" not in listing
    await cm.alerts.run_worker("test", until_idle=True)
    assert smtp.received == []

    cm.reports.decide(cm.towns["approver"], rid, {0: "remove"})
    cm.reports.approve(cm.towns["approver"], rid)
    layer = await (await client.get("/community/13219/reports.geojson?as=points")).json()
    (feat,) = layer["features"]
    assert feat["geometry"]["type"] == "Point" and "03-1234-5678" not in feat["properties"]["what"]
    assert feat["geometry"]["coordinates"] != [REPORT["lon"], REPORT["lat"]]
    listing = await (await client.get("/community/13219/reports", headers={"Accept": "text/html"})).text()
    assert "和泉本町一丁目" in listing and "03-1234-5678" not in listing
    await cm.alerts.run_worker("test", until_idle=True)
    assert [a for m in smtp.received for a in m.rcpt_tos] == ["home@example.jp"]
