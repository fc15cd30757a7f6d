"""The resident's community forms over HTTP on both stores (real public app, real SMTP): "My community services"
is linked from the mail-settings page and identifies the resident by the same token; linking a library card with
a code the ILS issued (signed API), book titles in hold notices, new-arrival subjects, joining a group by its
invitation code alone or from the group page (code or approval), posting and replying, watch-over registration
and the person's confirmation (never the guardian's own). A browser gets a 303 back with a confirmation line, or the page again naming the
problem; every refused input leaves the store as it was; API clients still get JSON."""
from __future__ import annotations

import re
from urllib.parse import quote

from machihub.principal import SYSTEM
from portal.public_app import make_public_app
from tests.community.conftest import cm, resident, signed, smtp, token_of  # noqa: F401

HTML = {"Accept": "text/html", "Accept-Language": "en"}


def _count(community, sql: str, *args) -> int:
    with community.alerts.db.transaction() as tx:
        return int(tx.scalar(sql, args))


async def _client(aiohttp_client, cm):  # noqa: F811
    return await aiohttp_client(make_public_app(cm.alerts.hub))


async def _link_code(client, cm, patron: str) -> str:  # noqa: F811
    key_id, secret = cm.alerts.hub.users.add_api_key(SYSTEM, "13219", f"ILS {patron}", "ils")
    body, headers = signed(secret, key_id, {"patron_id": patron})
    r = await client.post("/community/api/library/link-code", data=body, headers=headers)
    assert r.status == 201
    return (await r.json())["code"]


async def test_library_card_titles_and_subjects_through_the_page(cm, aiohttp_client):  # noqa: F811
    client = await _client(aiohttp_client, cm)
    sid = resident(cm, "reader@example.jp")
    t = token_of(cm, sid)
    me = f"/community/13219/me?t={quote(t, safe='')}"

    settings = await (await client.get(f"/alerts/p/{t}", headers=HTML)).text()
    assert f'id="community-link" href="{me}"' in settings.replace("&amp;", "&")
    r = await client.get(me, headers=HTML)
    page = await r.text()
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    assert "No library card is linked yet" in page and 'action="/community/13219/library/link"' in page
    assert 'id="subjects-form"' not in page                              # only once a card is linked
    r = await client.get("/community/13219/me", headers=HTML)
    assert r.status == 401 and "safety mail settings" in await r.text()
    assert (await client.get("/community/13219/me?t=1.p.forged", headers=HTML)).status == 404
    r = await client.get(f"/community/37201/me?t={quote(t, safe='')}", headers=HTML, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == me              # their own municipality's page

    links = "SELECT count(*) FROM cm_library_links WHERE subscriber_id = ?"
    for data, status, says in (({"code": "12345678"}, 404, "unknown or has expired"),
                               ({"code": "  "}, 400, "Type the 8-digit code")):
        r = await client.post("/community/13219/library/link", data={"t": t, **data}, headers=HTML)
        page = await r.text()
        assert r.status == status and says in page and 'role="alert"' in page, data
    code = await _link_code(client, cm, "P-100")
    r = await client.post("/community/13219/library/link", data={"t": t, "code": code},
                          headers={**HTML, "Origin": "https://evil.example"})
    assert r.status == 403 and _count(cm, links, sid) == 0                # another site's form: refused
    stranger = resident(cm, "stranger@example.jp")
    assert _count(cm, links, stranger) == 0
    typed = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))  # full-width, as a phone IME types
    r = await client.post("/community/13219/library/link", data={"t": t, "code": f"{typed[:4]} {typed[4:]}"},
                          headers=HTML, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == me + "&done=linked"
    page = await (await client.get(r.headers["Location"], headers=HTML)).text()
    assert "Your library card is linked." in page and 'role="status"' in page and 'id="subjects-form"' in page
    assert _count(cm, links, sid) == 1
    assert _count(cm, "SELECT show_titles FROM cm_library_links WHERE subscriber_id = ?", sid) == 0

    r = await client.post("/community/13219/library/titles", data={"t": token_of(cm, stranger), "show_titles": "1"},
                          headers=HTML)
    assert r.status == 404 and "Link your library card first" in await r.text()
    r = await client.post("/community/13219/library/titles", data={"t": t, "show_titles": "1"}, headers=HTML,
                          allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].endswith("done=titles")
    assert _count(cm, "SELECT show_titles FROM cm_library_links WHERE subscriber_id = ?", sid) == 1
    page = await (await client.get(me, headers=HTML)).text()
    assert re.search(r'id="titles-yes" name="show_titles" value="1" checked', page)

    r = await client.post("/community/13219/library/arrivals", data=[("t", t), ("subject", "0"), ("subject", "X")],
                          headers=HTML)
    assert r.status == 400 and "NDC classes 0 to 9" in await r.text()
    assert cm.arrivals.subjects(sid, "13219") == []                      # nothing saved
    r = await client.post("/community/13219/library/arrivals", data={"t": token_of(cm, stranger), "subject": "9"},
                          headers=HTML)
    assert r.status == 404 and cm.arrivals.subjects(stranger, "13219") == []
    r = await client.post("/community/13219/library/arrivals", data=[("t", t), ("subject", "0"), ("subject", "9")],
                          headers=HTML, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].endswith("done=subjects")
    assert cm.arrivals.subjects(sid, "13219") == ["0", "9"]
    page = await (await client.get(me, headers=HTML)).text()
    assert 'id="ndc-9" name="subject" value="9" checked' in page and 'id="ndc-3" name="subject" value="3">' in page
    assert "総記" in page and "General works" in page
    ja = await (await client.get(me + "&lang=ja", headers={"Accept": "text/html"})).text()
    assert "図書館" in ja and "General works" not in ja

    # an API client still gets JSON; another municipality's resident cannot use this town's forms
    r = await client.post("/community/13219/library/arrivals", data={"t": t})
    assert r.status == 200 and await r.json() == {"subjects": []}
    outsider = token_of(cm, _takamatsu(cm))
    r = await client.post("/community/13219/library/link", data={"t": outsider, "code": "00000000"}, headers=HTML)
    assert r.status == 403 and "another municipality" in await r.text()


def _takamatsu(community) -> int:
    """A resident of 高松市 (another municipality)."""
    al = community.alerts
    al.admin.import_subscribers(SYSTEM, "37201", [{"email": "t@example.jp", "topics": ["community"],
                                                   "areas": [{"kind": "town"}]}])
    with al.db.transaction() as tx:
        return int(tx.scalar("SELECT subscriber_id FROM al_contacts WHERE kind = 'email' AND address_hash = ?",
                             (al.links.address_hash("email", "t@example.jp"),)))


async def test_groups_join_post_and_reply_through_the_pages(cm, smtp, aiohttp_client):  # noqa: F811
    client = await _client(aiohttp_client, cm)
    admin, member, asker, outsider = (resident(cm, f"{n}@example.jp") for n in ("gadmin", "gmember", "gasker",
                                                                                 "goutsider"))
    t = {sid: token_of(cm, sid) for sid in (admin, member, asker, outsider)}
    staff = cm.towns["komae_admin"]
    gid, code = cm.groups.create(staff, "13219", "和泉小PTA", admin, kind="pta", private=True)
    open_gid, _ = cm.groups.create(staff, "13219", "猪方町内会", admin, join_mode="approval")
    members = "SELECT count(*) FROM cm_members WHERE subscriber_id = ?"

    page = await (await client.get(f"/community/13219/me?t={t[member]}", headers=HTML)).text()
    assert "You are not in any group yet." in page and f"/community/groups/{open_gid}?t=" in page
    assert f"/community/groups/{gid}?" not in page                        # a private group is not listed
    for bad, status, says in (("WRONG123", 403, "invitation code is not valid"), ("", 400, "Type the invitation code")):
        r = await client.post("/community/13219/groups/join", data={"t": t[member], "code": bad}, headers=HTML)
        assert r.status == status and says in await r.text(), bad
    assert _count(cm, members, member) == 0
    r = await client.post("/community/13219/groups/join", data={"t": t[member], "code": f" {code.lower()} "},
                          headers=HTML, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == f"/community/groups/{gid}?t={t[member]}&done=joined"
    page = await (await client.get(r.headers["Location"], headers=HTML)).text()
    assert "You joined the group." in page and "You are a member of this group." in page
    assert 'id="group-post"' not in page                                  # members reply; admins post
    page = await (await client.get(f"/community/13219/me?t={t[member]}", headers=HTML)).text()
    assert f'href="/community/groups/{gid}?t={t[member]}">和泉小PTA</a>' in page

    # an approval group: the group page asks to join; the request waits for the admin
    page = await (await client.get(f"/community/groups/{open_gid}?t={t[asker]}", headers=HTML)).text()
    assert "Ask to join" in page and 'name="code"' not in page
    r = await client.post(f"/community/groups/{open_gid}/join", data={"t": t[asker]}, headers=HTML,
                          allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].endswith("done=requested")
    page = await (await client.get(r.headers["Location"], headers=HTML)).text()
    assert "waiting for the group admin's approval" in page
    page = await (await client.get(f"/community/13219/me?t={t[asker]}", headers=HTML)).text()
    assert "waiting for approval" in page
    page = await (await client.get(f"/community/groups/{open_gid}", headers=HTML)).text()
    assert "open this page from" in page and "<form method=\"post\" action=\"/community/groups" not in page
    r = await client.post(f"/community/groups/{gid}/join", data={"t": t[outsider], "code": "BAD"}, headers=HTML)
    assert r.status == 403 and _count(cm, members, outsider) == 0

    # the admin posts from the group page; members get it by mail and reply
    posts = "SELECT count(*) FROM cm_posts WHERE group_id = ?"
    page = await (await client.get(f"/community/groups/{gid}?t={t[admin]}", headers=HTML)).text()
    assert 'id="group-post"' in page
    r = await client.post(f"/community/groups/{gid}/posts", data={"t": t[admin], "title": " ", "body": "本文"},
                          headers=HTML)
    page = await r.text()
    assert r.status == 400 and "needs a title and a text" in page and ">本文</textarea>" in page
    r = await client.post(f"/community/groups/{gid}/posts", data={"t": t[member], "title": "x", "body": "y"},
                          headers=HTML)
    assert r.status == 403 and "Only the group&#39;s admins" in await r.text()
    assert _count(cm, posts, gid) == 0
    r = await client.post(f"/community/groups/{gid}/posts", data={"t": t[admin], "title": "役員会",
                                                                   "body": "6月の役員会は中止です。"},
                          headers=HTML, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].endswith("done=posted")
    await cm.alerts.run_worker("test", until_idle=True)
    assert [a for m in smtp.received for a in m.rcpt_tos] == ["gmember@example.jp"]
    pid = cm.groups.page(gid, member)["posts"][0]["id"]
    page = await (await client.get(f"/community/groups/{gid}?t={t[member]}", headers=HTML)).text()
    assert "6月の役員会は中止です。" in page and f'id="reply-{pid}"' in page
    for who, body, status in ((member, "  ", 400), (outsider, "横から", 403)):
        r = await client.post(f"/community/groups/{gid}/replies", data={"t": t[who], "parent": str(pid), "body": body},
                              headers=HTML)
        assert r.status == status
    r = await client.post(f"/community/groups/{gid}/replies", data={"t": t[member], "parent": "99999", "body": "はい"},
                          headers=HTML)
    assert r.status == 404 and "not in this group" in await r.text()
    assert _count(cm, posts, gid) == 1
    r = await client.post(f"/community/groups/{gid}/replies", data={"t": t[member], "parent": str(pid),
                                                                     "body": "承知しました"},
                          headers=HTML, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].endswith("done=replied")
    page = await (await client.get(r.headers["Location"], headers=HTML)).text()
    assert "<blockquote><p>承知しました</p></blockquote>" in page and "Your reply is posted." in page

    r = await client.post(f"/community/groups/{gid}/join", data={"t": t[member], "code": code})
    assert r.status == 200 and await r.json() == {"state": "active"}      # JSON for API clients, as before


async def test_watch_over_registration_cannot_be_self_confirmed(cm, aiohttp_client):  # noqa: F811
    """The guardian registers and waits: the page shows no code; the person confirms with the code the watch
    system showed them; the guardian's own settings link cannot confirm."""
    client = await _client(aiohttp_client, cm)
    sid = resident(cm, "parent@example.jp")
    t = token_of(cm, sid)
    guardians = "SELECT count(*) FROM cm_watch_guardians WHERE subscriber_id = ?"
    confirmed = "SELECT count(*) FROM cm_watch_guardians WHERE confirmed IS NOT NULL"

    r = await client.post("/community/13219/watch/register", data={"t": t, "person_id": " ", "label": "太郎"},
                          headers=HTML)
    page = await r.text()
    assert r.status == 400 and "Give the ID of the person" in page and 'value="太郎"' in page
    assert _count(cm, guardians, sid) == 0
    r = await client.post("/community/13219/watch/register", data={"t": t, "person_id": "S-2041", "label": "太郎"},
                          headers=HTML, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == f"/community/13219/me?t={quote(t, safe='')}&done=registered#watch"
    page = await (await client.get(r.headers["Location"], headers=HTML)).text()
    assert "Notices start after the person or the school confirms you." in page
    assert "太郎: <strong>waiting for confirmation by the person or the school</strong>" in page
    assert 'id="watch-code"' not in page and "/community/watch/confirm" not in page  # nothing to self-confirm

    key_id, secret = cm.alerts.hub.users.add_api_key(SYSTEM, "13219", "校門", "watch")
    body, headers = signed(secret, key_id, {"person_id": "S-2041"})
    r = await client.post("/community/api/watch/codes", data=body, headers=headers)
    (item,) = (await r.json())["pending"]
    code = item["code"]
    page = await (await client.get("/community/watch/confirm", headers=HTML)).text()
    assert 'action="/community/watch/confirm"' in page and "The school or the watch-over service gives you" in page
    bad = "00000000" if code != "00000000" else "11111111"
    r = await client.post("/community/watch/confirm", data={"code": bad}, headers=HTML)
    assert r.status == 404 and "unknown or was used already" in await r.text()
    r = await client.post("/community/watch/confirm", data={"code": code}, headers={**HTML, "Origin": "https://evil.example"})
    assert r.status == 403
    r = await client.post("/community/watch/confirm", data={"code": code, "t": t}, headers=HTML)
    assert r.status == 403 and "cannot confirm their own registration" in await r.text()
    assert _count(cm, confirmed) == 0
    r = await client.post("/community/watch/confirm", data={"code": f"{code[:4]}-{code[4:]}"}, headers=HTML,
                          allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/community/watch/confirm?done=confirmed"
    assert "guardian is confirmed" in await (await client.get(r.headers["Location"], headers=HTML)).text()
    page = await (await client.get(f"/community/13219/me?t={t}", headers=HTML)).text()
    assert re.search(r"太郎: confirmed on \d{4}-\d{2}-\d{2}", page)

    r = await client.post("/community/13219/watch/register", data={"t": t, "person_id": "S-2042"})
    assert r.status == 201 and set(await r.json()) == {"guardian"}


async def test_code_guessing_is_bounded(aiohttp_client, hub):
    """Invitation, library and watch-over codes are short: a client trying codes is stopped after 20 tries."""
    from portal.public_app import make_public_app

    client = await aiohttp_client(make_public_app(hub))
    statuses = [(await client.post("/community/watch/confirm", data={"code": f"{i:08d}"},
                                   headers={"Accept": "application/json"})).status for i in range(21)]
    assert statuses[:20] == [404] * 20 and statuses[20] == 429
