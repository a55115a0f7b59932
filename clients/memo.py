"""Values kept in process memory until they expire, bounded by how much they hold.

The client keeps decoded upstream answers here, so a cache entry is parsed once rather
than per request; services keep numbers derived from many answers the same way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextvars import ContextVar, copy_context
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")
V = TypeVar("V")

_remembered_only: ContextVar[bool] = ContextVar("remembered_only", default=False)


class NotRemembered(BaseException):
    """A read made by `from_memory` needed more than the process's memo.

    A BaseException so that no `except Exception` meant for failures takes it for one: it
    only ever travels back to the fan-out that started the pass, which runs the call again
    on a thread of its own.
    """


def from_memory(call: Callable[[], T]) -> T:
    """Return call() if every read it makes is in this process's memo; else raise
    NotRemembered before any read waits (on the store, another reader, or the upstream).

    The call runs in a copy of the caller's context: what it sets there stays its own.
    """
    context = copy_context()
    context.run(_remembered_only.set, True)
    return context.run(call)


def remembered_only() -> bool:
    """Tell whether reads here are made by `from_memory`: from the memo, or not at all."""
    return _remembered_only.get()


def beyond_memory() -> None:
    """Say a read is about to look past the memo: raise NotRemembered inside `from_memory`."""
    if _remembered_only.get():
        raise NotRemembered


def weight(value: object) -> int:
    """Return how many records a decoded value holds (its `size`, else 1)."""
    return max(1, int(getattr(value, "size", 1)))


class ExpiringLRU(Generic[V]):
    """A least-recently-used map whose entries expire, bounded by their total weight."""

    def __init__(self, max_weight: int, weigh: Callable[[V], int] = lambda _: 1) -> None:
        self.max_weight = max_weight
        self._weigh = weigh
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[V, datetime, int]] = OrderedDict()
        self._weight = 0

    def get(self, key: Hashable, now: datetime) -> V | None:
        """Return the value for a key while it has not expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] <= now:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: V, expires: datetime) -> None:
        """Keep a value until it expires, evicting the least recently used beyond the bound."""
        size = self._weigh(value)
        if size > self.max_weight:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (value, expires, size)
            self._weight += size
            while self._weight > self.max_weight:
                self._drop(next(iter(self._entries)))

    @property
    def weight(self) -> int:
        """Return the total weight of the entries held (for decoded answers: their records).

        Expired entries still count until a read or an eviction drops them.
        """
        with self._lock:
            return self._weight

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _drop(self, key: Hashable) -> None:
        _, _, size = self._entries.pop(key)
        self._weight -= size


def decoded_answers(max_records: int) -> ExpiringLRU:
    """Return a memo of decoded answers (`Fetched`), bounded by the records they hold."""
    return ExpiringLRU(max_records, weigh=lambda fetched: weight(fetched.value))
