"""One deadline for all the upstream reads of one dashboard request, across threads."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar, Token, copy_context
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")
_deadline: ContextVar[float | None] = ContextVar("upstream_deadline", default=None)


@contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    """Bound every upstream read made inside (and in threads started with `carried`)."""
    token = start_deadline(seconds)
    try:
        yield
    finally:
        end_deadline(token)


def current_deadline() -> float | None:
    """Return the monotonic time by which the current request's reads must end, if any."""
    return _deadline.get()


def carried(fn: Callable[..., T]) -> Callable[..., T]:
    """Wrap fn to run in a copy of the caller's context, so pool threads keep its deadline."""
    context = copy_context()
    return lambda *args, **kwargs: context.run(fn, *args, **kwargs)


def both(first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """Run two reads at once, each in the caller's context (its deadline); return both."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        one, two = pool.submit(carried(first)), pool.submit(carried(second))
        return one.result(), two.result()


def start_deadline(seconds: float) -> Token:
    """Bound every upstream read of the current request; pass the token to end_deadline."""
    current = _deadline.get()
    mine = time.monotonic() + seconds
    return _deadline.set(mine if current is None else min(current, mine))


def end_deadline(token: Token) -> None:
    """Lift the bound set by start_deadline."""
    _deadline.reset(token)
