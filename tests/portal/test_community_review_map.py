"""The staff review page of a suspicious-person report in real Chromium: its map (vendored Leaflet, no base map)
draws the generalised area the public will see and the public point, with no script error — for a report
generalised to its 町丁目 and for one generalised to a grid cell. Its radio buttons sit inline with their labels."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from community import build_community
from machihub.principal import SYSTEM
from portal.staff_app import make_staff_app
from tests.alerts.conftest import dispatcher, smtp  # noqa: F401 - the real SMTP server fixture
from tests.conftest import make_hub, seed_towns
from tests.portal.conftest import LiveServer, loopback_only

pytestmark = pytest.mark.browser
EXACT = (35.637363, 139.577442)  # an address point of 和泉本町一丁目 (狛江市)


@pytest.fixture
def staff(tmp_path, smtp):  # noqa: F811
    hub = make_hub(f"sqlite:///{tmp_path}/hub.gpkg", tmp_path, cookie_secure=False, tile_url="")
    towns = seed_towns(hub)
    dispatcher(hub, towns, smtp)
    hub.tenants.add(SYSTEM, "13219", "狛江市", name_en="Komae", prefecture="東京都",
                    boundary=hub.alerts.areas.town("13219").geom)
    hub.community = build_community(hub)
    server = LiveServer([make_staff_app(hub)]).start()
    yield hub, server
    server.stop()
    hub.close()


def _file(hub, mode: str) -> int:
    reports = hub.community.reports
    reports.config = dataclasses.replace(reports.config, generalise=mode)
    composer = hub.users.login("komae_composer", "correct horse battery").user.principal()
    occurred = datetime.now(UTC).replace(microsecond=0)
    return reports.file(composer, "13219", occurred=occurred, lat=EXACT[0], lon=EXACT[1], what="男が声をかけた。目撃者の電話 090-1234-5678")


@pytest.mark.parametrize("mode", ["chome", "grid"])
def test_review_map_draws_area_and_point(browser, staff, mode):
    hub, server = staff
    rid = _file(hub, mode)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    blocked = loopback_only(ctx)
    page = ctx.new_page()
    page.set_default_timeout(20000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url()}/login?next=/community/reports/{rid}")
    page.fill("#username", "komae_approver")
    page.fill("#password", "correct horse battery")
    page.click("form[action=\"/login\"] button[type=submit]")
    page.wait_for_url(f"**/community/reports/{rid}")
    page.wait_for_selector("#cm-map.leaflet-container")
    page.wait_for_selector("#cm-map path", state="attached")
    drawn = page.evaluate("""() => {
        const m = window.MACHIHUB_CM_MAP, out = {polygons: 0, points: []};
        m.eachLayer(l => {
            if (l instanceof L.Polygon) out.polygons += 1;
            else if (l instanceof L.CircleMarker) out.points.push([l.getLatLng().lat, l.getLatLng().lng]);
        });
        const b = m.getBounds();
        out.inView = out.points.every(p => b.contains(p));
        out.zoom = m.getZoom();
        return out; }""")
    assert errors == []
    assert drawn["polygons"] == 1                  # the generalised area (町丁目 or grid cell)
    places = hub.community.reports.places(rid)
    assert places["public_point"] in [pytest.approx(p, abs=1e-6) for p in drawn["points"]]
    assert len(drawn["points"]) == 2               # the public point and the exact one (staff only)
    assert drawn["inView"] and drawn["zoom"] >= 12
    # the keep/remove radio buttons sit on their label's line, small, not as tall boxes of their own (site.css)
    radio, label = page.locator("#f0-remove").bounding_box(), page.locator("label[for=f0-remove]").bounding_box()
    assert radio["height"] < 30 and radio["x"] < label["x"]
    assert label["y"] <= radio["y"] + radio["height"] / 2 <= label["y"] + label["height"]
    assert blocked == []
    ctx.close()
