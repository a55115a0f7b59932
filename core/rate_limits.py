"""Moving-window rate limits shared through Redis, kept in this process while Redis is down.

The sign-in and refresh limits count in Redis when `USAGE_CACHE_URL` is a Redis URL, so every
worker shares them, and in memory otherwise. When Redis does not answer, counting moves to
this process's memory (logged once per outage) instead of failing the request, and Redis is
tried again after `RETRY_SECONDS`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")
RETRY_SECONDS = 30.0
# A counter that does not answer quickly is treated as down, not waited for.
REDIS_TIMEOUT_SECONDS = 0.5

log = logging.getLogger(__name__)
_MAKE_LOCK = threading.Lock()


def made_once(extensions: dict[str, Any], name: str, make: Callable[[], Any]) -> Any:
    """Return `extensions[name]`, made by `make` on first use only, however many threads ask.

    Limiters are made on first use so that nothing connects to Redis at start-up.
    """
    made = extensions.get(name)
    if made is None:
        with _MAKE_LOCK:
            made = extensions.get(name)
            if made is None:
                made = extensions[name] = make()
    return made


def storage_url_for(cache_url: str) -> str:
    """Share counters through Redis when the cache is Redis; otherwise keep them in memory."""
    return cache_url if cache_url.startswith(REDIS_SCHEMES) else "memory://"


class SharedLimiter:
    """A moving-window limiter on shared storage, falling back to this process's memory."""

    def __init__(self, storage_url: str, name: str) -> None:
        self.name = name
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.shared: MovingWindowRateLimiter | None = None
        if storage_url != "memory://":
            storage = storage_from_string(
                storage_url,
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self.shared = MovingWindowRateLimiter(storage)
        self._lock = threading.Lock()
        self._down = False
        self._retry_at = 0.0  # while down, when to try the shared storage again

    def hit(self, item: RateLimitItem, *key: str) -> bool:
        """Count one attempt atomically; tell whether it is within the limit."""
        return self._call("hit", item, *key)

    def clear(self, item: RateLimitItem, *key: str) -> None:
        """Forget a key's attempts."""
        self._call("clear", item, *key)

    def seconds_to_wait(self, item: RateLimitItem, *key: str) -> int:
        """Return the seconds until the key has room again (at least one)."""
        reset_time = self._call("get_window_stats", item, *key).reset_time
        return max(1, math.ceil(reset_time - time.time()))

    def remaining(self, item: RateLimitItem, *key: str) -> int:
        """Return how many more hits the key's window allows now, without counting one."""
        return max(0, self._call("get_window_stats", item, *key).remaining)

    def wait_without_counting(self, item: RateLimitItem, *key: str) -> int | None:
        """Return the seconds until the key has room again, or None if it has room now."""
        stats = self._call("get_window_stats", item, *key)
        if stats.remaining > 0:
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _call(self, method: str, *args):
        if self.shared is None or (self._down and time.monotonic() < self._retry_at):
            return getattr(self.local, method)(*args)
        try:
            result = getattr(self.shared, method)(*args)
        except StorageError as exc:
            self._went_down(exc)
            return getattr(self.local, method)(*args)
        if self._down:
            self._came_back()
        return result

    def _went_down(self, exc: StorageError) -> None:
        with self._lock:
            first = not self._down
            self._down = True
            self._retry_at = time.monotonic() + RETRY_SECONDS
        if first:
            log.warning(
                "%s limits: Redis did not answer (%s); counting in this process until it does",
                self.name,
                type(exc.storage_error).__name__,
            )

    def _came_back(self) -> None:
        with self._lock:
            was_down, self._down = self._down, False
        if was_down:
            log.warning("%s limits: Redis answers again; counting there", self.name)
