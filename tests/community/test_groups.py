"""Community groups with a real SMTP server: posts reach members only (through their channels) and show on
the group page; moderation holds posts; members reply; a non-member cannot read a private group's page."""
from __future__ import annotations

import pytest

from machihub.errors import Forbidden
from tests.community.conftest import public_app, resident, token_of, work


def test_posts_reach_members_only_and_moderation(cm, smtp):
    admin, member, pending, outsider = (resident(cm, f"{n}@example.jp") for n in ("admin", "member", "pending",
                                                                                   "outsider"))
    t = cm.towns
    gid, code = cm.groups.create(t["komae_admin"], "13219", "和泉本町自治会", admin, area=("chome", "和泉本町一丁目"))
    with pytest.raises(Forbidden):
        cm.groups.join(outsider, gid, "WRONG")
    assert cm.groups.join(member, gid, code) == "active"
    approval, _ = cm.groups.create(t["komae_admin"], "13219", "猪方町内会", admin, join_mode="approval", moderated=True)
    assert cm.groups.join(pending, approval, "") == "pending"
    with pytest.raises(Forbidden):
        cm.groups.post(gid, "清掃", "日曜に清掃します", sid=member)  # members cannot post notices
    cm.groups.post(gid, "一斉清掃", "日曜9時から公園の清掃をします。", sid=admin)
    held = cm.groups.post(approval, "夏祭り", "8月に夏祭りがあります。", sid=admin)
    work(cm)
    assert [a for r in smtp.received for a in r.rcpt_tos] == ["member@example.jp"]
    assert "一斉清掃" in str(smtp.received[0].message["Subject"])
    cm.groups.moderate(t["komae_admin"], held, True)               # published now: to active members only
    cm.groups.approve_member(admin, approval, pending)
    work(cm)
    assert smtp.to("pending@example.jp") == [] and smtp.to("outsider@example.jp") == []
    follow = cm.groups.post(approval, "夏祭り（続報）", "雨天中止です。", sid=admin)
    work(cm)
    assert smtp.to("pending@example.jp") == []                     # held for moderation
    cm.groups.moderate(t["komae_admin"], follow, True)
    work(cm)
    assert len(smtp.to("pending@example.jp")) == 1
    page = cm.groups.page(gid, member)
    cm.groups.reply(member, gid, page["posts"][0]["id"], "参加します")
    with pytest.raises(Forbidden):
        cm.groups.reply(outsider, gid, page["posts"][0]["id"], "横から失礼")
    assert cm.groups.page(gid, outsider)["posts"][0]["replies"][0]["body"] == "参加します"  # public group


async def test_private_group_page_unreadable_by_non_members(cm, smtp, aiohttp_client):
    admin, member, outsider = (resident(cm, f"{n}@example.jp") for n in ("padmin", "pmember", "poutsider"))
    gid, code = cm.groups.create(cm.towns["komae_admin"], "13219", "和泉小PTA", admin, kind="pta", private=True)
    client = await aiohttp_client(public_app(cm.alerts.hub))
    r = await client.post(f"/community/groups/{gid}/join", data={"t": token_of(cm, member), "code": code})
    assert (await r.json())["state"] == "active"
    r = await client.post(f"/community/groups/{gid}/posts", data={"t": token_of(cm, admin), "title": "役員会",
                                                                   "body": "役員会の議事録（会員のみ）"})
    assert r.status == 201
    for who in (None, outsider):
        q = f"?t={token_of(cm, who)}" if who else ""
        r = await client.get(f"/community/groups/{gid}{q}", headers={"Accept": "text/html"})
        assert r.status == 403 and "議事録" not in await r.text()
    r = await client.get(f"/community/groups/{gid}?t=bogus", headers={"Accept": "text/html"})
    assert r.status in (403, 404)
    r = await client.get(f"/community/groups/{gid}?t={token_of(cm, member)}", headers={"Accept": "text/html"})
    assert r.status == 200 and "議事録" in await r.text()
    await cm.alerts.run_worker("test", until_idle=True)
    assert [a for m in smtp.received for a in m.rcpt_tos] == ["pmember@example.jp"]


def _takamatsu(cm, email: str) -> int:
    from machihub.principal import SYSTEM

    cm.alerts.admin.import_subscribers(SYSTEM, "37201", [{"email": email, "topics": ["community"],
                                                          "areas": [{"kind": "town"}]}])
    with cm.alerts.db.transaction() as tx:
        return int(tx.scalar("SELECT subscriber_id FROM al_contacts WHERE kind = 'email' AND address_hash = ?",
                             (cm.alerts.links.address_hash("email", email),)))


async def test_residents_of_another_town_cannot_join_post_or_reply(cm, smtp, aiohttp_client):
    from machihub.errors import Invalid

    admin, member = resident(cm, "ladmin@example.jp"), resident(cm, "lmember@example.jp")
    outsider = _takamatsu(cm, "far@example.jp")
    staff = cm.towns["komae_admin"]
    with pytest.raises(Invalid):                                   # an admin from another town
        cm.groups.create(staff, "13219", "猪方町内会", outsider)
    gid, code = cm.groups.create(staff, "13219", "和泉本町自治会", admin)
    with pytest.raises(Forbidden):
        cm.groups.join(outsider, gid, code)                        # even with the right code
    client = await aiohttp_client(public_app(cm.alerts.hub))
    r = await client.post(f"/community/groups/{gid}/join", data={"t": token_of(cm, outsider), "code": code})
    assert r.status == 403
    assert cm.groups.join(member, gid, code) == "active"
    pid = cm.groups.post(gid, "清掃", "日曜に清掃します。", sid=admin)
    with cm.alerts.db.transaction() as tx:                         # a membership from before this check existed
        tx.execute("INSERT INTO cm_members (group_id, subscriber_id, role, state, created) VALUES (?, ?, 'admin',"
                   " 'active', ?)", (gid, outsider, cm.alerts.clock.iso()))
    with pytest.raises(Forbidden):
        cm.groups.post(gid, "横から", "他の市から", sid=outsider)
    with pytest.raises(Forbidden):
        cm.groups.reply(outsider, gid, pid, "他の市から")
    r = await client.post(f"/community/groups/{gid}/replies", data={"t": token_of(cm, outsider), "parent": str(pid),
                                                                     "body": "他の市から"})
    assert r.status == 403
    with cm.alerts.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM cm_posts WHERE group_id = ?", (gid,)) == 1
        assert tx.scalar("SELECT count(*) FROM cm_groups") == 1


async def test_ids_beyond_64_bits_are_not_found(cm, aiohttp_client):
    admin = resident(cm, "big@example.jp")
    gid, _ = cm.groups.create(cm.towns["komae_admin"], "13219", "大きな番号", admin)
    client = await aiohttp_client(public_app(cm.alerts.hub))
    huge = "99999999999999999999999"
    assert (await client.get(f"/community/groups/{huge}")).status == 404
    assert (await client.get(f"/community/groups/{2**63}")).status == 404
    for path in ("join", "posts", "replies"):
        assert (await client.post(f"/community/groups/{huge}/{path}", data={"t": token_of(cm, admin)})).status == 404
    r = await client.post(f"/community/groups/{gid}/replies", data={"t": token_of(cm, admin), "parent": huge,
                                                                     "body": "はい"})
    assert r.status == 404
