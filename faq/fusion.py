"""Reciprocal rank fusion of several rankings, with a weight per ranking."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RRF_K = 60


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first (ties by index)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.lexsort((part, -scores[part]))]


def rrf(rankings: Sequence[np.ndarray], weights: Sequence[float] | None = None, k: int = RRF_K,
        n_docs: int | None = None) -> np.ndarray:
    """Fused scores ``sum_i w_i / (k + rank_i(d))`` (rank from 1) for every document.

    Each ranking is an array of document indices, best first; a document missing from a ranking gets
    nothing from it. Returns a dense score vector of length ``n_docs``.
    """
    weights = weights if weights is not None else [1.0] * len(rankings)
    size = n_docs if n_docs is not None else (max((int(r.max()) for r in rankings if len(r)), default=-1) + 1)
    fused = np.zeros(size, dtype=np.float64)
    for ranking, w in zip(rankings, weights, strict=True):
        if w and len(ranking):
            fused[ranking] += w / (k + np.arange(1, len(ranking) + 1, dtype=np.float64))
    return fused


def minmax(scores: Sequence[np.ndarray], weights: Sequence[float], depth: int | None = None) -> np.ndarray:
    """Weighted sum of min-max normalised scores (an alternative to :func:`rrf`; bench/faq.py measures both).

    With ``depth`` the minimum is taken over each ranking's top ``depth`` scores, so that the tail of a
    large corpus does not flatten the head.
    """
    fused = np.zeros(len(scores[0]), dtype=np.float64)
    for s, w in zip(scores, weights, strict=True):
        if not w:
            continue
        s = s.astype(np.float64)
        hi = float(s.max())
        lo = float(s[top_k(s, depth)].min()) if depth else float(s.min())
        if hi > lo:
            fused += w * np.clip((s - lo) / (hi - lo), 0.0, None)
    return fused
