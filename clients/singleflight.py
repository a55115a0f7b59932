"""Collapse concurrent identical calls into one: within a process, and across processes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # at run time redis loads only once a Redis URL is configured
    from redis import Redis

T = TypeVar("T")
log = logging.getLogger(__name__)


class SingleFlight:
    """Run `fn` once per key at a time; callers arriving meanwhile share its outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, Future] = {}

    def run(self, key: str, fn: Callable[[], T]) -> T:
        """Return fn()'s result (or raise its exception), shared with concurrent callers."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
        if not leader:
            return flight.result()
        try:
            flight.set_result(fn())
        except BaseException as exc:  # noqa: BLE001 - followers must see the same failure
            flight.set_exception(exc)
        finally:
            with self._lock:
                del self._flights[key]
        return flight.result()


class RedisFlights:
    """Let one process at a time (across every worker and machine) fetch a given key.

    A Redis lock per key: the others wait, then find the answer in the shared cache. The
    lock expires by itself if its holder dies; if Redis is unreachable, everyone proceeds.
    """

    def __init__(self, redis_url: str, hold_seconds: float) -> None:
        self.redis_url = redis_url
        self.hold_seconds = hold_seconds
        self._client: Redis | None = None
        self._pid: int | None = None

    def _redis(self) -> Redis:
        import os

        from redis import Redis

        if self._client is None or self._pid != os.getpid():
            self._client = Redis.from_url(
                self.redis_url, socket_timeout=2, socket_connect_timeout=2
            )
            self._pid = os.getpid()
        return self._client

    @contextmanager
    def held(self, key: str) -> Iterator[None]:
        """Hold the key's lock while the body runs (or run unlocked if Redis fails)."""
        from redis.exceptions import LockError, RedisError

        lock = None
        try:
            candidate = self._redis().lock(
                f"usage-flight:{key}",
                timeout=self.hold_seconds + 5,
                blocking_timeout=self.hold_seconds,
            )
            if candidate.acquire():
                lock = candidate
        except RedisError as exc:
            log.warning("shared flight lock unavailable: %s", type(exc).__name__)
        try:
            yield
        finally:
            if lock is not None:
                with suppress(LockError, RedisError):  # expired meanwhile: nothing to release
                    lock.release()
