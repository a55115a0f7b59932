"""What one process shares among its request threads, made anew in a forked worker."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    """One value per process, made on first use and again after a fork."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._value: T | None = None
        self._pid: int | None = None

    def get(self) -> T:
        """Return this process's value, making it if this process has none yet."""
        pid = os.getpid()
        if self._value is None or self._pid != pid:
            with self._lock:
                if self._value is None or self._pid != pid:
                    # A forked worker must not inherit the parent's: its counts and threads
                    # belong to a process it is not.
                    self._value = self._make()
                    self._pid = pid
        return self._value


class ProcessSlots:
    """At most N calls in flight to one upstream from this process, however many requests ask.

    One bounded semaphore per process, shared by every request thread.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._semaphore = PerProcess(lambda: threading.BoundedSemaphore(limit))

    @contextmanager
    def held(self, timeout: float) -> Iterator[bool]:
        """Hold a slot while the body runs; yield False (holding none) if none freed in time."""
        semaphore = self._semaphore.get()
        acquired = semaphore.acquire(timeout=max(0.0, timeout))
        try:
            yield acquired
        finally:
            if acquired:
                semaphore.release()
