"""Update and cancel semantics of JMA events on both stores: a newer telegram or a 訂正 that changes what
residents were told supersedes the alert (CAP Update referencing it; the published feeds show only the
update); a 取消 reaches exactly the subscribers the event's alerts reached; repeated or older telegrams
change nothing."""
from __future__ import annotations

import re

from feeds.cap import parse_cap
from feeds.publish import cap_document, public_items
from machihub.principal import SYSTEM
from tests.feeds.test_ingest import feeds, retarget, smtp, work  # noqa: F401 - fixtures

QUAKE = "32-35_04_04_240613_VXSE53.xml"
CANCEL = "32-35_06_06_100915_VXSE53.xml"


def quake(intensity: str, serial: int = 1, info_type: str = "発表") -> bytes:
    """The sample's 熊本市 entry moved to 高松市 with the given intensity, as report `serial` of the event."""
    text = retarget(QUAKE, {"4320100": "3720100", "<Serial>1</Serial>": f"<Serial>{serial}</Serial>",
                            "<InfoType>発表</InfoType>": f"<InfoType>{info_type}</InfoType>",
                            "2010-01-25T16:19:00+09:00": f"2010-01-25T16:{18 + serial}:00+09:00"}).decode()
    return re.sub(r"(<Code>3720100</Code>\s*<MaxInt>)[^<]+", rf"\g<1>{intensity}", text).encode()


def cancel() -> bytes:
    return retarget(CANCEL, {"20080614084350": "20100125161517",
                             "2008-06-14T09:06:00+09:00": "2010-01-25T16:30:00+09:00"})


def subscribe(hub, email: str) -> None:
    hub.alerts.admin.import_subscribers(SYSTEM, "37201", [{"email": email, "topics": ["quake"],
                                                           "areas": [{"kind": "town"}]}])


def only_alert(result) -> tuple[int, str]:
    (code, alert_id, state), = result.alerts
    assert code == "37201"
    return alert_id, state


def test_newer_report_supersedes_the_sent_alert(feeds, hub, smtp):  # noqa: F811
    first, _ = only_alert(feeds.ingest_jma(quake("5-")))
    work(hub)
    second, state = only_alert(feeds.ingest_jma(quake("6-", serial=2)))
    assert state == "sending" and second != first
    old, new = hub.alerts.lifecycle.get(first), hub.alerts.lifecycle.get(second)
    assert old.state == "superseded" and new.refers_to == first
    assert new.alert.msg_type == "Update"
    assert [r.identifier for r in new.alert.references] == [old.alert.identifier]
    published = [i for i in public_items(hub, "37201") if i.kind == "alert"]
    assert [i.id for i in published] == [second]
    cap = parse_cap(cap_document(published[0]))
    assert cap.msg_type == "Update" and [r.identifier for r in cap.references] == [old.alert.identifier]
    work(hub)
    assert len(smtp.to("resident@example.jp")) == 2  # the alert, then its update


def test_correction_with_the_same_content_is_an_update(feeds, hub):  # noqa: F811
    first, _ = only_alert(feeds.ingest_jma(quake("5-")))
    second, _ = only_alert(feeds.ingest_jma(quake("5-", serial=2, info_type="訂正")))
    assert hub.alerts.lifecycle.get(second).refers_to == first
    assert hub.alerts.lifecycle.get(second).alert.msg_type == "Update"


def test_update_of_an_alert_nobody_got_replaces_it_at_once(feeds, hub):  # noqa: F811
    first, state = only_alert(feeds.ingest_jma(quake("4")))
    assert state == "pending"  # 震度4: waits for an approver
    second, state = only_alert(feeds.ingest_jma(quake("5+", serial=2)))
    assert state == "sending"
    assert hub.alerts.lifecycle.get(first).state == "superseded"


def test_repeated_or_older_report_changes_nothing(feeds, hub):  # noqa: F811
    feeds.ingest_jma(quake("5-"))
    feeds.ingest_jma(quake("6-", serial=2))
    before = [(r.id, r.state, r.version) for r in hub.alerts.lifecycle.list("37201")]
    assert feeds.ingest_jma(quake("6-", serial=2)).outcome == "duplicate"
    assert feeds.ingest_jma(quake("7", serial=1)).outcome == "older"
    assert [(r.id, r.state, r.version) for r in hub.alerts.lifecycle.list("37201")] == before


def test_cancel_reaches_exactly_who_the_event_reached(feeds, hub, smtp):  # noqa: F811
    first, _ = only_alert(feeds.ingest_jma(quake("5-")))
    work(hub)
    subscribe(hub, "joined-before-update@example.jp")
    second, _ = only_alert(feeds.ingest_jma(quake("6-", serial=2)))
    work(hub)
    subscribe(hub, "joined-after@example.jp")
    told = {a for r in smtp.received for a in r.rcpt_tos}
    assert told == {"resident@example.jp", "joined-before-update@example.jp"}
    before = len(smtp.received)
    assert feeds.ingest_jma(cancel()).outcome == "accepted"
    assert hub.alerts.lifecycle.get(second).state == "cancelled"
    notice, = [r for r in hub.alerts.lifecycle.list("37201") if r.alert.msg_type == "Cancel"]
    assert notice.refers_to == second and notice.state == "sending"
    work(hub)
    assert {a for r in smtp.received[before:] for a in r.rcpt_tos} == told
    assert smtp.to("joined-after@example.jp") == []
