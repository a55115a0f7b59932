"""One deadline for all the upstream reads of one dashboard request, across threads."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from typing import TypeVar

T = TypeVar("T")
_deadline: ContextVar[float | None] = ContextVar("upstream_deadline", default=None)


@contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    """Bound every upstream read made inside (and in threads started with `carried`)."""
    current = _deadline.get()
    mine = time.monotonic() + seconds
    token = _deadline.set(mine if current is None else min(current, mine))
    try:
        yield
    finally:
        _deadline.reset(token)


def current_deadline() -> float | None:
    """Return the monotonic time by which the current request's reads must end, if any."""
    return _deadline.get()


def carried(fn: Callable[..., T]) -> Callable[..., T]:
    """Wrap fn to run in a copy of the caller's context, so pool threads keep its deadline."""
    context = copy_context()
    return lambda *args, **kwargs: context.run(fn, *args, **kwargs)
