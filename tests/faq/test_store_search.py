"""FAQ search works the same on both stores: the same tokens, FTS5's bm25() in SQLite and the same formula in
SQL on PostgreSQL, fused with the same dense ranking. Entries are a slice of the shared test corpus
(../shared/data/faq, never shipped); dense vectors are the e5 question vectors, cached across runs."""
from __future__ import annotations

import math
import uuid
from pathlib import Path

import pytest

from faq.embedding import E5Encoder
from faq.model import clean_fields
from faq.search import Weights
from machihub.principal import SYSTEM
from tests.conftest import DATA, PG_URL, _postgis_admin, make_hub
from tests.faq import load_bench

CORPUS_SLICE, QUERIES = 200, 60
pytestmark = pytest.mark.postgis


@pytest.fixture(scope="module")
def corpus():
    if not (DATA / "faq" / "corpus.json").exists():
        pytest.fail(f"FAQ test data missing: {DATA / 'faq'}")
    bench = load_bench()
    entries, dev = bench.load()
    entries = entries[:CORPUS_SLICE]
    ids = {str(e["id"]) for e in entries}
    dev = [q for q in dev if any(str(k) in ids for k in q["relevant"])][:QUERIES]
    return bench, entries, dev


@pytest.fixture(scope="module")
def encoder():
    return E5Encoder()


@pytest.fixture(scope="module")
def both(corpus, encoder, tmp_path_factory, request):
    """The same entries, inserted in the same order, in a SQLite hub and a PostGIS hub (built once per module)."""
    _, entries, _ = corpus
    cache = Path(request.config.cache.mkdir("faq-embeddings"))  # shared with tests/faq/test_search.py
    tmp = tmp_path_factory.mktemp("faq-both")
    admin = _postgis_admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    pg = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema},public"
    hubs = {}
    try:
        for name, url in (("sqlite", f"sqlite:///{tmp}/hub.gpkg"), ("postgis", pg)):
            (tmp / name).mkdir()
            hub = hubs[name] = make_hub(url, tmp / name)
            # question vectors only: answers take minutes to embed cold; the dense part is the same code on both
            hub.faq.configure_search(encoder=encoder, cache_dir=cache, weights=Weights(dense_question=1.0))
            hub.tenants.add(SYSTEM, "37201", "高松市", prefecture="香川県")
            with hub.db.transaction() as tx:  # as an import does: rows first, then one indexing batch
                written = []
                for e in entries:
                    fields = clean_fields({"question": e["question"], "answer": e["answer"]})
                    written.append((hub.faq.insert(tx, SYSTEM, "37", f"c{e['id']}", fields, audit=False, index=False),
                                    fields))
                hub.faq.index_many(tx, written)
        yield hubs
    finally:
        for hub in hubs.values():
            hub.close()
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def _ref_ids(hits) -> list[str]:
    return [h.entry.ref[1:] for h in hits]


def test_same_results_on_both_stores(both, corpus):
    bench, entries, dev = corpus
    ranked: dict[str, dict[str, list[list[str]]]] = {}
    for name, hub in both.items():
        for mode in ("lexical", "fused"):
            ranked.setdefault(name, {})[mode] = [
                _ref_ids(hub.faq.search("37201", q["query"], k=10, mode=mode).hits) for q in dev]
    for mode in ("lexical", "fused"):
        differ = [(q["query"], a, b) for q, a, b in zip(dev, ranked["sqlite"][mode], ranked["postgis"][mode],
                                                        strict=True) if a != b]
        assert not differ, f"{mode}: {len(differ)} of {len(dev)} queries rank differently, e.g. {differ[:2]}"
    # the lexical scores themselves agree (FTS5's bm25 = the SQL formula), not only their order
    for q in dev[:10]:
        s, p = (both[n].faq.search("37201", q["query"], mode="lexical").hits for n in ("sqlite", "postgis"))
        assert all(math.isclose(a.score, b.score, rel_tol=1e-9) for a, b in zip(s, p, strict=True))
    fused = bench.metrics(ranked["sqlite"]["fused"], dev)
    lexical = bench.metrics(ranked["sqlite"]["lexical"], dev)
    baseline = bench.bigram_baseline(entries, dev)
    print({"fused": fused, "lexical": lexical, "bigram": baseline})
    assert lexical["ndcg@10"] > baseline["ndcg@10"] and fused["ndcg@10"] >= lexical["ndcg@10"]


# "ください": every phrase is in over half of the entries (idf <= 0), so none is left out (store_lexical.informative)
@pytest.mark.parametrize("query", ["ご", "ゴミ", "国保", "こどもの予防接種", "library card", "ｺﾞﾐ", "ください"])
def test_short_variant_and_english_queries_agree(both, query):
    results = {n: h.faq.search("37201", query, k=5) for n, h in both.items()}
    assert results["sqlite"].hits and results["sqlite"].matched > 0
    assert _ref_ids(results["sqlite"].hits) == _ref_ids(results["postgis"].hits)
    assert results["sqlite"].matched == results["postgis"].matched
    assert [h.question_html for h in results["sqlite"].hits] == [h.question_html for h in results["postgis"].hits]


def test_writes_reach_the_search_on_both_stores(both):
    for hub in both.values():
        new = hub.faq.create(SYSTEM, "37201", {"question": "ぽこにゃん体操の会場はどこ？", "answer": "市民体育館です。"})
        first = hub.faq.search("37201", "ぽこにゃん体操").hits[0]
        assert first.entry.id == new.id and "<mark>" in first.question_html and first.lexical
        hub.faq.retire(SYSTEM, new.id, new.version)
        assert new.id not in [h.entry.id for h in hub.faq.search("37201", "ぽこにゃん体操").hits]
