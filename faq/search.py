"""The FAQ search engine: lexical BM25 (question and answer fields, lemma terms and character bigrams) and
dense e5 embeddings (question and answer), fused by weighted reciprocal rank fusion.

In memory, no database: a store builds a :class:`FaqIndex` from its entries and asks it questions.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from faq.analyzer import GRAM_PREFIX, Analysis, Analyzer
from faq.bm25 import BM25
from faq.embedding import E5Encoder, EmbeddingCache, Encoder
from faq.fusion import minmax, rrf, top_k
from faq.highlight import mark, match_spans
from faq.normalize import is_word_char

Mode = Literal["fused", "lexical", "dense"]


@dataclass(frozen=True)
class Weights:
    """Global ranking weights; never per entry. ``rrf_dense`` and ``linear_dense`` were picked on the
    development queries (bench/faq.py also reports the untuned equal-weight fusion); the rest are defaults."""

    question: float = 0.5  # BM25 question field, relative to the answer field (1.0)
    grams: float = 0.3  # character-bigram BM25, relative to lemma-term BM25
    dense_question: float = 0.5  # cosine to the question vector; the answer vector gets 1 - this
    fusion: Literal["rrf", "linear"] = "rrf"  # reciprocal rank fusion, or min-max normalised score sum
    rrf_lexical: float = 1.0
    rrf_dense: float = 1.5
    rrf_k: int = 60
    linear_dense: float = 0.7  # "linear": dense share, lexical gets 1 - this
    depth: int = 100  # how many of each ranking enter the fusion
    k1: float = 1.2
    b: float = 0.75
    short_query: int = 3  # queries of at most this many characters lean on the lexical ranking


@dataclass(frozen=True)
class Hit:
    id: Any
    score: float
    highlights: str  # the question, HTML-escaped, query matches in <mark>
    question: str


@dataclass
class _Field:
    terms: BM25
    grams: BM25


class FaqIndex:
    def __init__(self, ids: list[Any], questions: list[str], analyzer: Analyzer, question: _Field,
                 answer: _Field, vectors: tuple[np.ndarray, np.ndarray | None] | None, encoder: Encoder | None,
                 weights: Weights) -> None:
        self.ids, self.questions = ids, questions
        self.analyzer, self.encoder, self.weights = analyzer, encoder, weights
        self._question, self._answer, self._vectors = question, answer, vectors
        # the dense score is linear in the query vector: fold the two fields into one matrix
        self._dense: np.ndarray | None = None
        if vectors is not None:
            qv, av = vectors
            wq = weights.dense_question
            self._dense = qv if av is None else (wq * qv + (1.0 - wq) * av).astype(np.float32)

    @classmethod
    def build(cls, entries: list[dict[str, Any]], *, analyzer: Analyzer | None = None,
              encoder: Encoder | None | Literal["default"] = "default", cache_dir: Path | None = None,
              weights: Weights | None = None) -> FaqIndex:
        """Index ``entries`` (dicts with ``id``, ``question``, ``answer``).

        ``encoder=None`` builds a lexical-only index; with ``cache_dir`` passage vectors are kept on disk by
        content hash, so a restart (or an edit of one entry) does not re-embed the corpus.
        """
        weights = weights or Weights()
        analyzer = analyzer or Analyzer()
        ids = [e["id"] for e in entries]
        questions = [str(e["question"]) for e in entries]
        answers = [str(e.get("answer", "")) for e in entries]
        memo: dict[str, Analysis] = {}  # corpora repeat answers (shared FAQ pools): analyse each text once

        def analysed(texts: list[str]) -> list[Analysis]:
            return [memo[t] if t in memo else memo.setdefault(t, analyzer.analyze(t)) for t in texts]

        def field(texts: list[str]) -> _Field:
            docs = analysed(texts)
            return _Field(BM25(weights.k1, weights.b).fit([[t.text for t in a.terms] for a in docs]),
                          BM25(weights.k1, weights.b).fit([[g.text for g in a.grams] for a in docs]))

        question, answer = field(questions), field(answers)
        memo.clear()
        enc: Encoder | None = E5Encoder() if encoder == "default" else encoder  # type: ignore[assignment]
        vectors = None
        if enc is not None:
            def embed(texts: list[str]) -> np.ndarray:
                return EmbeddingCache(cache_dir).passages(enc, texts) if cache_dir else enc.passages(texts)

            # answers are long (~400 tokens): skip them when their weight is zero
            vectors = (embed(questions), embed(answers) if weights.dense_question < 1.0 else None)
        return cls(ids, questions, analyzer, question, answer, vectors, enc, weights)

    def __len__(self) -> int:
        return len(self.ids)

    # --- scoring ----------------------------------------------------------------------------------
    def query_grams(self, query: Analysis) -> list[str]:
        """The query's bigrams; a single character typed so far stands for every bigram starting with it."""
        if query.length == 1:
            char = next(ch for ch in query.folded if is_word_char(ch))
            return self._question.grams.prefix_terms(GRAM_PREFIX + char)
        return [g.text for g in query.grams]

    def lexical_scores(self, query: Analysis) -> np.ndarray:
        w = self.weights
        terms = [t.text for t in query.terms] + query.added
        grams = self.query_grams(query)
        scores = w.question * self._question.terms.scores(terms) + self._answer.terms.scores(terms)
        weight = w.grams if terms and query.length > w.short_query else 1.0  # typing: the last word is partial
        if grams and weight:
            g = w.question * self._question.grams.scores(grams) + self._answer.grams.scores(grams)
            scores += weight * g
        return scores

    def dense_scores(self, text: str) -> np.ndarray:
        if self._dense is None or self.encoder is None:
            return np.zeros(len(self), dtype=np.float32)
        return self._dense @ self.encoder.queries([text])[0]

    def rank(self, text: str, k: int = 10, mode: Mode = "fused") -> tuple[np.ndarray, np.ndarray, Analysis]:
        """Indices of the best ``k`` entries with their scores, and the query analysis."""
        w = self.weights
        query = self.analyzer.analyze(text, query=True)
        if query.length == 0 or len(self) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0), query
        lex = self.lexical_scores(query) if mode in ("fused", "lexical") else None
        dense = self.dense_scores(text) if mode in ("fused", "dense") and self._dense is not None else None
        if mode == "dense" and dense is None:
            raise ValueError("this index was built without an encoder")
        single = lex if mode == "lexical" or dense is None else dense if mode == "dense" else None
        if single is not None:
            best = top_k(single, k)
            best = best[single[best] > 0] if mode != "dense" else best
            return best, single[best], query
        assert lex is not None and dense is not None
        # very short queries (typing in progress) lean on the lexical ranking when it found anything
        damp = 0.25 if query.length <= w.short_query and lex.any() else 1.0
        if w.fusion == "linear":
            share = w.linear_dense * damp
            fused = minmax([lex, dense], [1.0 - share, share], depth=w.depth)
        else:
            best_lex = top_k(lex, w.depth)
            best_lex = best_lex[lex[best_lex] > 0]
            fused = rrf([best_lex, top_k(dense, w.depth)], [w.rrf_lexical, w.rrf_dense * damp], k=w.rrf_k,
                        n_docs=len(self))
        best = top_k(fused, k)
        best = best[fused[best] > 0]
        return best, fused[best], query

    def with_weights(self, weights: Weights) -> FaqIndex:
        """The same index ranking with other weights (BM25 k1/b and vectors are kept as built)."""
        return FaqIndex(self.ids, self.questions, self.analyzer, self._question, self._answer, self._vectors,
                        self.encoder, weights)

    def search(self, text: str, k: int = 10, mode: Mode = "fused") -> list[Hit]:
        """The best ``k`` entries for ``text``, each with the question highlighted for the query."""
        best, scores, query = self.rank(text, k, mode)
        terms = {t.text for t in query.terms} | set(query.added)
        grams = set(self.query_grams(query))
        short = query.length <= self.weights.short_query
        hits = []
        for i, s in zip(best.tolist(), scores.tolist(), strict=True):
            q = self.questions[i]
            spans = match_spans(self.analyzer.analyze(q), terms, grams, short)
            hits.append(Hit(self.ids[i], float(s), mark(q, spans), q))
        return hits
