"""The dense half of FAQ search: entry vectors in memory, the same for whichever store holds the entries.

Vectors come from the e5 encoder through the on-disk content-hash cache (under the hub's data_dir), so a
restart or an edit costs only the texts not seen before. The matrix is rebuilt when the store's FAQ
generation counter moves, which every write bumps: several web processes each notice the others' edits.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from faq.embedding import E5Encoder, EmbeddingCache, Encoder

EncoderSetting = Encoder | None | Literal["default"]


class DenseIndex:
    def __init__(self, cache_dir: Path | None, encoder: EncoderSetting = "default",
                 dense_question: float = 0.5) -> None:
        self.cache_dir, self.dense_question = cache_dir, dense_question
        self._setting: EncoderSetting = encoder
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()  # one encoder call at a time; one rebuild at a time
        self._generation: str | None = None
        # (entry id -> row, matrix): replaced as one tuple, so a reader never mixes two generations
        self._snap: tuple[dict[int, int], np.ndarray] = ({}, np.zeros((0, 1), dtype=np.float32))
        self._memo: tuple[np.ndarray, dict[int, int], np.ndarray] | None = None

    def configure(self, *, encoder: EncoderSetting, cache_dir: Path | None, dense_question: float) -> None:
        with self._lock:
            self._setting, self.cache_dir, self.dense_question = encoder, cache_dir, dense_question
            self._encoder, self._generation = None, None

    @property
    def enabled(self) -> bool:
        return self._setting is not None

    def _get_encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = E5Encoder() if self._setting == "default" else self._setting  # type: ignore[assignment]
        assert self._encoder is not None
        return self._encoder

    def refresh(self, generation: str, load: Callable[[], list[tuple[int, str, str]]]) -> None:
        """Rebuild the matrix from ``load()`` = [(id, question, answer text)] if the generation changed."""
        if not self.enabled or generation == self._generation:
            return
        with self._lock:
            if generation == self._generation:
                return
            entries = load()
            enc = self._get_encoder()

            def embed(texts: list[str]) -> np.ndarray:
                if self.cache_dir is None:
                    return enc.passages(texts)
                return EmbeddingCache(self.cache_dir).passages(enc, texts)

            if entries:
                qv = embed([q for _, q, _ in entries])
                wq = self.dense_question
                # the score is linear in the query vector: fold question and answer vectors into one matrix
                matrix = qv if wq >= 1.0 else (wq * qv + (1.0 - wq) * embed([a for _, _, a in entries]))
            else:
                matrix = np.zeros((0, enc.dim), dtype=np.float32)
            self._snap = ({eid: i for i, (eid, _, _) in enumerate(entries)}, matrix.astype(np.float32))
            self._generation = generation

    def scores(self, text: str, ids: np.ndarray) -> np.ndarray:
        """Cosine-like scores of ``ids`` (entries unknown to the matrix score -inf)."""
        rows, matrix = self._snap
        with self._lock:
            qv = self._get_encoder().queries([text])[0]
        pos = self._positions(ids, rows)
        out = np.full(len(ids), -np.inf, dtype=np.float32)
        known = pos >= 0
        if known.any():
            out[known] = (matrix @ qv)[pos[known]]  # one matrix-vector product; no copy of the rows
        return out

    def _positions(self, ids: np.ndarray, rows: dict[int, int]) -> np.ndarray:
        """Matrix rows of ``ids``; the same visible-id array comes back keystroke after keystroke: memoised."""
        memo = self._memo
        if memo is not None and memo[0] is ids and memo[1] is rows:
            return memo[2]
        pos = np.fromiter((rows.get(int(i), -1) for i in ids.tolist()), dtype=np.int64, count=len(ids))
        self._memo = (ids, rows, pos)
        return pos
