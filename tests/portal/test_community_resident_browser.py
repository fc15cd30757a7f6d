"""A resident's community services in a real browser (Debian Chromium via Playwright, loopback only) on a 360 px
phone: from their safety-mail settings link they follow the link to "My community services", link their library
card with a code the ILS issued through its signed API, choose new-arrival subjects, join a private PTA group with
only its invitation code and land on the group page, and register as a watch-over guardian (who then waits for
the person or the school: no code is shown to them). Everything is plain
forms; axe-core finds no WCAG 2.1 AA violation on the pages, and they fit the phone's width, in large text too."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import urllib.request

import pytest

from community import build_community
from machihub.principal import SYSTEM
from portal.public_app import make_public_app
from tests.alerts.conftest import dispatcher, smtp  # noqa: F401 - the real SMTP server fixture
from tests.community.conftest import resident, token_of
from tests.conftest import make_hub, seed_towns
from tests.portal.conftest import LiveServer, loopback_only, run_axe

pytestmark = pytest.mark.browser


@pytest.fixture
def servers(tmp_path, smtp):  # noqa: F811
    hub = make_hub(f"sqlite:///{tmp_path}/hub.gpkg", tmp_path, cookie_secure=False, tile_url="")
    towns = seed_towns(hub)
    dispatcher(hub, towns, smtp)
    hub.community = build_community(hub)
    hub.community.towns = towns
    server = LiveServer([make_public_app(hub)]).start()
    yield hub, server
    server.stop()
    hub.close()


def _ils_link_code(hub, base: str, patron: str) -> str:
    """The code the library system gets for a patron (HMAC-signed POST, as a real ILS sends it)."""
    key_id, secret = hub.users.add_api_key(SYSTEM, "13219", "ILS", "ils")
    body = json.dumps({"patron_id": patron}).encode()
    req = urllib.request.Request(f"{base}/community/api/library/link-code", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Machihub-Key": key_id,
        "X-Machihub-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 201
        return json.loads(resp.read())["code"]


def _checked(page, where: str) -> None:
    violations = run_axe(page)
    assert violations == [], f"{where}: {violations}"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), f"{where}: scrolls sideways"


def test_resident_links_card_chooses_subjects_and_joins_a_group(browser, servers):
    hub, server = servers
    cm, base = hub.community, server.url()
    admin, sid = resident(cm, "pta-chair@example.jp"), resident(cm, "parent@example.jp")
    gid, invite = cm.groups.create(cm.towns["komae_admin"], "13219", "和泉小PTA", admin, kind="pta", private=True)
    cm.groups.post(gid, "運動会のお知らせ", "運動会は10月5日です。", sid=admin)
    code = _ils_link_code(hub, base, "P-2041")

    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP", is_mobile=True)
    blocked = loopback_only(phone)
    page = phone.new_page()
    page.set_default_timeout(20000)
    page.goto(f"{base}/alerts/p/{token_of(cm, sid)}")
    page.click("#community-link")
    page.wait_for_url(re.compile(r".*/community/13219/me\?t="))
    assert page.locator("h1").inner_text().startswith("地域サービス")
    _checked(page, "community services page")

    page.fill("#link-code", code)
    page.click("#link-form button[type=submit]")
    page.wait_for_url(re.compile(r".*done=linked"))
    assert "連携しました" in page.locator("#cm-done").inner_text()
    assert "連携済み" in page.locator("#lib-state").inner_text()
    assert cm.library.link_state(sid, "13219")["cards"] == 1
    _checked(page, "linked page")

    page.check("#ndc-4")
    page.check("#ndc-9")
    page.click("#subjects-form button[type=submit]")
    page.wait_for_url(re.compile(r".*done=subjects"))
    assert page.is_checked("#ndc-4") and page.is_checked("#ndc-9") and not page.is_checked("#ndc-0")
    assert cm.arrivals.subjects(sid, "13219") == ["4", "9"]

    page.fill("#join-code", invite.lower())
    page.click("#join-form button[type=submit]")
    page.wait_for_url(re.compile(rf".*/community/groups/{gid}\?t=.*done=joined"))
    assert page.locator("h1").inner_text() == "和泉小PTA"
    assert "参加しました" in page.locator("#cm-done").inner_text()
    assert "運動会は10月5日です。" in page.locator("main").inner_text()      # a private group, now readable
    _checked(page, "group page")
    page.fill("textarea[name=body]", "参加します")
    page.locator("form.reply button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*done=replied"))
    assert page.locator("blockquote").inner_text() == "参加します"

    page.click("text=地域サービスのページに戻る")
    page.wait_for_url(re.compile(r".*/community/13219/me\?t="))
    assert page.locator("#my-groups a").inner_text() == "和泉小PTA"
    page.fill("#watch-person", "S-2041")
    page.fill("#watch-label", "太郎")
    page.click("#watch-form button[type=submit]")
    page.wait_for_url(re.compile(r".*done=registered"))
    assert page.locator("#watch-code").count() == 0                        # the guardian never gets a code
    assert "ご本人または学校の確認待ち" in page.locator("#watch-list").inner_text()
    assert "学校" in page.locator("#cm-done").inner_text()
    page.click("#text-size")                                               # large text: still no sideways scrolling
    _checked(page, "community services page, large text")
    page.goto(f"{base}/community/watch/confirm")
    _checked(page, "watch-over confirmation page")
    assert blocked == []
    phone.close()
