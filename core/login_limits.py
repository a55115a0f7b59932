"""Sign-in attempt limits: per client address, per account and address, per account.

Every attempt is counted, atomically, before its password is checked, so parallel guesses
cannot slip past a limit. Three moving windows apply, checked in this order:

- an address: `PER_ADDRESS` attempts, whatever accounts they name;
- an account from one address: `PER_ACCOUNT_ADDRESS`, cleared when the account signs in from
  there, so an attacker's failures lock only the attacker's own address out of the account;
- an account from anywhere: `PER_ACCOUNT`, a ceiling against guessing spread over addresses.

An attempt refused by one window is not counted by the windows after it, so a locked account
opens again when its window has passed, however often it is tried meanwhile.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse

from .rate_limits import SharedLimiter, made_once, storage_url_for

PER_ADDRESS = "20 per 15 minutes"
PER_ACCOUNT_ADDRESS = "5 per 15 minutes"
PER_ACCOUNT = "50 per hour"
NAMESPACE = "usage-login"
# Warn once this few attempts (or fewer) are left before a window pauses sign-in.
WARN_WHEN_LEFT = 2


@dataclass(frozen=True)
class AttemptsLeft:
    """How many attempts the tightest window still allows, and how long it pauses after."""

    left: int
    window_seconds: int  # the window's length: the longest a pause can last
    wait_seconds: int | None  # when none is left: the seconds until one is again


class LoginLimits:
    """Moving-window counters of sign-in attempts."""

    def __init__(
        self,
        storage_url: str,
        per_address: str = PER_ADDRESS,
        per_account_address: str = PER_ACCOUNT_ADDRESS,
        per_account: str = PER_ACCOUNT,
    ) -> None:
        self.limiter = SharedLimiter(storage_url, "sign-in")
        self.per_address = parse(per_address)
        self.per_account_address = parse(per_account_address)
        self.per_account = parse(per_account)

    def _windows(self, email: str, address: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        windows = [(self.per_address, _address_key(address))]
        if email:
            windows += [
                (self.per_account_address, _pair_key(email, address)),
                (self.per_account, _account_key(email)),
            ]
        return windows

    def admit(self, email: str, address: str) -> int | None:
        """Count an attempt; return the seconds to wait if a limit refuses it, else None."""
        for item, key in self._windows(email, address):
            if not self.limiter.hit(item, *key):
                return self.limiter.seconds_to_wait(item, *key)
        return None

    def attempts_left(self, email: str, address: str) -> AttemptsLeft | None:
        """Return what the tightest window still allows, when few attempts are left; else None.

        Counting never looks at whether the account exists, so neither does this answer:
        an unknown email and a known one get the same numbers.
        """
        tightest: AttemptsLeft | None = None
        for item, key in self._windows(email, address):
            left = self.limiter.remaining(item, *key)
            if tightest is None or left < tightest.left:
                wait = self.limiter.seconds_to_wait(item, *key) if left == 0 else None
                tightest = AttemptsLeft(left, item.get_expiry(), wait)
        return tightest if tightest is not None and tightest.left <= WARN_WHEN_LEFT else None

    def succeeded(self, email: str, address: str) -> None:
        """Forget the account's failures from this address, after it signed in from there."""
        self.limiter.clear(self.per_account_address, *_pair_key(email, address))


def _address_key(address: str) -> tuple[str, ...]:
    return (NAMESPACE, "address", address or "unknown")


def _pair_key(email: str, address: str) -> tuple[str, ...]:
    return (NAMESPACE, "account-address", _digest(email), address or "unknown")


def _account_key(email: str) -> tuple[str, ...]:
    return (NAMESPACE, "account", _digest(email))


def _digest(email: str) -> str:
    # A digest keeps attacker-chosen text (any length, any characters) out of storage keys.
    return hashlib.sha256(email.encode()).hexdigest()


def login_limits(app: Flask | None = None) -> LoginLimits:
    """Return the app's counters, created on first use (nothing connects at start-up)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return made_once(
        app.extensions,
        "login_limits",
        lambda: LoginLimits(
            storage_url_for(app.config["USAGE"].cache_url),
            per_address=app.config.get("LOGIN_LIMIT_PER_ADDRESS", PER_ADDRESS),
            per_account_address=app.config.get(
                "LOGIN_LIMIT_PER_ACCOUNT_ADDRESS", PER_ACCOUNT_ADDRESS
            ),
            per_account=app.config.get("LOGIN_LIMIT_PER_ACCOUNT", PER_ACCOUNT),
        ),
    )
