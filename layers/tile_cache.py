"""A small thread-safe LRU for encoded vector tiles (keys include the layer revision, so no invalidation)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class LruCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
