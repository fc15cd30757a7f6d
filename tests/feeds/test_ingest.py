"""feeds.ingest on both stores: every sample telegram goes through; drills reach no resident; 取消 cancels;
a repeated or older telegram changes nothing; 特別警報 and 震度5弱 in the town are sent at once."""
from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path

import pytest

from feeds.ingest import FeedIngest
from machihub.principal import SYSTEM
from tests.alerts import conftest as alert_fixtures
from tests.alerts.conftest import dispatcher
from tests.shared_data import DATA

JMA = DATA / "jma"
SAMPLES = sorted(JMA.glob("*.xml"))

smtp = alert_fixtures.smtp  # the real aiosmtpd sink on loopback


def retarget(name: str, pairs: dict[str, str]) -> bytes:
    """A sample telegram with some of its text replaced (e.g. a town code moved to one of our tenants)."""
    text = (JMA / name).read_text(encoding="utf-8")
    for old, new in pairs.items():
        assert old in text, old
        text = text.replace(old, new)
    return text.encode("utf-8")


@pytest.fixture
def feeds(hub, towns, smtp):
    al = dispatcher(hub, towns, smtp)
    al.admin.import_subscribers(SYSTEM, "37201", [{"email": "resident@example.jp", "topics": ["weather", "quake"],
                                                   "areas": [{"kind": "town"}]}])
    al.admin.import_subscribers(SYSTEM, "13219", [{"email": "komae@example.jp", "topics": ["weather", "quake"],
                                                   "areas": [{"kind": "town"}]}])
    al.admin.import_subscribers(SYSTEM, "13219", [{"email": "staff@example.jp", "topics": ["weather", "quake"],
                                                   "areas": [{"kind": "town"}]}], audience="staff")
    return FeedIngest(hub)


def work(hub) -> None:
    asyncio.run(hub.alerts.run_worker("test", until_idle=True))


def test_every_sample_is_stored_and_read_from_the_file(feeds, hub):
    for path in SAMPLES:
        raw = path.read_bytes()
        result = feeds.ingest_jma(raw)
        assert result.outcome in ("accepted", "older"), (path.name, result)
        text = raw.decode()
        row = next(r for r in feeds.telegrams() if r["id"] == result.telegram_id)
        assert row["title"] == re.search(r"<Control>\s*<Title>([^<]+)", text).group(1)
        assert row["status"] == re.search(r"<Status>([^<]+)", text).group(1)
        assert row["info_type"] == re.search(r"<InfoType>([^<]+)", text).group(1)
        assert row["headline"] == (feeds_headline(text) or row["headline"])
        assert row["is_drill"] == int(row["status"] in ("訓練", "試験"))
        reported = datetime.fromisoformat(re.search(r"<ReportDateTime>([^<]+)", text).group(1))
        assert datetime.fromisoformat(row["report_dt"]) == reported
    assert len(feeds.telegrams()) == len(SAMPLES)


def feeds_headline(text: str) -> str | None:
    m = re.search(r"<Headline>\s*<Text>([^<]*)</Text>", text)
    return m.group(1).strip() if m and m.group(1).strip() else None


def test_repeated_telegram_changes_nothing(feeds, hub):
    raw = retarget("15_08_01_130412_VPWW53.xml", {"2920100": "3720100"})
    first = feeds.ingest_jma(raw)
    assert first.outcome == "accepted" and first.alerts and first.alerts[0][2] == "sending"
    before = [(r.id, r.state) for r in hub.alerts.lifecycle.list("37201")]
    again = feeds.ingest_jma(raw)
    assert again.outcome == "duplicate" and again.telegram_id == first.telegram_id
    assert [(r.id, r.state) for r in hub.alerts.lifecycle.list("37201")] == before
    assert next(r for r in feeds.telegrams() if r["id"] == first.telegram_id)["seen"] == 2


def test_special_warning_is_sent_at_once_in_plain_japanese(feeds, hub, smtp):
    raw = retarget("15_08_01_130412_VPWW53.xml", {"2920100": "3720100"})
    result = feeds.ingest_jma(raw)
    (code, alert_id, state), = result.alerts
    assert code == "37201" and state == "sending"
    alert = hub.alerts.lifecycle.get(alert_id).alert
    assert alert.texts["ja"].headline == "高松市に大雨特別警報。命を守る行動を。"
    assert alert.severity == "Extreme" and ("JIS-X0402", "37201") in alert.areas[0].geocodes
    work(hub)
    assert [r.rcpt_tos for r in smtp.received] == [["resident@example.jp"]]


def test_older_telegram_changes_nothing(feeds, hub):
    newer = retarget("15_08_02_130412_VPWW53.xml", {"2920100": "3720100"})
    older = retarget("15_08_01_130412_VPWW53.xml", {"2920100": "3720100"})
    assert feeds.ingest_jma(newer).outcome == "accepted"
    before = [(r.id, r.state) for r in hub.alerts.lifecycle.list("37201")]
    assert feeds.ingest_jma(older).outcome == "older"
    assert [(r.id, r.state) for r in hub.alerts.lifecycle.list("37201")] == before


def test_drill_reaches_staff_only(feeds, hub, smtp):
    text = retarget("32-35_01_03_240613_VXSE53.xml", {"1310700": "1321900"}).decode()
    text = re.sub(r"(<Code>1321900</Code>\s*<MaxInt>)[^<]+", r"\g<1>6-", text)  # strong enough to send at once
    result = feeds.ingest_jma(text.encode())
    assert result.outcome == "accepted"
    rows = hub.alerts.lifecycle.list("13219")
    assert rows and all(r.alert.status == "Exercise" for r in rows)
    work(hub)
    got = {a for r in smtp.received for a in r.rcpt_tos}
    assert got == {"staff@example.jp"}
    assert "komae@example.jp" not in got and "resident@example.jp" not in got


def quake_for_takamatsu(serial: str = "1") -> bytes:
    return retarget("32-35_04_04_240613_VXSE53.xml", {"4320100": "3720100"})


def test_strong_quake_in_town_is_sent_and_cancel_cancels(feeds, hub, smtp):
    text = quake_for_takamatsu().decode()
    # the town observed 震度5弱 (the sample's 熊本市 entry, moved to 高松市)
    text = re.sub(r"(<Code>3720100</Code>\s*<MaxInt>)[^<]+", r"\g<1>5-", text)
    result = feeds.ingest_jma(text.encode())
    (_, alert_id, state), = result.alerts
    assert state == "sending"
    assert hub.alerts.lifecycle.get(alert_id).alert.texts["ja"].headline.startswith("高松市で震度5弱の地震")
    cancel = retarget("32-35_06_06_100915_VXSE53.xml", {"20080614084350": "20100125161517",
                                                         "2008-06-14T09:06:00+09:00": "2010-01-25T16:30:00+09:00"})
    assert feeds.ingest_jma(cancel).outcome == "accepted"
    assert hub.alerts.lifecycle.get(alert_id).state == "cancelled"
    cancels = [r for r in hub.alerts.lifecycle.list("37201") if r.alert.msg_type == "Cancel"]
    assert cancels and cancels[0].alert.references[0].identifier == hub.alerts.lifecycle.get(alert_id).alert.identifier


def test_invalid_telegram_is_stored_with_a_reason(feeds):
    result = feeds.ingest_jma(b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")
    assert result.outcome == "invalid" and result.detail
    assert feeds.telegrams()[0]["outcome"] == "invalid"


def test_cap_11_is_refused_with_a_reason(feeds):
    cap11 = b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"><identifier>x</identifier></alert>'
    result = feeds.ingest_cap(cap11, "37201")
    assert result.outcome == "refused" and "1.1" in result.detail or "namespace" in result.detail


def test_other_types_are_stored_for_staff(feeds):
    result = feeds.ingest_jma((JMA / "24_04_01_100806_VPFD50.xml").read_bytes())
    assert result.outcome == "accepted" and not result.alerts
    assert feeds.telegrams()[0]["type_code"] == "VPFD50"


def test_samples_exist():
    assert len(SAMPLES) >= 25 and all(isinstance(p, Path) for p in SAMPLES)


def test_residents_read_what_to_do_in_their_language(feeds, hub, smtp):
    """震度5弱 observed in the town: each subscriber gets the short text, with what to do, in the language they
    chose (the town's kanji name for Chinese and やさしい日本語, its romanised name for the others)."""
    langs = {"ko": "ko@docomo.ne.jp", "vi": "vi@example.jp", "pt": "pt@example.jp", "zh-Hant": "zh@example.jp",
             "ja-x-easy": "easy@softbank.ne.jp"}
    hub.alerts.admin.import_subscribers(SYSTEM, "37201", [
        {"email": email, "topics": ["quake"], "areas": [{"kind": "town"}], "language": lang}
        for lang, email in langs.items()])
    text = re.sub(r"(<Code>3720100</Code>\s*<MaxInt>)[^<]+", r"\g<1>5-", quake_for_takamatsu().decode())
    (_, alert_id, state), = feeds.ingest_jma(text.encode()).alerts
    assert state == "sending"
    texts = hub.alerts.lifecycle.get(alert_id).alert.texts
    assert set(texts) == {"ja", "en", "ja-x-easy", "zh-Hans", "zh-Hant", "ko", "vi", "pt"}
    work(hub)
    mails = {r.rcpt_tos[0]: r.message for r in smtp.received}
    expected = {"ko@docomo.ne.jp": ("진도 5약", "Takamatsu", "여진에 주의", "대상 지역：", "수신 거부"),
                "vi@example.jp": ("cường độ địa chấn 5 yếu", "Takamatsu", "dư chấn", "Khu vực：", "Hủy đăng ký"),
                "pt@example.jp": ("intensidade sísmica 5 inferior", "Takamatsu", "réplicas", "Área：", "Cancelar"),
                "zh@example.jp": ("震度5弱", "高松市", "注意餘震", "對象地區：", "取消訂閱"),
                "easy@softbank.ne.jp": ("しんど 5じゃく", "高松市", "みを まもって", "うみや かわの ちかく", "ばしょ：")}
    for email, parts in expected.items():
        content = str(mails[email]["Subject"]) + mails[email].get_content()
        assert all(p in content for p in parts), (email, content)
        assert "Area：" not in content and "Unsubscribe" not in content  # no English labels left
        assert "〓" not in content
    # a carrier address gets ISO-2022-JP only when the text fits it (Japanese); Korean goes as UTF-8
    assert mails["easy@softbank.ne.jp"].get_content_charset() == "iso-2022-jp"
    assert mails["ko@docomo.ne.jp"].get_content_charset() == "utf-8"
    assert "高松市で震度5弱の地震" in mails["resident@example.jp"].get_content()  # Japanese readers as before


def test_town_with_islands_gets_polygons_in_cap_order(feeds, hub):
    """高松市's real boundary has islands (a MultiPolygon): the alert carries its parts as CAP polygons (lat,lon)."""
    from gis.boundaries import municipality_polygon

    boundary = municipality_polygon(DATA / "gis" / "boundaries" / "N03-21_37_210101_s0010.json", "37201")
    assert boundary.geom_type == "MultiPolygon"
    hub.tenants.add(SYSTEM, "37201", "高松市", name_en="Takamatsu", prefecture="香川県", boundary=boundary)
    (_, alert_id, _), = feeds.ingest_jma(retarget("15_08_01_130412_VPWW53.xml", {"2920100": "3720100"})).alerts
    polygons = hub.alerts.lifecycle.get(alert_id).alert.areas[0].polygons
    assert 1 <= len(polygons) <= 5
    lat, lon = polygons[0][0]
    assert 34.0 < lat < 34.6 and 133.9 < lon < 134.3  # 高松市, latitude first


def test_an_unexpected_failure_is_shown_and_retried(feeds, hub, tmp_path, monkeypatch):
    """A bug while applying a telegram is not passed off as 'accepted': staff see 'error', a drop-folder file goes
    to failed/ with the reason, and the same bytes delivered again (after the fix) are applied."""
    from feeds.poller import scan_drop_folder

    raw = retarget("15_08_01_130412_VPWW53.xml", {"2920100": "3720100"})
    (tmp_path / "a.xml").write_bytes(raw)

    def broken(self, t, plan):
        raise RuntimeError("boom")

    with monkeypatch.context() as m:
        m.setattr(FeedIngest, "_alert", broken)  # fault injection: the failure a bug would cause
        (result,) = scan_drop_folder(feeds, tmp_path)
    assert result.outcome == "error" and "boom" in result.detail
    assert "boom" in (tmp_path / "failed" / "a.xml.reason.txt").read_text(encoding="utf-8")
    assert feeds.telegrams()[0]["outcome"] == "error" and hub.alerts.lifecycle.list("37201") == []
    again = feeds.ingest_jma((tmp_path / "failed" / "a.xml").read_bytes())
    assert again.outcome == "accepted" and len(again.alerts) == 1
