"""A small sliding-window limiter for public forms (reports, sign-ups) per client address.
In-process: with several web processes each keeps its own window, which still bounds abuse per process."""
from __future__ import annotations

import time
from collections import deque

from machihub.errors import TooManyRequests


class RateLimiter:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window = limit, window_s
        self._hits: dict[str, deque[float]] = {}

    def check(self, key: str) -> None:
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] < now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            raise TooManyRequests("too many submissions from your connection; please wait a few minutes")
        hits.append(now)
        if len(self._hits) > 10000:  # forget idle clients
            for k in [k for k, v in self._hits.items() if not v or v[-1] < now - self.window][:5000]:
                del self._hits[k]
