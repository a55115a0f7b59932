"""What one dashboard request carries to every upstream call it makes: its id, its deadlines,
and whether it may still call the upstreams at all.

Set per request by `core.observability`; read by the clients, in any thread that runs in a
copy of the request's context (`clients.deadline.carried`).
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_deadline: ContextVar[float | None] = ContextVar("upstream_deadline", default=None)
_page_deadline: ContextVar[float | None] = ContextVar("page_deadline", default=None)
_saved_only: ContextVar[bool] = ContextVar("saved_only", default=False)


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


def current_page_deadline() -> float | None:
    """Return the monotonic time by which the current page must answer, if any."""
    return _page_deadline.get()


def start_page_deadline(seconds: float) -> Token:
    """Bound how long the current page waits for its reads; pass the token to end_page_deadline."""
    return _page_deadline.set(time.monotonic() + seconds)


def end_page_deadline(token: Token) -> None:
    """Lift the bound set by start_page_deadline."""
    _page_deadline.reset(token)


def saved_only() -> bool:
    """Tell whether reads here may use saved answers only, calling no upstream."""
    return _saved_only.get()


def start_saved_only() -> Token:
    """Make every read from here on (and in threads carrying this context) use saved answers."""
    return _saved_only.set(True)


def end_saved_only(token: Token) -> None:
    """Let reads call the upstreams again."""
    _saved_only.reset(token)
