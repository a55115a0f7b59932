"""Collapse concurrent identical calls in one process into one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


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
            if leader:
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
