"""Failed sign-in counters per account and per client address, kept by the `limits` library.

Counters live in memory (one process) unless `USAGE_CACHE_URL` is a Redis URL, in which case
every worker shares them. An account's attempts count until one succeeds, which clears them;
an address counts only its failures. A refused (limited) attempt counts nowhere, so hammering
an account cannot keep it locked past the window.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

PER_ACCOUNT = "5 per 15 minutes"
PER_ADDRESS = "20 per 15 minutes"
REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")
NAMESPACE = "usage-login"
_CREATE_LOCK = threading.Lock()


class LoginLimits:
    """Moving-window counters of failed sign-ins, by account and by client address."""

    def __init__(
        self, storage_url: str, per_account: str = PER_ACCOUNT, per_address: str = PER_ADDRESS
    ) -> None:
        # Storage failures surface as limits.errors.StorageError, whatever the backend.
        self.storage = storage_from_string(storage_url, wrap_exceptions=True)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.per_account = parse(per_account)
        self.per_address = parse(per_address)

    def admit(self, email: str, address: str) -> int | None:
        """Count an attempt against its account, or return the seconds to wait when limited.

        The account's slot is taken atomically before the password is checked, so parallel
        guesses cannot slip past the limit; a success clears it again (`succeeded`).
        """
        address_key = _address_key(address)
        if not self.limiter.test(self.per_address, *address_key):
            return self._wait(self.per_address, address_key)
        if email:
            account_key = _account_key(email)
            if not self.limiter.hit(self.per_account, *account_key):
                return self._wait(self.per_account, account_key)
        return None

    def failed(self, address: str) -> None:
        """Count a failed attempt against the client address."""
        self.limiter.hit(self.per_address, *_address_key(address))

    def succeeded(self, email: str) -> None:
        """Forget an account's failures, after it signed in."""
        self.limiter.clear(self.per_account, *_account_key(email))

    def _wait(self, item: RateLimitItem, key: tuple[str, ...]) -> int:
        reset_time = self.limiter.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset_time - time.time()))


def _address_key(address: str) -> tuple[str, ...]:
    return (NAMESPACE, "address", address or "unknown")


def _account_key(email: str) -> tuple[str, ...]:
    # A digest keeps attacker-chosen text (any length, any characters) out of storage keys.
    return (NAMESPACE, "account", hashlib.sha256(email.encode()).hexdigest())


def storage_url_for(cache_url: str) -> str:
    """Share counters through Redis when the cache is Redis; otherwise keep them in memory."""
    return cache_url if cache_url.startswith(REDIS_SCHEMES) else "memory://"


def login_limits(app: Flask | None = None) -> LoginLimits:
    """Return the app's counters, created on first use (nothing connects at start-up)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    limits = app.extensions.get("login_limits")
    if limits is None:
        with _CREATE_LOCK:
            limits = app.extensions.get("login_limits")
            if limits is None:
                limits = LoginLimits(
                    storage_url_for(app.config["USAGE"].cache_url),
                    per_account=app.config.get("LOGIN_LIMIT_PER_ACCOUNT", PER_ACCOUNT),
                    per_address=app.config.get("LOGIN_LIMIT_PER_ADDRESS", PER_ADDRESS),
                )
                app.extensions["login_limits"] = limits
    return limits
