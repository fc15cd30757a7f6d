"""Okapi BM25 over a sparse term-weight matrix (scipy CSC): a query is the sum of a few columns."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import sparse


class BM25:
    """BM25 with Lucene's non-negative idf, ``log(1 + (N - df + 0.5) / (df + 0.5))``.

    The per-(document, term) weight ``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))`` is computed
    once at build time, so scoring costs one column slice and one sum.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.vocab: dict[str, int] = {}
        self.n_docs = 0
        self.weights = sparse.csc_matrix((0, 0), dtype=np.float32)

    def fit(self, docs: Sequence[Sequence[str]]) -> BM25:
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        lengths = np.zeros(len(docs), dtype=np.float64)
        for i, tokens in enumerate(docs):
            lengths[i] = len(tokens)
            for term, tf in Counter(tokens).items():
                rows.append(i)
                cols.append(self.vocab.setdefault(term, len(self.vocab)))
                tfs.append(tf)
        self.n_docs = len(docs)
        r = np.asarray(rows, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        tf = np.asarray(tfs, dtype=np.float64)
        df = np.bincount(c, minlength=len(self.vocab)).astype(np.float64)
        idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5))
        avgdl = float(lengths.mean()) if len(docs) and lengths.mean() > 0 else 1.0
        norm = self.k1 * (1.0 - self.b + self.b * lengths[r] / avgdl)
        w = idf[c] * tf * (self.k1 + 1.0) / (tf + norm)
        self.weights = sparse.csc_matrix(
            (w.astype(np.float32), (r, c)), shape=(self.n_docs, len(self.vocab)), dtype=np.float32
        )
        self.idf = idf.astype(np.float32)
        return self

    def term_ids(self, tokens: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Known terms of a query as (column ids, query term counts)."""
        counts = Counter(t for t in tokens if t in self.vocab)
        ids = np.fromiter((self.vocab[t] for t in counts), dtype=np.int64, count=len(counts))
        qtf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        return ids, qtf

    def scores(self, tokens: Iterable[str]) -> np.ndarray:
        """BM25 score of every document for the query ``tokens`` (zeros when nothing matches)."""
        ids, qtf = self.term_ids(tokens)
        if len(ids) == 0:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self.weights[:, ids] @ qtf, dtype=np.float32).ravel()

    def prefix_terms(self, prefix: str, limit: int = 64) -> list[str]:
        """Vocabulary terms that start with ``prefix`` (for a one-character query typed so far)."""
        return [t for t in self.vocab if t.startswith(prefix)][:limit]
