"""Decoded answers kept in process memory, so a cache entry is parsed once, not per request."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from .result import Fetched


def weight(value: object) -> int:
    """Return how many records a decoded value holds (its `size`, else 1)."""
    return max(1, int(getattr(value, "size", 1)))


class DecodedMemo:
    """A least-recently-used map of decoded answers, bounded by the records they hold."""

    def __init__(self, max_records: int = 500_000) -> None:
        self.max_records = max_records
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[Fetched, datetime, int]] = OrderedDict()
        self._records = 0

    def get(self, key: str, now: datetime) -> Fetched | None:
        """Return the decoded answer for a key while it is fresh."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] <= now:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: str, fetched: Fetched, expires: datetime) -> None:
        """Keep a decoded answer until it expires, evicting the least recently used."""
        size = weight(fetched.value)
        if size > self.max_records:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (fetched, expires, size)
            self._records += size
            while self._records > self.max_records:
                self._drop(next(iter(self._entries)))

    def discard(self, key: str) -> None:
        """Forget a key."""
        with self._lock:
            if key in self._entries:
                self._drop(key)

    def _drop(self, key: str) -> None:
        _, _, size = self._entries.pop(key)
        self._records -= size
