"""不審者情報 end to end on both stores with a real SMTP server: file → personal-data check → approval by a
second person → mail to crime subscribers of the affected and neighbouring 町丁目 and the school group whose
district covers the point, no one else; the public layer shows only the generalised place and drops the
report after the configured period (time moved forward, never slept)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import shapely

from community.privacy import grid_cell
from machihub.errors import Conflict, Forbidden
from machihub.principal import SYSTEM
from tests.community.conftest import public_app, residents, work

POINT = (35.637363, 139.577442)  # an address point of 和泉本町一丁目 (狛江市)


def _neighbours(cm) -> tuple[str, str]:
    units = {u.name: u.geom for u in cm.alerts.areas.units("13219", "chome")}
    home = units["和泉本町一丁目"]
    near = sorted(n for n, g in units.items() if n != "和泉本町一丁目" and g.intersects(home.buffer(1e-6)))
    far = sorted(n for n, g in units.items() if not g.intersects(home.buffer(0.004)))
    return near[0], far[0]


def _population(cm) -> tuple[dict[str, int], set[str]]:
    near, far = _neighbours(cm)
    chome = lambda n: [{"kind": "chome", "name": n}]  # noqa: E731
    sids = residents(cm, [
        {"email": "home@example.jp", "topics": ["crime"], "areas": chome("和泉本町一丁目")},
        {"email": "near@example.jp", "topics": ["crime"], "areas": chome(near)},
        {"email": "far@example.jp", "topics": ["crime"], "areas": chome(far)},
        {"email": "weather@example.jp", "topics": ["weather"], "areas": chome("和泉本町一丁目")},
        {"email": "parent@example.jp", "topics": ["weather"], "areas": chome(far)},
        {"email": "otherschool@example.jp", "topics": ["weather"], "areas": chome(far)},
    ])
    t = cm.towns
    lat, lon = POINT
    district = shapely.box(lon - 0.003, lat - 0.003, lon + 0.003, lat + 0.003)
    cm.alerts.areas.add_zone(SYSTEM, "13219", "school", "和泉小学校区", district)
    cm.alerts.areas.add_zone(SYSTEM, "13219", "school", "遠い小学校区", shapely.box(lon + 0.02, lat + 0.02, lon + 0.03,
                                                                                   lat + 0.03))
    gid, code = cm.groups.create(t["komae_admin"], "13219", "和泉小PTA", sids["parent@example.jp"], kind="pta",
                                 private=True, area=("school", "和泉小学校区"))
    cm.groups.create(t["komae_admin"], "13219", "遠い小PTA", sids["otherschool@example.jp"], kind="pta",
                     area=("school", "遠い小学校区"))
    return sids, {"home@example.jp", "near@example.jp", "parent@example.jp"}


@pytest.mark.parametrize("mode", ["chome", "grid"])
def test_approved_report_reaches_right_people_generalised_and_expires(cm, smtp, mode):
    from dataclasses import replace

    cm.reports.config = replace(cm.reports.config, generalise=mode)
    t = cm.towns
    sids, expected = _population(cm)
    lat, lon = POINT
    rid = cm.reports.file(t["both"], "13219", occurred=datetime(2026, 5, 12, 7, 40, tzinfo=UTC), lat=lat, lon=lon,
                          what="下校中の山田花子さん（9歳）に男が声をかけた。保護者の電話 090-1234-5678",
                          person="40代くらいの男性、黒い上着", follow_up="警察がパトロールを強化しています。")
    report = cm.reports.get(rid)
    assert {f.kind for f in report.findings} == {"name", "age", "phone"}
    with pytest.raises(Forbidden):                                  # the filer cannot approve
        cm.reports.approve(t["both"], rid)
    with pytest.raises(Conflict):                                   # personal data still unchecked
        cm.reports.approve(t["approver"], rid)
    cm.reports.decide(t["approver"], rid, {i: ("keep" if f.kind == "age" else "remove")
                                           for i, f in enumerate(report.findings)})
    alert_id = cm.reports.approve(t["approver"], rid)
    assert alert_id
    work(cm)
    got = {a for r in smtp.received for a in r.rcpt_tos}
    assert got == expected                                          # nobody else
    for address in expected:
        assert len(smtp.to(address)) == 1
        message = smtp.to(address)[0].message
        text = message.get_body(("plain",)).get_content()
        assert "090-1234-5678" not in text and "山田花子" not in text and "9歳" in text
        assert "不審者情報" in str(message["Subject"]) and "和泉本町一丁目" in text

    layer = cm.reports.public_layer("13219")
    (feat,) = layer["features"]
    shape = shapely.geometry.shape(feat["geometry"])
    assert "lat" not in feat["properties"] and "090" not in feat["properties"]["what"]
    if mode == "chome":
        assert feat["properties"]["place"] == "和泉本町一丁目"
        assert shape.equals(cm.alerts.areas.unit("13219", "chome", "和泉本町一丁目").geom)
    else:
        assert shape.equals(grid_cell(lat, lon)) and 0.0008 < shape.bounds[3] - shape.bounds[1] < 0.001
    assert (feat["properties"]["label_lat"], feat["properties"]["label_lon"]) != POINT

    cm.alerts.clock.advance(timedelta(days=29))
    assert len(cm.reports.public_layer("13219")["features"]) == 1
    cm.alerts.clock.advance(timedelta(days=1, seconds=1))
    assert cm.reports.public_layer("13219")["features"] == []
    assert cm.tick()["points_forgotten"] == 1
    with cm.alerts.db.transaction() as tx:
        assert tx.one("SELECT lat, lon FROM cm_reports WHERE id = ?", (rid,)) != {"lat": lat, "lon": lon}


async def test_public_layer_over_http(cm, aiohttp_client):
    client = await aiohttp_client(public_app(cm.alerts.hub))
    r = await client.get("/community/13219/reports.geojson")
    assert r.status == 200 and (await r.json())["features"] == []


def _report_at(cm, occurred: datetime, what: str = "男が声をかけた。電話 090-1234-5678") -> int:
    lat, lon = POINT
    return cm.reports.file(cm.towns["komae_admin"], "13219", occurred=occurred, lat=lat, lon=lon, what=what,
                           person="山田太郎さん")


def test_occurred_is_kept_in_japan_time(cm):
    """22:40 UTC on 12 May is 07:40 on 13 May in Japan: the list date and staff times say so."""
    cm.alerts.clock.advance(datetime(2026, 5, 14, tzinfo=UTC) - cm.alerts.clock.now())
    rid = _report_at(cm, datetime.fromisoformat("2026-05-12T22:40:00+00:00"))
    assert cm.reports.get(rid).occurred == "2026-05-13T07:40:00+09:00"
    other = _report_at(cm, datetime.fromisoformat("2026-05-13T09:40:00+02:00"))
    assert cm.reports.get(other).occurred == "2026-05-13T16:40:00+09:00"
    decider = cm.towns["approver"]
    cm.reports.decide(decider, rid, {i: "remove" for i in range(len(cm.reports.get(rid).findings))})
    cm.reports.approve(decider, rid)
    (feat,) = cm.reports.public_layer("13219")["features"]
    assert feat["properties"]["date"] == "2026-05-13"


def test_rejected_reports_forget_the_point_and_personal_data(cm):
    lat, lon = POINT
    rid = _report_at(cm, cm.alerts.clock.now())
    cm.reports.reject(cm.towns["approver"], rid, "重複")
    days = cm.reports.config.public_days
    cm.alerts.clock.advance(timedelta(days=days - 1))
    assert cm.tick()["points_forgotten"] == 0                       # kept for the same period as approved ones
    cm.alerts.clock.advance(timedelta(days=1, seconds=1))
    assert cm.tick()["points_forgotten"] == 1
    assert cm.tick()["points_forgotten"] == 0
    with cm.alerts.db.transaction() as tx:
        row = tx.one("SELECT * FROM cm_reports WHERE id = ?", (rid,))
    assert (row["lat"], row["lon"]) != (lat, lon) and (row["lat"], row["lon"]) == (row["public_lat"], row["public_lon"])
    stored = row["what"] + row["person"] + row["findings"]
    assert "090-1234-5678" not in stored and "山田太郎" not in stored and "〇〇" in row["what"]
