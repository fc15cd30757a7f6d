"""Resident forms in a real browser (Debian Chromium via Playwright, loopback only): the nearest-shelter search
says what is wrong in words (never raw JSON), marks the searched place and brings it and the shelters into view;
the report form, with scripts off, comes back with the input kept and the problem named."""
from __future__ import annotations

import pytest

from tests.portal.conftest import open_page, run_axe

pytestmark = pytest.mark.browser


_page = open_page


CENTRE = "(() => { const c = window.MACHIHUB_MAP.getCenter(); return [c.lat, c.lng, window.MACHIHUB_MAP.getZoom()]; })()"
# markers we draw for the search: circle markers with a black outline (the origin is yellow, shelters green)
MARKERS = """(() => { const out = []; window.MACHIHUB_MAP.eachLayer(l => {
  if (l instanceof L.CircleMarker && l.options.color === '#000') {
    const p = l.getLatLng(); out.push([l.options.fillColor, p.lat, p.lng]); } }); return out; })()"""


@pytest.mark.parametrize("lang, words", [("ja", "住所を入力"), ("en", "Type an address")])
def test_empty_address_is_explained_in_words(browser, demo_server, lang, words):
    hub, server = demo_server
    context, page, _ = _page(browser)
    page.goto(f"{server.url()}/37201/?lang={lang}")
    page.click("#nearest-form button[type=submit]")
    page.wait_for_function("document.querySelector('#nearest-results [role=alert]')", timeout=20000)
    text = page.inner_text("#nearest-results")
    assert words in text
    assert "{" not in text and "error" not in text and "invalid" not in text  # a sentence, not a JSON body
    context.close()


def test_address_search_marks_the_origin_and_brings_the_results_into_view(browser, demo_server):
    hub, server = demo_server
    context, page, _ = _page(browser)
    page.goto(f"{server.url()}/37201/?lang=ja")
    page.wait_for_function("window.MACHIHUB_MAP && window.L")
    before = page.evaluate(CENTRE)
    page.fill("#nearest-address", "番町一丁目")
    page.click("#nearest-form button[type=submit]")
    page.wait_for_selector("#nearest-results ol.nearest li button.nearest-show", timeout=30000)
    page.wait_for_function(MARKERS.replace("return out;", "return out.some(m => m[0] === '#ffeb3b');"),
                           timeout=10000)
    match = hub.addresses.lookup("番町一丁目", "37201")
    markers = page.evaluate(MARKERS)
    origins = [m for m in markers if m[0] == "#ffeb3b"]
    shelters = [m for m in markers if m[0] == "#2e7d32"]
    assert len(origins) == 1 and abs(origins[0][1] - match.lat) < 1e-6 and abs(origins[0][2] - match.lng) < 1e-6
    assert len(shelters) == page.locator("#nearest-results ol.nearest li").count() >= 1
    page.wait_for_timeout(400)  # the pan/zoom animation
    after = page.evaluate(CENTRE)
    assert after != before and after[2] > before[2]  # moved and zoomed in
    bounds = page.evaluate("window.MACHIHUB_MAP.getBounds().toBBoxString()").split(",")
    west, south, east, north = map(float, bounds)
    for _, lat, lon in origins + shelters:  # the origin and every listed shelter are in view
        assert south <= lat <= north and west <= lon <= east, (lat, lon, bounds)

    # a listed shelter's button centres the map on it and opens its popup
    first = page.locator("#nearest-results ol.nearest li").first
    name = first.locator("strong").inner_text()
    first.locator("button.nearest-show").click()
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    assert name in page.inner_text(".leaflet-popup-content")
    # Leaflet fades a popup in: axe must measure contrast on the finished popup, not half-transparent text
    page.wait_for_function("getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")
    assert "地図で見る" in first.locator("button.nearest-show").inner_text()
    assert run_axe(page) == []
    context.close()


def test_my_location_pans_to_me(browser, demo_server):
    hub, server = demo_server
    match = hub.addresses.lookup("番町一丁目", "37201")
    context, page, _ = _page(browser, geolocation={"latitude": match.lat, "longitude": match.lng},
                             permissions=["geolocation"])
    page.goto(f"{server.url()}/37201/?lang=ja")
    page.wait_for_function("window.MACHIHUB_MAP && window.L")
    before = page.evaluate(CENTRE)
    page.click("#nearest-here")
    page.wait_for_selector("#nearest-results ol.nearest li", timeout=30000)
    page.wait_for_timeout(400)
    lat, lon, zoom = page.evaluate(CENTRE)
    assert zoom > before[2]
    west, south, east, north = map(float, page.evaluate("window.MACHIHUB_MAP.getBounds().toBBoxString()").split(","))
    assert south <= match.lat <= north and west <= match.lng <= east
    context.close()


def test_report_form_without_script_keeps_the_input(browser, demo_server):
    hub, server = demo_server
    context, page, _ = _page(browser, java_script_enabled=False)
    page.goto(f"{server.url()}/37201/report?lang=en")
    page.fill("#rp-desc", "The streetlight by the bridge is out")
    page.fill("#rp-address", "あいうえお")
    with page.expect_navigation():
        page.click("#report-form button[type=submit]")
    assert "Address not found: あいうえお" in page.inner_text("#rp-problem")
    assert page.input_value("#rp-desc") == "The streetlight by the bridge is out"
    assert page.input_value("#rp-address") == "あいうえお"
    context.close()


def test_refused_report_page_is_accessible(browser, demo_server):
    hub, server = demo_server
    context, page, _ = _page(browser)
    page.goto(f"{server.url()}/37201/report?lang=ja")
    page.fill("#rp-desc", "橋のそばの街灯が消えています")
    page.click("#report-form button[type=submit]")  # no location yet: the browser hint, no post
    assert page.url.endswith("/37201/report?lang=ja")
    assert "場所を指定してください" in page.evaluate("document.getElementById('rp-address').validationMessage")
    page.fill("#rp-address", "あいうえお")
    with page.expect_navigation():
        page.click("#report-form button[type=submit]")
    assert "住所が見つかりません" in page.inner_text("#rp-problem")
    assert page.evaluate("document.activeElement.id") == "rp-problem"  # read out first
    assert run_axe(page) == []
    assert hub.reports.search("37201") == []
    context.close()
