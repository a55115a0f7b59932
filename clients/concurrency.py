"""At most N calls in flight to one upstream from this process, however many requests ask."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ProcessSlots:
    """One bounded semaphore per process, shared by every request thread (made anew after fork)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._lock = threading.Lock()
        self._semaphore: threading.BoundedSemaphore | None = None
        self._pid: int | None = None

    def _current(self) -> threading.BoundedSemaphore:
        pid = os.getpid()
        if self._semaphore is None or self._pid != pid:
            with self._lock:
                if self._semaphore is None or self._pid != pid:
                    # A forked worker must not inherit the parent's count of calls in flight.
                    self._semaphore = threading.BoundedSemaphore(self.limit)
                    self._pid = pid
        return self._semaphore

    @contextmanager
    def held(self, timeout: float) -> Iterator[bool]:
        """Hold a slot while the body runs; yield False (holding none) if none freed in time."""
        semaphore = self._current()
        acquired = semaphore.acquire(timeout=max(0.0, timeout))
        try:
            yield acquired
        finally:
            if acquired:
                semaphore.release()
