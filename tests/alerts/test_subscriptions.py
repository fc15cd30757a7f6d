"""Subscriptions on both stores: double opt-in, signed links, unsubscribe deletes, encryption at rest, rate
limits, purge of unconfirmed sign-ups; the inbound SMTP server for 空メール and DSN bounces."""
from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import aiosmtplib
import pytest

from alerts.inbound import start_inbound
from machihub.errors import Invalid, NotFound, TooManyRequests
from machihub.principal import SYSTEM
from tests.alerts.conftest import chome_alert, free_port, send
from tests.alerts.test_mail import DSN

TOWN = [{"kind": "town"}]


def choices(al, **kw):
    args = {"topics": ["crime"], "area_specs": TOWN, "language": "ja"} | kw
    return al.subscribers.choices("13219", **args)


def work(al):
    return asyncio.run(al.run_worker("test", until_idle=True))


def link(smtp, address: str, path: str) -> str:
    text = smtp.to(address)[-1].message.get_content()
    return re.search(rf"https://portal\.example\.jp/alerts/{path}/(\S+)", text).group(1)


def test_double_opt_in_links_and_unsubscribe(al, smtp):
    al.subscribers.signup("13219", "Taro@Example.JP", choices(al, language="en"), client="10.0.0.1")
    with al.db.transaction() as tx:
        assert tx.scalar("SELECT status FROM al_subscribers") == "pending"
        dump = json.dumps(tx.query("SELECT * FROM al_contacts") + tx.query("SELECT * FROM al_outbox"), default=str)
    assert "Taro@" not in dump and "example.jp" not in dump.lower()     # contacts and queued mail are sealed
    send(al, chome_alert())                                              # pending: gets no alerts
    work(al)
    assert [r.rcpt_tos for r in smtp.received] == [["Taro@example.jp"]]
    confirm = link(smtp, "Taro@example.jp", "confirm")
    assert "List-Unsubscribe" not in smtp.received[0].message
    with pytest.raises(NotFound):
        al.subscribers.view(confirm)                  # a confirm link opens nothing else
    prefs = al.subscribers.confirm(confirm)
    sub = al.subscribers.view(prefs)
    assert sub.status == "active" and sub.email == "Taro@example.jp" and sub.topics == ["crime"]
    assert sub.areas == [{"kind": "town", "name": "狛江市"}]
    sub = al.subscribers.update(prefs, choices(al, topics=["weather", "quake"], quiet_start="22:00", quiet_end="6:30",
                                               area_specs=[{"kind": "chome", "name": "和泉本町一丁目"},
                                                           {"kind": "point", "lat": 35.63, "lon": 139.58, "radius_m": 500}]))
    assert sub.topics == ["weather", "quake"] and (sub.quiet_start, sub.quiet_end) == (22 * 60, 6 * 60 + 30)
    assert sub.areas[1]["kind"] == "point" and sub.areas[1]["radius_m"] == 500
    with pytest.raises(NotFound):
        al.subscribers.view(prefs[:-2] + "xx")        # tampered link
    with pytest.raises(NotFound):
        al.subscribers.unsubscribe(prefs.replace(".p.", ".u."))   # a MAC is bound to its purpose
    al.subscribers.unsubscribe(prefs)                             # the preferences page can unsubscribe too
    with al.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM al_subscribers") == 0
        assert tx.scalar("SELECT count(*) FROM al_contacts") == 0 and tx.scalar("SELECT count(*) FROM al_sub_areas") == 0
    with pytest.raises(NotFound):
        al.subscribers.view(prefs)


def test_registered_address_gets_its_link_not_a_second_subscription(al, smtp):
    al.admin.import_subscribers(SYSTEM, "13219", [{"email": "hanako@example.jp", "topics": ["crime"], "areas": TOWN}])
    al.subscribers.signup("13219", "hanako@example.jp", choices(al))
    work(al)
    assert "/alerts/p/" in smtp.to("hanako@example.jp")[0].message.get_content()
    with al.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM al_subscribers") == 1


def test_rate_limits_and_purge(al, smtp):
    for _ in range(3):
        al.subscribers.signup("13219", "victim@example.jp", choices(al), client="10.0.0.9")
    with pytest.raises(TooManyRequests):
        al.subscribers.signup("13219", "victim@example.jp", choices(al), client="10.0.0.10")
    for i in range(7):
        al.subscribers.signup("13219", f"x{i}@example.jp", choices(al), client="10.0.0.9")
    with pytest.raises(TooManyRequests):
        al.subscribers.signup("13219", "y@example.jp", choices(al), client="10.0.0.9")
    with al.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM al_subscribers WHERE status = 'pending'") == 8
    al.clock.advance(timedelta(hours=49))
    assert al.subscribers.purge() == 8
    with al.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM al_contacts") == 0


def test_bad_choices_name_the_problem(al):
    cases = [({"topics": []}, "at least one kind"), ({"area_specs": []}, "at least one area"),
             ({"topics": ["gossip"]}, "unknown topic"),
             ({"area_specs": [{"kind": "chome", "name": "どこか"}]}, "no chome area"),
             ({"area_specs": [{"kind": "point", "lat": 35.63, "lon": 139.58, "radius_m": 99999}]}, "radius"),
             ({"area_specs": [{"kind": "point", "lat": 34.3, "lon": 134.0, "radius_m": 500}]}, "not in or near"),
             ({"quiet_start": "22:00"}, "quiet hours"), ({"language": "xx"}, "language")]
    for kw, message in cases:
        with pytest.raises((Invalid, NotFound), match=message):
            choices(al, **kw)
    with pytest.raises(Invalid, match="mail address"):
        al.subscribers.signup("13219", "not-an-address", choices(al))


def test_push_subscription_checks(al):
    good = {"endpoint": "https://push.example.com/abc", "keys": {"p256dh": "B" * 87, "auth": "a" * 22}}
    token = al.subscribers.push_subscribe("13219", good, choices(al))
    assert al.subscribers.view(token).push
    assert al.subscribers.push_subscribe("13219", good, choices(al)) != token   # same browser: replaced, not doubled
    with al.db.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM al_contacts WHERE kind = 'webpush'") == 1
    for bad in ({"endpoint": "http://push.example.com/x", "keys": good["keys"]}, {"endpoint": good["endpoint"]}):
        with pytest.raises(Invalid):
            al.subscribers.push_subscribe("13219", bad, choices(al))
    assert al.subscribers.push_unsubscribe("https://push.example.com/abc")


async def test_inbound_empty_mail_signup_and_bounces(al, smtp):
    port = free_port()
    handler = al.inbound_handler()
    server = await start_inbound(handler, "127.0.0.1", port)
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await client.connect()
        await client.sendmail("taro.@docomo.ne.jp", ["entry-13219@example.lg.jp"], b"Subject: \r\n\r\n")
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
            await client.sendmail("spam@example.com", ["postmaster@example.lg.jp"], b"Subject: x\r\n\r\nhi\r\n")
        await al.run_worker("t", until_idle=True)
        mail = smtp.to("taro.@docomo.ne.jp")[0].message
        token = re.search(r"/alerts/signup/(\S+)", mail.get_content()).group(1)
        assert await asyncio.to_thread(al.subscribers.signup_token, token) == ("13219", "taro.@docomo.ne.jp")
        prefs = await asyncio.to_thread(al.subscribers.complete_mail_signup, token, "13219", choices(al))
        assert (await asyncio.to_thread(al.subscribers.view, prefs)).status == "active"
        with pytest.raises(NotFound):
            await asyncio.to_thread(al.subscribers.signup_token, token)         # one time only
        # a hard bounce of an alert mail suppresses the address
        alert_id = await asyncio.to_thread(send, al, chome_alert())
        await al.run_worker("t", until_idle=True)
        verp = smtp.to("taro.@docomo.ne.jp")[-1].mail_from
        await client.sendmail("", [verp], DSN)
        await client.sendmail("", ["bounce+1-forged@city.example.lg.jp"], DSN)
        await client.quit()
        assert [o for _, o in handler.results] == ["signup", "hard", "unknown"]
        stats = await asyncio.to_thread(al.outbox.stats, alert_id)
        assert stats["bounced"] == 1
        await asyncio.to_thread(send, al, chome_alert(headline="次"))
        with al.db.transaction() as tx:
            assert tx.scalar("SELECT count(*) FROM al_suppressions") == 1
            assert tx.scalar("SELECT count(*) FROM al_outbox WHERE alert_id > ?", (alert_id,)) == 0
    finally:
        server.close()
        await server.wait_closed()
