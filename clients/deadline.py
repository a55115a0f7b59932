"""One deadline for all the upstream reads of one dashboard request, across threads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import copy_context
from typing import TypeVar

from core.request_context import end_deadline, start_deadline

T = TypeVar("T")


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
