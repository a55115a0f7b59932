"""One deadline for all the upstream reads of one dashboard request, across threads; and the
saved-answers-only mode a page falls back on when its own deadline passes first."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import copy_context
from typing import TypeVar

from core.request_context import (
    current_deadline,
    end_deadline,
    end_saved_only,
    saved_only,
    start_deadline,
    start_saved_only,
)

from .budget import UpstreamBudget
from .errors import BudgetExceeded

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


class StillReading(BudgetExceeded):
    """A page's deadline passed while its read of this upstream was still running.

    A budget refusal, so the cached session answers with saved data where it has some
    (stale allowed) without calling the upstream or waiting on the read in flight.
    """

    page_status = 504

    def __init__(self, api: str) -> None:
        deadline = current_deadline()
        left = 1 if deadline is None else max(1, math.ceil(deadline - time.monotonic()))
        super().__init__(
            api,
            f"{api} is slow to answer; the page will have fresh numbers shortly",
            retry_after=left,
        )


@contextmanager
def saved_answers() -> Iterator[None]:
    """Answer every read inside from saved data only: no upstream call, no waiting on one."""
    token = start_saved_only()
    try:
        yield
    finally:
        end_saved_only(token)


class SavedOnlyGate:
    """What the cached session asks before each upstream call: refused in `saved_answers`,
    else the caller's budget decides (when one is configured)."""

    def __init__(self, budget: UpstreamBudget | None = None) -> None:
        self.budget = budget

    def spend(self, api: str) -> None:
        """Let one call to `api` through, or raise StillReading / BudgetExceeded."""
        if saved_only():
            raise StillReading(api)
        if self.budget is not None:
            self.budget.spend(api)
