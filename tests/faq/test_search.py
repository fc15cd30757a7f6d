"""faq.search: the engine on a small hand-written pool, and its quality on the real development queries."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faq.analyzer import Analyzer
from faq.embedding import E5Encoder, EmbeddingCache, content_key
from faq.search import FaqIndex, Weights
from tests.faq import load_bench
from tests.shared_data import DATA as SHARED_DATA

DATA = SHARED_DATA
FAQ = DATA / "faq"

POOL = [
    {"id": "gomi", "question": "ごみの分別と収集日を知りたい", "answer": "燃やすごみは週2回、資源ごみは週1回収集します。"},
    {"id": "sodai", "question": "粗大ごみの出し方", "answer": "粗大ごみは電話で申し込んでください。手数料がかかります。"},
    {"id": "kokuho", "question": "国民健康保険料の計算方法は？", "answer": "所得割と均等割で計算します。"},
    {"id": "mynumber", "question": "個人番号カードを申請したい", "answer": "申請書を郵送するか、窓口で申請できます。"},
    {"id": "tenshutsu", "question": "引っ越しのときの転出届", "answer": "転出届は引っ越しの前に市民課へ提出してください。"},
    {"id": "library", "question": "図書館の本の返却期限が過ぎた", "answer": "早めに返却してください。延長はできません。"},
    {"id": "hoiku", "question": "保育所の入所申し込み", "answer": "保育所の入所は、こども未来課で受け付けます。"},
    {"id": "taiso", "question": "ぽこにゃん体操の会場はどこ？", "answer": "市民体育館で毎週開催しています。"},
    {"id": "html", "question": "a<b の記号を含む質問 & 回答", "answer": "エスケープの確認。"},
]


class CountingEncoder:
    """The real e5 encoder, counting the passages it embeds."""

    def __init__(self, inner: E5Encoder) -> None:
        self.inner, self.name, self.dim, self.embedded = inner, inner.name, inner.dim, 0

    def queries(self, texts: list[str]) -> np.ndarray:
        return self.inner.queries(texts)

    def passages(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.passages(texts)


@pytest.fixture(scope="module")
def encoder() -> E5Encoder:
    return E5Encoder()


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture(scope="module")
def pool(encoder: E5Encoder, analyzer: Analyzer) -> FaqIndex:
    return FaqIndex.build(POOL, analyzer=analyzer, encoder=encoder)


def ids(index: FaqIndex, query: str, mode: str = "fused", k: int = 3) -> list[str]:
    return [h.id for h in index.search(query, k, mode=mode)]  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["fused", "lexical"])
@pytest.mark.parametrize(("query", "expected"), [
    ("ゴミの収集日", "gomi"),  # katakana ゴミ finds ごみ
    ("粗大ゴミ", "sodai"),
    ("国保の保険料", "kokuho"),  # synonym 国保 = 国民健康保険
    ("こくほ", "kokuho"),  # typed as heard on the phone
    ("マイナンバーカードの申請", "mynumber"),  # synonym マイナンバー = 個人番号
    ("引越しの手続き", "tenshutsu"),  # 引越し = 引っ越し
    ("子どもを保育園に入れたい", "hoiku"),
])
def test_variants_and_synonyms_match(pool: FaqIndex, query: str, expected: str, mode: str) -> None:
    assert ids(pool, query, mode)[0] == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("ぽこにゃん", "taiso"),  # out of vocabulary: found by character bigrams
    ("ぽこに", "taiso"),  # typed so far
    ("国民健", "kokuho"),
    ("税", None),  # one character, a word: may or may not match, must not fail
    ("図", "library"),  # one character typed so far
])
def test_short_and_oov_queries_return_results(pool: FaqIndex, query: str, expected: str | None) -> None:
    hits = pool.search(query, 3)
    if expected:
        assert hits and hits[0].id == expected
    assert all(h.score > 0 for h in hits)


@pytest.mark.parametrize(("query", "expected"), [
    ("How do I dispose of bulky garbage?", "sodai"),
    ("library book overdue", "library"),
    ("national health insurance premium", "kokuho"),
])
def test_english_query_finds_the_japanese_entry(pool: FaqIndex, query: str, expected: str) -> None:
    assert expected in ids(pool, query, "fused", k=2)
    assert expected in ids(pool, query, "lexical", k=2)


def test_highlights_mark_the_query_terms(pool: FaqIndex) -> None:
    hit = pool.search("ゴミの収集日", 1)[0]
    assert hit.highlights == "<mark>ごみ</mark>の分別と<mark>収集日</mark>を知りたい"
    hit = pool.search("国保", 1)[0]
    assert "<mark>国民健康保険</mark>" in hit.highlights
    hit = pool.search("国民健", 1)[0]  # search-as-you-type: the partial word is marked
    assert hit.highlights.startswith("<mark>国民健")
    hit = pool.search("記号", 1)[0]
    assert hit.id == "html" and hit.highlights == "a&lt;b の<mark>記号</mark>を含む質問 &amp; 回答"


def test_empty_and_punctuation_queries_return_nothing(pool: FaqIndex) -> None:
    assert pool.search("", 5) == [] and pool.search("、。！？", 5) == []


def test_dense_ranking_finds_paraphrases_without_shared_words(pool: FaqIndex) -> None:
    assert ids(pool, "本を返すのが遅れてしまった", "dense", k=2)[0] == "library"


def test_embeddings_are_cached_by_content(tmp_path: Path, encoder: E5Encoder, analyzer: Analyzer) -> None:
    counting = CountingEncoder(encoder)
    FaqIndex.build(POOL, analyzer=analyzer, encoder=counting, cache_dir=tmp_path)
    assert counting.embedded == 2 * len(POOL)
    changed = [dict(e) for e in POOL]
    changed[0]["answer"] = "燃やすごみは月曜と木曜です。"
    again = FaqIndex.build(changed, analyzer=analyzer, encoder=counting, cache_dir=tmp_path)
    assert counting.embedded == 2 * len(POOL) + 1  # only the edited answer
    assert again.search("ゴミ", 1)[0].id == "gomi"
    assert len(EmbeddingCache(tmp_path).load(encoder.name)) == 2 * len(POOL) + 1


def test_cache_keys_survive_trailing_nul_bytes(tmp_path: Path) -> None:
    text = next(t for t in (f"質問{i}" for i in range(100_000)) if content_key("m", t).endswith(b"\0"))
    cache = EmbeddingCache(tmp_path)
    cache.save("m", {content_key("m", text): np.ones(4, dtype=np.float32)})
    assert content_key("m", text) in cache.load("m")


# --- quality floor on the real development set ---------------------------------------------------------
@pytest.fixture(scope="module")
def dev_set():
    if not (FAQ / "corpus.json").exists():
        pytest.fail(f"FAQ data missing: {FAQ}")
    bench = load_bench()
    entries, dev = bench.load()
    return bench, entries, dev


def test_quality_beats_the_bigram_baseline_on_the_development_queries(
        dev_set, analyzer: Analyzer, encoder: E5Encoder, request: pytest.FixtureRequest) -> None:
    bench, entries, dev = dev_set
    baseline = bench.bigram_baseline(entries, dev)["ndcg@10"]
    # question vectors only (the answer vectors take ~15 min to embed cold on 2 cores); cached across runs
    cache = Path(request.config.cache.mkdir("faq-embeddings"))
    index = FaqIndex.build(entries, analyzer=analyzer, encoder=encoder, cache_dir=cache,
                           weights=Weights(dense_question=1.0))
    lexical = bench.quality(index, dev, "lexical")["ndcg@10"]
    fused = bench.quality(index, dev, "fused")["ndcg@10"]
    print(json.dumps({"bigram": baseline, "lexical": lexical, "fused": fused}))
    assert lexical > baseline + 0.1
    assert fused > lexical
