"""The staff community pages over HTTP on both stores (real staff app, login, CSRF): filing a report through the
form, the review page with the generalised place and the personal-data findings, approval by a second person
only; groups (create by the admin's e-mail, join requests, moderation, posts delivered by real SMTP); the
library counter (link codes, CSV batch all or nothing, unlinked holds); watch-over guardian confirmation.
Every refused input leaves the store as it was."""
from __future__ import annotations

import re

from aiohttp import FormData

from portal.staff_app import make_staff_app
from tests.community.conftest import cm, public_app, resident, residents, smtp, token_of  # noqa: F401

HTML = {"Accept": "text/html"}
POINT = ("35.637363", "139.577442")  # 和泉本町一丁目, 狛江市
FILED = {"occurred": "2026-05-12T07:40", "lat": POINT[0], "lon": POINT[1],
         "what": "児童に声をかけた男がいた。連絡先 090-1234-5678", "person": "40代くらいの男性"}


async def _staff(aiohttp_client, hub, user: str, password: str):
    hub.settings = hub.settings.replace(cookie_secure=False, tile_url="")
    client = await aiohttp_client(make_staff_app(hub))
    r = await client.post("/login", data={"username": user, "password": password}, allow_redirects=False)
    assert r.status == 303, await r.text()
    page = await (await client.get("/community", headers=HTML)).text()
    return client, re.search(r'name="csrf_token" value="([^"]+)"', await (
        await client.get("/community/reports/new", headers=HTML)).text()).group(1), page


def _count(community, table: str) -> int:
    with community.alerts.db.transaction() as tx:
        return int(tx.scalar(f"SELECT count(*) FROM {table}"))


async def test_file_review_and_approve_through_the_pages(cm, aiohttp_client):  # noqa: F811
    hub, pw = cm.alerts.hub, cm.towns["password"]
    filer, csrf, index = await _staff(aiohttp_client, hub, "komae_composer", pw)
    assert 'href="/community/reports/new"' in index and 'href="/community/groups"' in index
    home = await (await filer.get("/", headers=HTML)).text()
    assert 'href="/community"' in home                                   # reachable from the console nav

    r = await filer.post("/community/reports", data=FILED, headers=HTML)   # no CSRF token
    assert r.status == 403
    for bad, says in (({"lat": "north"}, "lat must be a number"), ({"occurred": "yesterday"}, "occurred"),
                      ({"lat": "35.0", "lon": "135.0"}, "outside this municipality"), ({"what": " "}, "what happened"),
                      ({"occurred": "2099-01-01T00:00"}, "future")):
        r = await filer.post("/community/reports", data={**FILED, **bad, "csrf_token": csrf}, headers=HTML)
        page = await r.text()
        assert r.status == 400 and says in page and 'role="alert"' in page, bad
        assert "40代くらいの男性" in page                                   # the form keeps what was typed
    assert _count(cm, "cm_reports") == 0

    r = await filer.post("/community/reports", data={**FILED, "csrf_token": csrf}, headers=HTML, allow_redirects=False)
    assert r.status == 303
    rid = int(r.headers["Location"].split("/")[-1].split("?")[0])
    page = await (await filer.get(f"/community/reports/{rid}", headers=HTML)).text()
    assert "和泉本町一丁目" in page and "090-1234-5678" in page and 'id="cm-approve"' not in page
    r = await filer.post(f"/community/reports/{rid}/approve", data={"csrf_token": csrf}, headers=HTML)
    assert r.status == 403 and "approver role" in await r.text()          # a composer cannot approve

    approver, csrf2, _ = await _staff(aiohttp_client, hub, "komae_approver", pw)
    review = await (await approver.get(f"/community/reports/{rid}", headers=HTML)).text()
    assert 'name="f_0" value="remove"' in review and 'id="cm-approve"' not in review  # finding still open
    r = await approver.post(f"/community/reports/{rid}/approve", data={"csrf_token": csrf2}, headers=HTML)
    assert r.status == 409 and "090-1234-5678" in await r.text()
    r = await approver.post(f"/community/reports/{rid}/decide", data={"csrf_token": csrf2, "f_7": "remove"},
                            headers=HTML)
    assert r.status == 400                                                 # no such finding; nothing changed
    r = await approver.post(f"/community/reports/{rid}/decide", data={"csrf_token": csrf2, "f_0": "shred"},
                            headers=HTML)
    assert r.status == 400 and cm.reports.get(rid).findings[0].decision == ""
    r = await approver.post(f"/community/reports/{rid}/decide", data={"csrf_token": csrf2, "f_0": "remove"},
                            headers=HTML, allow_redirects=False)
    assert r.status == 303
    review = await (await approver.get(f"/community/reports/{rid}", headers=HTML)).text()
    preview = re.search(r'id="cm-preview-what">(.*?)</dd>', review).group(1)
    assert "090-1234-5678" not in preview and "〇〇" in preview and 'id="cm-approve"' in review
    assert cm.reports.public_layer("13219")["features"] == []             # nothing public before approval
    r = await approver.post(f"/community/reports/{rid}/approve", data={"csrf_token": csrf2}, headers=HTML,
                            allow_redirects=False)
    assert r.status == 303
    assert cm.reports.get(rid).state == "approved" and cm.reports.get(rid).alert_id
    (feat,) = cm.reports.public_layer("13219")["features"]
    assert "090" not in feat["properties"]["what"] and feat["properties"]["place"] == "和泉本町一丁目"
    listing = await (await approver.get("/community/reports", headers=HTML)).text()
    assert f'href="/community/reports/{rid}"' in listing

    other, _, _ = await _staff(aiohttp_client, hub, "admin37201", pw)     # another municipality's admin
    assert (await other.get(f"/community/reports/{rid}", headers=HTML)).status == 404


async def test_group_pages_create_requests_moderation(cm, smtp, aiohttp_client):  # noqa: F811
    hub, pw = cm.alerts.hub, cm.towns["password"]
    sids = residents(cm, [{"email": e, "topics": ["community"], "areas": [{"kind": "town"}]}
                          for e in ("chair@example.jp", "neighbour@example.jp")])
    staff, csrf, _ = await _staff(aiohttp_client, hub, "komae_composer", pw)
    form = {"csrf_token": csrf, "name": "和泉本町自治会", "kind": "jichikai", "join_mode": "approval",
            "moderated": "1", "area": "chome:和泉本町一丁目"}
    r = await staff.post("/community/groups", data={**form, "admin_email": "nobody@example.jp"}, headers=HTML)
    assert r.status == 404 and "nobody with this e-mail" in await r.text()
    r = await staff.post("/community/groups", data={**form, "admin_email": "chair@example.jp", "kind": "club"},
                         headers=HTML)
    assert r.status == 400
    assert _count(cm, "cm_groups") == 0
    r = await staff.post("/community/groups", data={**form, "admin_email": "Chair@Example.jp"}, headers=HTML)
    assert r.status == 200 and "和泉本町自治会" in await r.text()
    (group,) = cm.groups.list("13219")
    assert cm.groups.join(sids["neighbour@example.jp"], group.id, "") == "pending"

    page = await (await staff.get(f"/community/groups/{group.id}", headers=HTML)).text()
    assert f'/community/groups/{group.id}/members/{sids["neighbour@example.jp"]}' in page
    r = await staff.post(f"/community/groups/{group.id}/members/{sids['neighbour@example.jp']}",
                         data={"csrf_token": csrf, "decision": "maybe"}, headers=HTML)
    assert r.status == 400
    r = await staff.post(f"/community/groups/{group.id}/members/{sids['neighbour@example.jp']}",
                         data={"csrf_token": csrf, "decision": "approve"}, headers=HTML, allow_redirects=False)
    assert r.status == 303
    r = await staff.post(f"/community/groups/{group.id}/invite", data={"csrf_token": csrf}, headers=HTML)
    code = re.search(r'id="invite-code">([0-9A-F]{8})<', await r.text()).group(1)
    late = resident(cm, "late@example.jp")
    assert cm.groups.join(late, group.id, code) == "active"

    held = cm.groups.post(group.id, "夏祭り", "8月に夏祭りがあります。", sid=sids["chair@example.jp"])
    await cm.alerts.run_worker("test", until_idle=True)
    assert smtp.received == []                                             # moderated: nothing sent yet
    queue = await (await staff.get("/community/groups", headers=HTML)).text()
    assert "夏祭り" in queue and f"/community/posts/{held}/moderate" in queue
    r = await staff.post(f"/community/posts/{held}/moderate", data={"csrf_token": csrf, "decision": "publish"},
                         headers=HTML, allow_redirects=False)
    assert r.status == 303
    r = await staff.post(f"/community/posts/{held}/moderate", data={"csrf_token": csrf, "decision": "publish"},
                         headers=HTML)
    assert r.status == 404                                                 # not waiting any more
    await cm.alerts.run_worker("test", until_idle=True)
    assert sorted(a for m in smtp.received for a in m.rcpt_tos) == ["late@example.jp", "neighbour@example.jp"]


async def test_library_counter_pages(cm, smtp, aiohttp_client):  # noqa: F811
    hub, pw = cm.alerts.hub, cm.towns["password"]
    staff, csrf, _ = await _staff(aiohttp_client, hub, "komae_composer", pw)
    r = await staff.post("/community/library/link-code", data={"csrf_token": csrf, "patron_id": " "}, headers=HTML)
    assert r.status == 400
    r = await staff.post("/community/library/link-code", data={"csrf_token": csrf, "patron_id": "P-1"}, headers=HTML)
    code = re.search(r'id="link-code">(\d{8})<', await r.text()).group(1)
    sid = resident(cm, "reader@example.jp")
    pub = await aiohttp_client(public_app(hub))
    assert (await pub.post("/community/13219/library/link", data={"t": token_of(cm, sid), "code": code})).status == 200

    def upload(text: str, name: str = "holds.csv") -> FormData:
        f = FormData()
        f.add_field("csrf_token", csrf)
        f.add_field("file", text.encode("cp932"), filename=name, content_type="text/csv")
        return f

    header = "event,hold_id,patron_id,branch,deadline,title\n"
    bad = header + "ready,H1,P-1,中央図書館,2026-06-05,\nready,H2,P-2,中央図書館,06/05,\n"
    r = await staff.post("/community/library/batch", data=upload(bad), headers=HTML)
    page = await r.text()
    assert r.status == 400 and "row 3" in page and "deadline" in page
    assert _count(cm, "cm_holds") == 0                                     # all or nothing
    good = header + "ready,H1,P-1,中央図書館,2026-06-05,\nready,H2,P-2,西河原分室,2026-06-06,\n"
    r = await staff.post("/community/library/batch", data=upload(good), headers=HTML)
    page = await r.text()
    assert r.status == 200 and 'id="batch-result"' in page
    assert "<th scope=\"row\">H2</th><td>西河原分室</td>" in page and "<th scope=\"row\">H1</th>" not in page
    await cm.alerts.run_worker("test", until_idle=True)
    assert len(smtp.to("reader@example.jp")) == 1


async def test_watch_guardians_page(cm, aiohttp_client):  # noqa: F811
    hub, pw = cm.alerts.hub, cm.towns["password"]
    mother = resident(cm, "mother@example.jp", topics=["weather"])
    gid = cm.watch.register(mother, "13219", "S-1", "はなこ")
    staff, csrf, _ = await _staff(aiohttp_client, hub, "komae_composer", pw)
    page = await (await staff.get("/community/watch", headers=HTML)).text()
    assert "はなこ" in page and f"/community/guardians/{gid}/confirm" in page
    r = await staff.post(f"/community/guardians/{gid}/confirm", data={"csrf_token": csrf}, headers=HTML,
                         allow_redirects=False)
    assert r.status == 303
    page = await (await staff.get("/community/watch", headers=HTML)).text()
    assert f"/community/guardians/{gid}/confirm" not in page and "user:komae_composer" in page
    r = await staff.post(f"/community/guardians/{gid}/confirm", data={"csrf_token": csrf}, headers=HTML)
    assert r.status == 409
    r = await staff.post("/community/guardians/999999/revoke", data={"csrf_token": csrf}, headers=HTML)
    assert r.status == 404


async def test_staff_without_a_community_role_reads_nothing(cm, aiohttp_client):  # noqa: F811
    """A layer editor of the same town is logged in but is not community staff: every page and JSON read of
    reports (exact points, personal data), groups, the moderation queue, library and watch-over is 403, and
    group creation refuses before looking up the e-mail (so it cannot tell who subscribes)."""
    hub, pw = cm.alerts.hub, cm.towns["password"]
    rid = cm.reports.file(cm.towns["komae_admin"], "13219", occurred=cm.alerts.clock.now(), lat=float(POINT[0]),
                          lon=float(POINT[1]), what=FILED["what"], person=FILED["person"])
    admin = resident(cm, "chair@example.jp")
    gid, _ = cm.groups.create(cm.towns["komae_admin"], "13219", "和泉本町自治会", admin, moderated=True)
    cm.groups.post(gid, "夏祭り", "秘密の下書き", sid=admin)
    hub.settings = hub.settings.replace(cookie_secure=False, tile_url="")
    client = await aiohttp_client(make_staff_app(hub))
    r = await client.post("/login", data={"username": "komae1", "password": pw}, allow_redirects=False)
    assert r.status == 303
    for path in ("/community", "/community/reports", f"/community/reports/{rid}", "/community/reports/new",
                 "/community/groups", f"/community/groups/{gid}", "/community/library", "/community/watch"):
        for accept in ("text/html", "application/json"):
            r = await client.get(path, headers={"Accept": accept})
            body = await r.text()
            assert r.status == 403, (path, accept, r.status)
            assert "090-1234-5678" not in body and POINT[0] not in body and "秘密の下書き" not in body
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', await (await client.get("/", headers=HTML)).text()).group(1)
    for email in ("chair@example.jp", "nobody@example.jp"):
        r = await client.post("/community/groups", data={"csrf_token": csrf, "name": "x", "admin_email": email},
                              headers=HTML)
        assert r.status == 403 and "community pages need" in await r.text(), email  # the same answer either way
    assert _count(cm, "cm_groups") == 1


async def test_group_admin_from_another_town_and_huge_ids(cm, aiohttp_client):  # noqa: F811
    hub, pw = cm.alerts.hub, cm.towns["password"]
    al = cm.alerts
    from machihub.principal import SYSTEM

    al.admin.import_subscribers(SYSTEM, "37201", [{"email": "far@example.jp", "topics": ["community"],
                                                   "areas": [{"kind": "town"}]}])
    with al.db.transaction() as tx:
        far = tx.scalar("SELECT subscriber_id FROM al_contacts WHERE kind = 'email' AND address_hash = ?",
                        (al.links.address_hash("email", "far@example.jp"),))
    staff, csrf, _ = await _staff(aiohttp_client, hub, "komae_composer", pw)
    r = await staff.post("/community/groups", data={"csrf_token": csrf, "name": "猪方町内会", "kind": "jichikai",
                                                    "join_mode": "code", "admin_subscriber": str(far)}, headers=HTML)
    assert r.status == 400 and _count(cm, "cm_groups") == 0
    r = await staff.post("/community/groups", data={"csrf_token": csrf, "name": "猪方町内会",
                                                    "admin_subscriber": "9" * 30}, headers=HTML)
    assert r.status == 400 and _count(cm, "cm_groups") == 0
    huge = "99999999999999999999999"
    for path in (f"/community/reports/{huge}", f"/community/groups/{huge}", f"/community/reports/{2**63}"):
        assert (await staff.get(path, headers=HTML)).status == 404, path
    for path in (f"/community/reports/{huge}/approve", f"/community/groups/{huge}/members/1",
                 f"/community/groups/1/members/{huge}", f"/community/posts/{huge}/moderate",
                 f"/community/guardians/{huge}/confirm", f"/community/guardians/{2**63}/revoke"):
        assert (await staff.post(path, data={"csrf_token": csrf}, headers=HTML)).status == 404, path
