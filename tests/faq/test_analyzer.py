"""faq.analyzer: normalisation, lemmas, variants, synonyms, grams, English; tokens usable by FTS5."""
from __future__ import annotations

import sqlite3

import pytest

from faq.analyzer import GRAM_PREFIX, Analyzer, index_tokens, query_tokens
from faq.english import stem
from faq.normalize import fold_kana, normalize_with_map


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def terms(analyzer: Analyzer, text: str) -> list[str]:
    return [t.text for t in analyzer.analyze(text).terms]


def test_normalisation_keeps_a_map_to_the_original() -> None:
    norm, src = normalize_with_map("ｺﾞﾐＡ１")
    assert norm == "ゴミa1"
    assert [src[i] for i in range(len(norm))] == [0, 2, 3, 4]  # ｺﾞ is two source characters
    assert fold_kana("ゴミ・マイナンバー") == "ごみ・まいなんばー"


@pytest.mark.parametrize("variants", [
    ["ゴミ", "ごみ", "塵", "ｺﾞﾐ"],
    ["引越し", "引っ越し", "引越"],
    ["子供", "子ども", "こども"],
    ["問合せ", "問い合わせ"],
    ["申込み", "申し込み"],
])
def test_orthographic_variants_give_one_term(analyzer: Analyzer, variants: list[str]) -> None:
    seen = {tuple(terms(analyzer, v)) for v in variants}
    assert len(seen) == 1, seen
    assert all(seen)


@pytest.mark.parametrize(("short", "long"), [
    ("国保", "国民健康保険"),
    ("マイナンバー", "個人番号"),
    ("マイナンバーカード", "個人番号カード"),
    ("印鑑証明", "印鑑登録証明書"),
    ("母子手帳", "母子健康手帳"),
])
def test_synonyms_index_as_one_form(analyzer: Analyzer, short: str, long: str) -> None:
    assert terms(analyzer, short) == terms(analyzer, long)
    assert set(analyzer.index_tokens(f"{long}について")) >= set(terms(analyzer, short))


def test_particles_auxiliaries_and_request_phrases_are_dropped(analyzer: Analyzer) -> None:
    got = terms(analyzer, "ごみの出し方を教えてください。")
    assert "の" not in got and "を" not in got and "ください" not in got and "教える" not in got
    assert "出す" in got
    assert terms(analyzer, "知りたいのですが") == []


def test_one_way_expansion_only_in_queries(analyzer: Analyzer) -> None:
    q = analyzer.analyze("引っ越しをしました", query=True)
    assert "転入" in q.added
    assert "転入" not in analyzer.index_tokens("引っ越しをしました")


def test_grams_cover_out_of_vocabulary_words(analyzer: Analyzer) -> None:
    a = analyzer.analyze("ぽこにゃん体操の会場")
    grams = [g.text for g in a.grams]
    assert GRAM_PREFIX + "体操" in grams and GRAM_PREFIX + "ぽこ" in grams
    # katakana and hiragana grams match each other
    assert GRAM_PREFIX + "ごみ" in analyzer.index_tokens("ゴミ袋")


def test_english_is_lowercased_stemmed_and_glossed(analyzer: Analyzer) -> None:
    assert stem("Moving") == stem("move") and stem("taxes") == "tax" and stem("libraries") == "library"
    q = analyzer.analyze("Where do I put bulky Garbage?", query=True)
    assert [t.text for t in q.terms] == ["put", "bulky", "garbag"]
    japanese = set(terms(analyzer, "粗大ごみ"))
    assert japanese <= set(q.added)
    assert set(analyzer.analyze("residence certificate", query=True).added) >= set(terms(analyzer, "住民票"))


def test_token_offsets_point_into_the_original_text(analyzer: Analyzer) -> None:
    text = "【国保】ｺﾞﾐ袋について"
    for tok in analyzer.analyze(text).terms + analyzer.analyze(text).grams:
        assert 0 <= tok.start < tok.end <= len(text)
    spans = {t.text: text[t.start:t.end] for t in analyzer.analyze(text).terms}
    assert spans["国民"] == "国保"  # a rewritten synonym keeps the span of what was written
    assert spans[terms(analyzer, "ゴミ袋")[0]] == "ｺﾞﾐ袋"


def test_module_helpers_and_tokens_are_plain_words() -> None:
    toks = index_tokens("住民票の写しを取りたい。ＪＲ尼崎駅の近く、Ｅメールで") + query_tokens("国保 & <tax>")
    assert toks
    for tok in toks:
        assert tok == tok.strip() and " " not in tok
        assert all(ch.isalnum() or ch == "ー" for ch in tok), tok


def test_tokens_index_and_match_in_sqlite_fts5(analyzer: Analyzer) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(tokens, tokenize='unicode61 remove_diacritics 0')")
    docs = {1: "ごみの分別と収集日について", 2: "国民健康保険料の計算方法", 3: "図書館の本の返却期限"}
    for rowid, text in docs.items():
        db.execute("INSERT INTO f(rowid, tokens) VALUES (?, ?)", (rowid, " ".join(analyzer.index_tokens(text))))

    def search(query: str) -> list[int]:
        match = " OR ".join(f'"{t}"' for t in analyzer.query_tokens(query))
        return [r for (r,) in db.execute("SELECT rowid FROM f WHERE f MATCH ? ORDER BY bm25(f)", (match,))]

    assert search("ゴミ")[0] == 1
    assert search("国保の金額")[0] == 2
    assert search("library book")[0] == 3


def test_a_reading_typed_in_hiragana_finds_the_word(analyzer: Analyzer) -> None:
    """Call-center staff type what they hear: こくほ is read as particles by the dictionary, as a query it is 国保."""
    assert [t.text for t in analyzer.analyze("こくほ", query=True).terms] == terms(analyzer, "国民健康保険")
    assert [t.text for t in analyzer.analyze("ごみ", query=True).terms] == terms(analyzer, "ゴミ")  # words stay words
    assert analyzer.analyze("ください", query=True).terms == []  # a function word stays one
