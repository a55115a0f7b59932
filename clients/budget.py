"""Upstream calls per minute per caller: a signed-in user, or the tenant of a widget token.

One view can cost hundreds of upstream calls, all on credentials every tenant shares. Past
its budget a caller is answered from saved data (stale allowed), or told how long to wait;
no call is made. Counters live in memory, or in Redis when the cache does (every worker).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar, Token

from limits import RateLimitItemPerMinute

from core.rate_limits import SharedLimiter

from .errors import BudgetExceeded

NAMESPACE = "usage-upstream-budget"


class Caller:
    """Who pays for the upstream calls of one request, named on its first call.

    Naming waits for the first call because a widget's tenant is known only once its token
    has been checked, after the request began.
    """

    def __init__(self, name: Callable[[], str | None]) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._resolved = False
        self._value: str | None = None

    def name(self) -> str | None:
        """Return the caller's key (e.g. `user:7`), or None when nobody is charged."""
        with self._lock:
            if not self._resolved:
                self._value = self._name()
                self._resolved = True
            return self._value


_caller: ContextVar[Caller | None] = ContextVar("upstream_caller", default=None)


def start_charging(caller: Caller) -> Token:
    """Charge the upstream calls made from here on (and in `carried` threads) to the caller."""
    return _caller.set(caller)


def stop_charging(token: Token) -> None:
    """Stop charging the caller set by start_charging."""
    _caller.reset(token)


class UpstreamBudget:
    """A moving one-minute window of upstream calls per caller."""

    def __init__(self, storage_url: str, per_minute: int) -> None:
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(per_minute)
        # While Redis is down the counters live in this process, never failing a page.
        self._limiter = SharedLimiter(storage_url, "upstream budget")

    def left(self, name: str) -> int:
        """Return how many more calls `name` may make in the current minute, counting none."""
        return self._limiter.remaining(self._item, NAMESPACE, name)

    def spend(self, api: str) -> None:
        """Count one call to `api` for the current caller; raise BudgetExceeded if none is left."""
        caller = _caller.get()
        name = caller.name() if caller is not None else None
        if name is None:  # jobs and the CLI: nobody to charge
            return
        key = (NAMESPACE, name)
        if self._limiter.hit(self._item, *key):
            return
        wait = self._limiter.seconds_to_wait(self._item, *key)
        raise BudgetExceeded(
            api,
            f"you used the {self.per_minute} upstream reads allowed per minute; "
            f"try again in {wait} s",
            retry_after=wait,
        )
