"""One deadline for all the upstream reads of one dashboard request, across threads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import copy_context
from typing import TypeVar

from core.request_context import end_deadline, start_deadline

T = TypeVar("T")
U = TypeVar("U")


@contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    """Bound every upstream read made inside (and in threads started with `carried`)."""
    token = start_deadline(seconds)
    try:
        yield
    finally:
        end_deadline(token)


def carried(fn: Callable[..., T]) -> Callable[..., T]:
    """Wrap fn to run in a copy of the caller's context, so pool threads keep its deadline."""
    context = copy_context()
    return lambda *args, **kwargs: context.run(fn, *args, **kwargs)


def both(first: Callable[[], T], second: Callable[[], U]) -> tuple[T, U]:
    """Run two reads at once, each in the caller's context (its deadline); return both."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        one, two = pool.submit(carried(first)), pool.submit(carried(second))
        return one.result(), two.result()
