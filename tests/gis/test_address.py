"""gis/address.py against the real Geolonia town lists; municipality names come from the N03 boundaries."""
from __future__ import annotations

import json

import pytest

from gis.address import AddressIndex
from machihub.errors import Invalid
from tests.shared_data import DATA as SHARED_DATA

DATA = SHARED_DATA / "gis"
ADDRESSES = DATA / "addresses"


def _towns(code: str) -> list[dict]:
    return json.loads(next(ADDRESSES.glob(f"{code}_*.json")).read_text(encoding="utf-8"))


def _town(code: str, town: str, koaza: str = "") -> dict:
    return next(t for t in _towns(code) if t["town"] == town and t["koaza"] == koaza)


@pytest.fixture(scope="module")
def names() -> dict[str, str]:
    codes = {p.name[:5] for p in ADDRESSES.glob("*.json")}
    doc = json.loads((DATA / "boundaries" / "N03-21_210101_s0001.json").read_text(encoding="utf-8"))
    out = {}
    for f in doc["features"]:
        p = f["properties"]
        if p["N03_007"] in codes:
            out[p["N03_007"]] = (p["N03_001"] or "") + (p["N03_003"] or "") + (p["N03_004"] or "")
    assert set(out) == codes
    return out


@pytest.fixture(scope="module")
def index(names) -> AddressIndex:
    return AddressIndex.from_dir(ADDRESSES, names=names)


@pytest.mark.parametrize("text", ["東京都狛江市岩戸南1-5-10", "東京都狛江市岩戸南１－５－１０", "狛江市岩戸南一丁目5番10号",
                                  "東京都 狛江市 岩戸南 1丁目 5-10", "岩戸南1丁目5-10"])
def test_komae_iwado_minami_1(index, text):
    m = index.lookup(text)
    expected = _town("13219", "岩戸南一丁目")
    assert (m.tenant_code, m.town, m.lat, m.lng) == ("13219", "岩戸南一丁目", expected["lat"], expected["lng"])
    assert m.rest.replace("番", "-").replace("号", "").replace("５", "5").replace("－", "-").replace("１０", "10") \
        == "5-10"


def test_every_town_in_every_file_finds_itself(index, names):
    for path in sorted(ADDRESSES.glob("*.json")):
        code = path.name[:5]
        for t in _towns(code):
            for text, tenant in ((names[code] + t["town"] + t["koaza"] + "12", None),
                                 (t["town"] + t["koaza"], code)):
                m = index.lookup(text, tenant)
                assert m is not None and (m.town, m.koaza, m.lat, m.lng) == \
                    (t["town"], t["koaza"], t["lat"], t["lng"]), text


def test_variants_and_koaza(index):
    sakura = _town("34302", "桜ヶ丘")
    for spelling in ("府中町桜ケ丘1-1", "府中町桜が丘1-1", "安芸郡府中町桜ヶ丘"):
        assert (index.lookup(spelling).lat, index.lookup(spelling).lng) == (sakura["lat"], sakura["lng"])
    m = index.lookup("兵庫県小野市王子町山ノ下123")
    assert (m.town, m.koaza, m.rest) == ("王子町", "山ノ下", "123")
    m = index.lookup("芽室町上美生11線5番地")
    assert m.town == "上美生十一線"


def test_chome_against_plain_town(index):
    """高松市 has both 今里町 and 今里町一丁目: '今里町1-5' is the 丁目, '今里町1234' the plain town."""
    assert index.lookup("高松市今里町1-5").town == "今里町一丁目"
    assert index.lookup("高松市今里町1234").town == "今里町"


def test_unknown_and_ambiguous(index):
    assert index.lookup("東京都狛江市存在しない町1-2") is None
    assert index.lookup("") is None
    # 本町一丁目 exists in 小野市 and 府中町: without a municipality it is not guessed.
    assert index.lookup("本町一丁目") is None
    assert index.lookup("本町一丁目", tenant_code="28218").tenant_code == "28218"
    assert index.lookup("小野市本町1-2").tenant_code == "28218"
    assert index.lookup("岩戸南1-5-10", tenant_code="37201") is None


def test_suggest(index):
    got = index.suggest("狛江市岩戸南", limit=3)
    assert [m.town for m in got] == ["岩戸南一丁目", "岩戸南二丁目", "岩戸南三丁目"]
    assert [m.town for m in index.suggest("岩戸", tenant_code="13219", limit=10)] == \
        sorted([t["town"] for t in _towns("13219") if t["town"].startswith("岩戸")],
               key=lambda s: (s[:3], "一二三四五".index(s[3])))
    assert index.suggest("ｲﾜﾄ") == []


def test_names_as_the_tenant_store_gives_them():
    """compose.py passes [prefecture + name, name] per tenant; the county (郡) is optional in the text."""
    index = AddressIndex.from_dir(ADDRESSES, {"01637": ["北海道芽室町", "芽室町"], "34302": ["広島県府中町", "府中町"]})
    for text in ("北海道河西郡芽室町上美生十一線5", "芽室町上美生11線", "河西郡芽室町上美生十一線"):
        assert index.lookup(text).town == "上美生十一線"
    assert index.lookup("広島県安芸郡府中町本町1-2").tenant_code == "34302"


def test_without_names_the_municipality_is_still_skipped():
    index = AddressIndex.from_files(sorted(ADDRESSES.glob("*.json")))
    assert index.lookup("東京都狛江市岩戸南1-5-10").town == "岩戸南一丁目"
    assert index.lookup("香川県高松市福岡町二丁目2-1").town == "福岡町二丁目"


def test_bad_files(tmp_path):
    (tmp_path / "komae.json").write_text("[]", encoding="utf-8")
    with pytest.raises(Invalid, match="5-digit code"):
        AddressIndex.from_files([tmp_path / "komae.json"])
    (tmp_path / "13219_x.json").write_text('[{"town": "岩戸南", "lat": "north"}]', encoding="utf-8")
    with pytest.raises(Invalid, match="entry 1"):
        AddressIndex.from_files([tmp_path / "13219_x.json"])
