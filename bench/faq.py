"""FAQ search benchmark: quality on the development queries and query latency at 1.8k and 22k entries.

Reads ../shared/data/faq (or $MACHIHUB_SHARED_DATA/faq); the corpus is never shipped in the product.
Prints one JSON line. Passage vectors are cached in bench/out/faq-embeddings (first run embeds ~25k texts:
allow ~30 min on 2 cores; later runs only load them).

The 22k corpus: every entry is repeated 12 times (+ the first 568 a 13th time) as if shared by other towns:
the question gets a town label (【…市】), katakana/hiragana flipped in one kana run and a synonym swapped
where one applies; the answer is the same text (a shared answer, so its vector is reused).
"""
from __future__ import annotations

import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# run as `python bench/faq.py`: this file's folder must not shadow the faq package
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from faq.analyzer import Analyzer  # noqa: E402
from faq.bm25 import BM25  # noqa: E402
from faq.fusion import top_k  # noqa: E402
from faq.normalize import fold_kana, is_word_char, normalize  # noqa: E402
from faq.search import FaqIndex, Mode  # noqa: E402
from tests.shared_data import DATA as SHARED_DATA  # noqa: E402

DATA = SHARED_DATA / "faq"
CACHE = ROOT / "bench" / "out" / "faq-embeddings"
BIG = 22_000
TOWNS = ["高松市", "狛江市", "丸亀市", "坂出市", "善通寺市", "観音寺市", "さぬき市", "東かがわ市", "三豊市",
         "土庄町", "小豆島町", "三木町", "直島町"]


def load() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    corpus = json.loads((DATA / "corpus.json").read_text(encoding="utf-8"))
    dev = json.loads((DATA / "development.json").read_text(encoding="utf-8"))
    entries = [{"id": e["faq_id"], "question": e["question"], "answer": e["answer"]} for e in corpus]
    return entries, dev


def metrics(ranked: list[list[Any]], dev: list[dict[str, Any]]) -> dict[str, float]:
    """Hit@1, Hit@5, MRR@10, nDCG@10 with graded gains grade/log2(rank+1) and the ideal DCG from the grades."""
    h1 = h5 = mrr = ndcg = 0.0
    for ids, q in zip(ranked, dev, strict=True):
        rel = {str(k): float(v) for k, v in q["relevant"].items()}
        top = [str(i) for i in ids[:10]]
        first = next((r for r, i in enumerate(top) if i in rel), None)
        h1 += first == 0
        h5 += first is not None and first < 5
        mrr += 1.0 / (first + 1) if first is not None else 0.0
        dcg = sum(rel[i] / math.log2(r + 2) for r, i in enumerate(top) if i in rel)
        ideal = sum(g / math.log2(r + 2) for r, g in enumerate(sorted(rel.values(), reverse=True)[:10]))
        ndcg += dcg / ideal if ideal else 0.0
    n = len(dev)
    return {"hit@1": round(h1 / n, 3), "hit@5": round(h5 / n, 3), "mrr@10": round(mrr / n, 3),
            "ndcg@10": round(ndcg / n, 3)}


def _bigrams(text: str) -> list[str]:
    t = normalize(text)
    return [t[i : i + 2] for i in range(len(t) - 1) if is_word_char(t[i]) and is_word_char(t[i + 1])]


def bigram_bm25(entries: list[dict[str, Any]]) -> BM25:
    """Plain character-bigram BM25 over question + answer (NFKC, no dictionary): the reference baseline."""
    return BM25().fit([_bigrams(e["question"] + "\n" + e["answer"]) for e in entries])


def bigram_baseline(entries: list[dict[str, Any]], dev: list[dict[str, Any]]) -> dict[str, float]:
    bm = bigram_bm25(entries)
    ids = [e["id"] for e in entries]
    return metrics([[ids[i] for i in top_k(bm.scores(_bigrams(q["query"])), 10)] for q in dev], dev)


def bigram_latency(entries: list[dict[str, Any]], queries: list[str]) -> dict[str, float]:
    """Latency of the baseline (bigrams + BM25 + top 10): a same-run reference for the noisy machine."""
    bm = bigram_bm25(entries)
    times = []
    for q in queries:
        t = time.perf_counter()
        top_k(bm.scores(_bigrams(q)), 10)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2)}


def quality(index: FaqIndex, dev: list[dict[str, Any]], mode: Mode) -> dict[str, float]:
    return metrics([[h.id for h in index.search(q["query"], 10, mode=mode)] for q in dev], dev)


def latency(index: FaqIndex, queries: list[str], mode: Mode = "fused") -> dict[str, float]:
    index.search(queries[0], 10, mode=mode)  # warm the encoder and caches
    times = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, 10, mode=mode)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2)}


def _flip_kana(text: str, rng: random.Random) -> str:
    runs = [i for i, ch in enumerate(text) if "\u30a1" <= ch <= "\u30f4"]
    if runs:
        return fold_kana(text)
    hira = [i for i, ch in enumerate(text) if "\u3041" <= ch <= "\u3094"]
    if not hira:
        return text
    i = rng.choice(hira)
    return text[:i] + chr(ord(text[i]) + 0x60) + text[i + 1 :]


SWAPS = [("ゴミ", "ごみ"), ("子供", "子ども"), ("引越し", "引っ越し"), ("国民健康保険", "国保"),
         ("マイナンバー", "個人番号"), ("問い合わせ", "問合せ"), ("申し込み", "申込み"), ("保育所", "保育園")]


def big_corpus(entries: list[dict[str, Any]], size: int = BIG, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = list(entries)
    i = 0
    while len(out) < size:
        e = entries[i % len(entries)]
        town = TOWNS[(i // len(entries)) % len(TOWNS)]
        q = _flip_kana(e["question"], rng)
        for a, b in SWAPS:
            if a in q:
                q = q.replace(a, b)
                break
        out.append({"id": f"{e['id']}@{town}", "question": f"【{town}】{q}", "answer": e["answer"]})
        i += 1
    return out


def main() -> None:
    entries, dev = load()
    queries = [q["query"] for q in dev]
    analyzer = Analyzer()
    t = time.perf_counter()
    index = FaqIndex.build(entries, analyzer=analyzer, cache_dir=CACHE)
    build_s = time.perf_counter() - t
    result: dict[str, Any] = {
        "bench": "faq",
        "corpus": len(entries),
        "queries": len(dev),
        "fused": quality(index, dev, "fused"),
        "lexical": quality(index, dev, "lexical"),
        "dense": quality(index, dev, "dense"),
        "fused_rrf_equal_weights": quality(index.with_weights(replace(index.weights, rrf_dense=1.0)), dev, "fused"),
        "fused_linear": quality(index.with_weights(replace(index.weights, fusion="linear")), dev, "fused"),
        "bigram_bm25_baseline": bigram_baseline(entries, dev),
    }
    result["ndcg_ratio_fused_to_bigram"] = round(
        result["fused"]["ndcg@10"] / result["bigram_bm25_baseline"]["ndcg@10"], 3)
    result["latency_1786"] = {"fused": latency(index, queries), "lexical": latency(index, queries, "lexical"),
                              "bigram_bm25_reference": bigram_latency(entries, queries),
                              "build_s": round(build_s, 1)}
    big = big_corpus(entries)
    t = time.perf_counter()
    big_index = FaqIndex.build(big, analyzer=analyzer, cache_dir=CACHE)
    big_build = time.perf_counter() - t
    result["latency_22k"] = {"entries": len(big), "fused": latency(big_index, queries),
                             "lexical": latency(big_index, queries, "lexical"),
                             "bigram_bm25_reference": bigram_latency(big, queries), "build_s": round(big_build, 1),
                             "build_note": "vectors from bench/out cache; the first run embeds 20k questions"}
    result["weights"] = {k: v for k, v in vars(index.weights).items()}
    result["encoder"] = index.encoder.name if index.encoder else None
    result["morphology"] = analyzer.backend_name
    result["relevant_grades"] = dict(Counter(str(g) for q in dev for g in q["relevant"].values()))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
