"""The FAQ in a real browser (Debian Chromium via Playwright, loopback only) on the demo data: the staff flow
(log in, search as you type, open an entry, log the inquiry, see it in the report) with the real fused search,
and axe-core finding no WCAG 2.1 AA violation on the public FAQ pages (Japanese and English) and the console."""
from __future__ import annotations

from pathlib import Path

import pytest

from machihub.demo import load_demo
from machihub.principal import SYSTEM, Principal
from portal.public_app import make_public_app
from portal.staff_app import make_staff_app
from tests.conftest import make_hub
from tests.portal.conftest import LiveServer, open_page, run_axe

pytestmark = pytest.mark.browser
PASSWORD = "call center test password"


@pytest.fixture(scope="module")
def servers(tmp_path_factory, request):
    tmp = tmp_path_factory.mktemp("faq-demo")
    hub = make_hub(f"sqlite:///{tmp}/hub.gpkg", tmp, cookie_secure=False)
    list(load_demo(hub, quiet=True))
    # the real fused search; the demo's vectors are cached across runs (~6 s to embed cold)
    hub.faq.configure_search(cache_dir=Path(request.config.cache.mkdir("faq-demo-embeddings")))
    hub.faq.warm()
    kohocho = hub.tenants.find_department("37201", "kohocho")
    hub.users.add(SYSTEM, "37201", "cc-browser", PASSWORD, roles=["call_center"], department_id=kohocho.id)
    server = LiveServer([make_public_app(hub), make_staff_app(hub)]).start()
    yield hub, server
    server.stop()
    hub.close()


def _page(browser, width=1280, height=900, **kw):
    return open_page(browser, width, height, **kw)


def _log_in(page, staff: str, next_path: str) -> None:
    page.goto(f"{staff}/login?next={next_path}")
    page.fill("#username", "cc-browser")
    page.fill("#password", PASSWORD)
    page.click("form[action=\"/login\"] button[type=submit]")


def test_staff_flow_search_open_log_report(browser, servers):
    hub, server = servers
    staff = server.url(1)
    context, page, blocked = _page(browser)
    _log_in(page, staff, "/faq")
    page.wait_for_url(f"{staff}/faq")

    page.locator("#faq-q").press_sequentially("津波", delay=80)  # search as you type
    first = page.locator("#faq-results li a").first
    first.wait_for(timeout=10000)
    assert "<mark>" in first.inner_html() and "津波" in first.inner_text()
    assert page.locator("#faq-status").inner_text().strip() != ""
    question = first.inner_text()
    first.click()
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == question
    page.check("input[name=channel][value=counter]")
    page.click("#log-answered")
    page.wait_for_selector(".notice[role=status]")
    entry_id = int(page.url.split("/faq/entries/")[1].split("?")[0])

    page.goto(f"{staff}/faq?q=マイナンバー")  # one click from the result list (fetch with the CSRF header)
    page.check("#faq-log input[name=channel][value=mail]")
    page.locator("#faq-results li").first.locator("button").click()
    page.wait_for_function("document.getElementById('faq-status').textContent.includes('#')")

    page.goto(f"{staff}/faq/report")
    assert page.locator("#total-inquiries").inner_text() == "2"
    assert question in page.locator("table:has(#top-cap)").inner_text()
    cc = Principal(actor="user:cc-browser", tenant_code="37201", roles=frozenset({"call_center"}))
    logged = hub.faq.inquiries.recent(cc)  # newest first
    assert [i.channel for i in logged] == ["mail", "counter"] and logged[1].entry_id == entry_id
    assert not blocked
    context.close()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_axe_finds_no_violations_on_faq_pages(browser, servers, lang):
    hub, server = servers
    entry = hub.faq.find("37201", "tsunami-hinan")
    context, page, _ = _page(browser, width=390, height=844)
    problems = {}
    for path in ["/37201/faq", "/37201/faq?q=避難所", "/37201/faq?q=zzzz", f"/37201/faq/{entry.id}",
                 f"/37201/faq/{entry.id}?voted=yes", "/37201/faq?category=防災・災害"]:
        page.goto(f"{server.url()}{path}{'&' if '?' in path else '?'}lang={lang}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.lang") == lang
        violations = run_axe(page)
        if violations:
            problems[path] = violations
    page.goto(f"{server.url()}/37201/faq/{entry.id}?lang={lang}")
    page.click("button[name=helpful][value=yes]")
    page.wait_for_selector("#helpful-h + p[role=status]")
    context.close()
    assert not problems, problems


def test_axe_on_the_console(browser, servers):
    _, server = servers
    staff = server.url(1)
    context, page, _ = _page(browser)
    _log_in(page, staff, "/faq%3Fq%3D%E9%81%BF%E9%9B%A3")
    page.wait_for_selector("#faq-results li")
    problems = {}
    for path in ["/faq?q=避難", "/faq/report", "/faq/escalations", "/faq/manage"]:
        page.goto(f"{staff}{path}")
        page.wait_for_load_state("networkidle")
        violations = run_axe(page)
        if violations:
            problems[path] = violations
    context.close()
    assert not problems, problems
