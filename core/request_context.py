"""What one dashboard request carries to every upstream call it makes: its id and its deadline.

Set per request by `core.observability`; read by the clients, in any thread that runs in a
copy of the request's context (`clients.deadline.carried`).
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_deadline: ContextVar[float | None] = ContextVar("upstream_deadline", default=None)


def current_deadline() -> float | None:
    """Return the monotonic time by which the current request's reads must end, if any."""
    return _deadline.get()


def start_deadline(seconds: float) -> Token:
    """Bound every upstream read of the current request; pass the token to end_deadline."""
    current = _deadline.get()
    mine = time.monotonic() + seconds
    return _deadline.set(mine if current is None else min(current, mine))


def end_deadline(token: Token) -> None:
    """Lift the bound set by start_deadline."""
    _deadline.reset(token)
