"""FAQ search over a store: the database ranks lexically (store_lexical), the in-memory vectors densely
(store_dense), and the two rankings are fused by weighted reciprocal rank, with the same weights and
short-query rule as the in-memory engine (faq.search). Highlights come from the analyzer's token offsets.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faq.analyzer import GRAM_PREFIX, Analysis, Analyzer
from faq.fusion import rrf, top_k
from faq.highlight import mark, match_spans
from faq.model import FaqEntry
from faq.normalize import is_word_char
from faq.search import Weights
from faq.store_dense import DenseIndex, EncoderSetting
from faq.store_lexical import LEXICAL, Document, LexicalQuery, Phrase, Ranked, split_tokens

MAX_QUERY = 200  # characters: a pasted paragraph is not a question
SNIPPET = 120
SNIPPET_SOURCE = 300  # characters of an answer analysed for its snippet: the first match is enough
DOC_CACHE = 2000  # analysed question/snippet texts kept for highlighting
SCORE_DIGITS = 9  # the stores sum floats in different orders: ties are ties to this many digits


@dataclass(frozen=True)
class SearchHit:
    entry: FaqEntry
    score: float
    question_html: str  # HTML-escaped, matches in <mark>
    answer_html: str  # a plain-text snippet of the answer, escaped, matches in <mark>
    lexical: bool  # shares a word or bigram with the query (else found by meaning only)


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[SearchHit]
    matched: int  # entries sharing a word or bigram with the query; 0 = "found nothing" in the reports


class FaqSearch:
    def __init__(self, dialect: str, cache_dir: Path | None, encoder: EncoderSetting = "default",
                 weights: Weights | None = None) -> None:
        self.weights = weights or Weights()
        self.lexical = LEXICAL[dialect]()
        self.dense = DenseIndex(cache_dir, encoder, self.weights.dense_question)
        self._analyzer: Analyzer | None = None
        self._lock = threading.Lock()  # MeCab taggers are not safe to share between threads
        # typing repeats the same top entries keystroke after keystroke: keep their analyses for highlighting
        self._docs: OrderedDict[str, Analysis] = OrderedDict()
        self._docs_lock = threading.Lock()

    def configure(self, *, encoder: EncoderSetting = "default", cache_dir: Path | None = None,
                  weights: Weights | None = None) -> None:
        """Swap the encoder (None = lexical only), the vector cache folder or the weights."""
        if weights is not None:
            self.weights = weights
        self.dense.configure(encoder=encoder, cache_dir=cache_dir if cache_dir is not None else self.dense.cache_dir,
                             dense_question=self.weights.dense_question)

    def analyze(self, text: str, query: bool = False) -> Analysis:
        with self._lock:
            if self._analyzer is None:
                self._analyzer = Analyzer()
            return self._analyzer.analyze(text, query=query)

    def _doc(self, text: str) -> Analysis:
        with self._docs_lock:
            hit = self._docs.get(text)
            if hit is not None:
                self._docs.move_to_end(text)
                return hit
        hit = self.analyze(text)
        with self._docs_lock:
            self._docs[text] = hit
            if len(self._docs) > DOC_CACHE:
                self._docs.popitem(last=False)
        return hit

    def document(self, question: str, answer_text: str) -> Document:
        q, a = self.analyze(question), self.analyze(answer_text)
        return [split_tokens([t.text for t in q.terms]), split_tokens([g.text for g in q.grams]),
                split_tokens([t.text for t in a.terms]), split_tokens([g.text for g in a.grams])]

    def _prefix(self, a: Analysis) -> str | None:
        """A single character typed so far stands for every bigram starting with it."""
        if a.length != 1:
            return None
        return GRAM_PREFIX + next(ch for ch in a.folded if is_word_char(ch))

    def lexical_query(self, a: Analysis) -> LexicalQuery:
        w = self.weights
        terms = split_tokens([t.text for t in a.terms] + a.added)
        prefix = self._prefix(a)
        grams = ([Phrase(t, prefix=True) for t in split_tokens([prefix])] if prefix else
                 [Phrase(t) for t in split_tokens([g.text for g in a.grams])])
        # once a word was recognised, bigrams only back it up; while typing, the last word is partial
        gw = w.grams if terms and a.length > w.short_query else 1.0
        return LexicalQuery([Phrase(t) for t in terms] + grams, (w.question, w.question * gw, 1.0, gw))

    def stable(self, ranked: Ranked) -> Ranked:
        """Best first, equal scores (to SCORE_DIGITS) by entry id, cut to the fusion depth."""
        return sorted(ranked, key=lambda r: (-round(r[1], SCORE_DIGITS), r[0]))[: self.weights.depth]

    def fuse(self, ids: np.ndarray, lexical: Ranked, dense: np.ndarray | None, a: Analysis,
             k: int) -> list[tuple[int, float]]:
        """The best ``k`` of ``ids`` (sorted entry ids) as (id, fused score)."""
        if dense is None:
            return lexical[:k]
        w = self.weights
        lex_ids = np.array([i for i, _ in lexical], dtype=np.int64)
        lex_rank = np.searchsorted(ids, lex_ids)  # ids are sorted; the lexical ones are among them
        lex_rank = lex_rank[(lex_rank < len(ids)) & (ids[np.minimum(lex_rank, len(ids) - 1)] == lex_ids)]
        dense_rank = top_k(dense, w.depth)
        dense_rank = dense_rank[np.isfinite(dense[dense_rank])]
        damp = 0.25 if a.length <= w.short_query and len(lex_rank) else 1.0
        fused = rrf([lex_rank, dense_rank], [w.rrf_lexical, w.rrf_dense * damp], k=w.rrf_k, n_docs=len(ids))
        best = top_k(fused, k)
        best = best[fused[best] > 0]
        return [(int(ids[b]), float(fused[b])) for b in best]

    def highlight(self, entry: FaqEntry, answer_text: str, a: Analysis) -> tuple[str, str]:
        terms = {t.text for t in a.terms} | set(a.added)
        short = a.length <= self.weights.short_query
        prefix = self._prefix(a)
        query_grams = {g.text for g in a.grams}
        out = []
        for text, width in ((entry.question, 400), (answer_text[:SNIPPET_SOURCE], SNIPPET)):
            doc = self._doc(text)
            grams = {g.text for g in doc.grams if g.text.startswith(prefix)} if prefix else query_grams
            out.append(mark(text, match_spans(doc, terms, grams, short), width=width))
        return out[0], out[1]
