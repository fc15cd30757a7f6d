"""The staff community pages in a real browser (Debian Chromium via Playwright, loopback only): a composer files
a suspicious-person report on the map form with a phone number in the text; an approver sees it flagged,
removes it, approves; the public map's recent-reports layer then shows the generalised point (never the exact
one) and the list alternative shows the text without the number. axe-core finds no WCAG 2.1 AA violation on
the new pages, and they fit a phone's width."""
from __future__ import annotations

import re

import pytest

from community import build_community
from machihub.principal import SYSTEM
from portal.public_app import make_public_app
from portal.staff_app import make_staff_app
from tests.alerts.conftest import dispatcher, smtp  # noqa: F401 - the real SMTP server fixture
from tests.conftest import make_hub, seed_towns
from tests.portal.conftest import LiveServer, loopback_only, run_axe

pytestmark = pytest.mark.browser
EXACT = (35.637363, 139.577442)  # an address point of 和泉本町一丁目 (狛江市)
PHONE = "090-1234-5678"


@pytest.fixture
def servers(tmp_path, smtp):  # noqa: F811
    # no base map, as on an LGWAN terminal: the point layers must still draw, and nothing leaves loopback
    hub = make_hub(f"sqlite:///{tmp_path}/hub.gpkg", tmp_path, cookie_secure=False, tile_url="")
    towns = seed_towns(hub)
    dispatcher(hub, towns, smtp)
    hub.tenants.add(SYSTEM, "13219", "狛江市", name_en="Komae", prefecture="東京都",  # its boundary frames the maps
                    boundary=hub.alerts.areas.town("13219").geom)
    hub.community = build_community(hub)
    server = LiveServer([make_public_app(hub), make_staff_app(hub)]).start()
    yield hub, server
    server.stop()
    hub.close()


def _login(browser, staff: str, user: str, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="ja-JP")
    blocked = loopback_only(context)
    page = context.new_page()
    page.set_default_timeout(20000)
    page.goto(f"{staff}/login?next=/community")
    page.fill("#username", user)
    page.fill("#password", "correct horse battery")
    page.click("form[action=\"/login\"] button[type=submit]")
    page.wait_for_url(f"{staff}/community")
    return context, page, blocked


def _no_violations(page, where: str) -> None:
    violations = run_axe(page)
    assert violations == [], f"{where}: {violations}"


def test_file_flag_remove_approve_and_public_point(browser, servers):
    hub, server = servers
    public, staff = server.url(0), server.url(1)

    ctx, page, blocked = _login(browser, staff, "komae_composer")
    page.click("a[href='/community/reports/new']")
    page.wait_for_selector("#cm-map.leaflet-container")
    _no_violations(page, "report form")
    page.locator("#cm-map").click(position={"x": 200, "y": 100})         # a click on the map sets the place
    assert page.input_value("#cm-lat") != "" and page.input_value("#cm-lon") != ""
    page.fill("#cm-lat", str(EXACT[0]))                                   # then the exact point, typed
    page.fill("#cm-lon", str(EXACT[1]))
    page.fill("#cm-occurred", "2026-05-12T07:40")
    page.fill("#cm-what", f"下校中の児童に男が声をかけた。目撃者の電話 {PHONE}")
    page.fill("#cm-person", "40代くらいの男性、黒い上着")
    page.click("#cm-report-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/community/reports/\d+\?done=filed"))
    rid = int(re.search(r"/community/reports/(\d+)", page.url).group(1))
    assert page.locator("#cm-place").inner_text() == "和泉本町一丁目"
    assert page.locator("#cm-approve").count() == 0                       # the filer cannot approve
    assert blocked == []
    ctx.close()

    ctx, page, blocked = _login(browser, staff, "komae_approver")
    page.goto(f"{staff}/community/reports")
    page.click(f"a[href='/community/reports/{rid}']")
    page.wait_for_selector("#cm-map path", state="attached")            # the generalised area is drawn
    finding = page.locator("fieldset.finding").filter(has_text=PHONE)
    assert finding.count() == 1 and "not checked yet" not in finding.inner_text()  # Japanese page
    assert "未確認" in finding.inner_text()
    assert page.locator("#cm-approve").count() == 0                       # not while a finding is open
    _no_violations(page, "review page")
    finding.locator("input[value=remove]").check()
    page.click("#cm-decide button[type=submit]")
    page.wait_for_url(re.compile(r".*\?done=decided"))
    assert PHONE not in page.locator("#cm-preview-what").inner_text()
    assert "〇〇" in page.locator("#cm-preview-what").inner_text()
    public_point = [float(x) for x in page.locator("#cm-public-point").inner_text().split(",")]
    page.click("#cm-approve")
    page.wait_for_url(re.compile(r".*\?done=approved"))
    assert page.locator("#cm-state").inner_text() == "承認済み"
    assert hub.community.reports.get(rid).state == "approved"

    for path in ("/community", "/community/reports", "/community/groups", "/community/library", "/community/watch"):
        page.goto(staff + path)
        _no_violations(page, path)
    ctx.close()

    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP", is_mobile=True)
    loopback_only(phone)
    p = phone.new_page()
    p.goto(f"{staff}/login?next=/community/reports/{rid}")
    p.fill("#username", "komae_approver")
    p.fill("#password", "correct horse battery")
    p.click("form[action=\"/login\"] button[type=submit]")
    p.wait_for_url(re.compile(rf".*/community/reports/{rid}"))
    assert p.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # no sideways scrolling
    phone.close()

    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    blocked = loopback_only(ctx)
    page = ctx.new_page()
    page.set_default_timeout(20000)
    page.goto(f"{public}/13219/?lang=ja")
    page.check("input[data-layer='community-reports']")
    page.wait_for_function("document.getElementById('map-status').textContent.includes('不審者情報')")
    points = page.wait_for_function("""() => {
        const out = [];
        window.MACHIHUB_MAP.eachLayer(l => { if (l instanceof L.CircleMarker && l.getLatLng)
            out.push([l.getLatLng().lat, l.getLatLng().lng]); });
        return out.length ? out : null; }""").json_value()
    assert len(points) == 1
    assert points[0] == pytest.approx(public_point, abs=1e-5)              # the generalised point…
    assert points[0] != pytest.approx(list(EXACT), abs=1e-5)               # …never the exact one
    page.goto(f"{public}/community/13219/reports?lang=ja")
    text = page.locator("main").inner_text()
    assert "和泉本町一丁目" in text and PHONE not in text and "〇〇" in text
    _no_violations(page, "public list")
    assert blocked == []
    ctx.close()
