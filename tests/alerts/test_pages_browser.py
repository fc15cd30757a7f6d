"""The alert pages in headless Chromium with axe-core: WCAG 2.1 AA for the public subscribe and preferences
pages and the staff alert page (with its feature-phone preview and live statistics)."""
from __future__ import annotations

import re

import pytest

from machihub.principal import SYSTEM
from portal.alert_console_routes import add_staff_alert_routes
from portal.public_app import make_public_app
from portal.staff_app import make_staff_app
from portal.subscribe_routes import add_public_alert_routes
from tests.alerts.conftest import chome_alert
from tests.portal.conftest import LiveServer, browser, run_axe  # noqa: F401 - browser is a fixture

pytestmark = pytest.mark.browser


def test_alert_pages_meet_wcag_aa(browser, al_sqlite):  # noqa: F811
    al = al_sqlite
    hub = al.hub
    hub.settings = hub.settings.replace(cookie_secure=False)
    public, staff = make_public_app(hub), make_staff_app(hub)
    add_public_alert_routes(public)
    add_staff_alert_routes(staff)
    prefs = al.subscribers.push_subscribe("13219", {"endpoint": "https://push.example.com/a", "keys": {
        "p256dh": "B" * 87, "auth": "a" * 22}}, al.subscribers.choices("13219", topics=["crime"],
                                                                      area_specs=[{"kind": "town"}]))
    alert_id = al.lifecycle.create(al.towns["composer"], chome_alert(headline="①不審者情報"))
    al.lifecycle.submit(al.towns["composer"], alert_id)
    al.admin.import_subscribers(SYSTEM, "13219", [{"email": "a@example.jp", "topics": ["crime"],
                                                   "areas": [{"kind": "town"}]}])
    server = LiveServer([public, staff]).start()
    try:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        for path in ("/13219/alerts", f"/alerts/p/{prefs}", f"/alerts/u/{prefs.replace('.p.', '.u.')}"):
            page.goto(server.url(0) + path)
            assert run_axe(page) == [], path
        page.goto(server.url(1) + "/login")
        page.fill("#username", "komae_approver")
        page.fill("#password", al.towns["password"])
        with page.expect_navigation():
            page.click("main button[type=submit]")
        page.goto(server.url(1) + f"/alerts/{alert_id}")
        assert re.search(r"\(1\)不審者情報", page.content())
        assert run_axe(page) == [], "staff alert page"
        page.click("text=Approve and send")
        page.wait_for_url(re.compile(rf"/alerts/{alert_id}$"))
        assert page.locator("#state").inner_text() == "sending"
        page.goto(server.url(1) + "/alerts/new")
        assert run_axe(page) == [], "compose page"
        from feeds.ingest import FeedIngest
        from tests.shared_data import DATA

        FeedIngest(hub).ingest_jma((DATA / "jma" / "32-35_01_02_240613_VXSE52.xml").read_bytes())  # a drill
        page.goto(server.url(1) + "/feeds/telegrams")
        assert page.locator("tr.drill").count() == 1
        assert run_axe(page) == [], "received telegrams page"
    finally:
        server.stop()
