"""Reads made at once on one bounded pool of threads per process, safe to nest; and a page's
reads, which may outlive the page's wait for them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from core.request_context import current_page_deadline

from .concurrency import PerProcess
from .deadline import carried, saved_answers

log = logging.getLogger(__name__)
T = TypeVar("T")
U = TypeVar("U")

# The bound decides how much runs at once, never whether a fan-out finishes (callers run
# what no thread has started). Four times EvoVoice's default 8 calls in flight per process
# leaves room for isnotai's reads and several requests at once; more threads would mostly
# wait on those slots.
WORKERS = 32
# Views whose page stopped waiting keep their thread until their reads end (by the upstream
# deadline); past this many at once a new view waits for a thread, then for its deadline.
PAGE_WORKERS = 16


class ProcessThreads:
    """At most `workers` threads per process, shared by every fan-out in it."""

    def __init__(self, workers: int, name: str = "fanout") -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._executor = PerProcess(
            lambda: ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        )

    def executor(self) -> ThreadPoolExecutor:
        """Return this process's executor (a forked worker gets its own, not the parent's)."""
        return self._executor.get()


THREADS = ProcessThreads(WORKERS)
PAGE_THREADS = ProcessThreads(PAGE_WORKERS, "page")


def run_all(
    calls: Sequence[Callable[[], Any]],
    threads: ProcessThreads = THREADS,
    *,
    at_once: int | None = None,
) -> list[Any]:
    """Run calls at once, each in a copy of the caller's context; return results in order.

    Calls start in order, at most `at_once` of them at a time (all when None): a fan-out to
    an upstream with N slots asks with N at a time, so its first calls get the slots rather
    than racing every later one for them. The caller runs each started call no pool thread
    has taken yet and waits only on calls already running, so fan-outs nested in calls
    finish however full the pool is. Every call ends before this returns; the first
    failure, in call order, is raised.
    """
    fan = _FanOut([carried(call) for call in calls], threads.executor(), at_once)
    outcomes = fan.run()
    for _, error in outcomes:
        if error is not None:
            raise error
    return [value for value, _ in outcomes]


def both(
    first: Callable[[], T], second: Callable[[], U], threads: ProcessThreads = THREADS
) -> tuple[T, U]:
    """Run two reads at once, each in the caller's context (its deadline); return both."""
    one, two = run_all([first, second], threads)
    return one, two


def within_page(
    read: Callable[[], T], saved: Callable[[], T], threads: ProcessThreads = PAGE_THREADS
) -> T:
    """Return read() if it ends by the page's deadline, else saved() while read goes on.

    Without a page deadline (the CLI, a service used directly) read() runs here. Past the
    deadline the read keeps its thread until it ends, bounded by the upstream deadline it
    carries, and leaves its answers in the cache for the next view; `saved` runs with
    saved answers only. A read no thread had started by then is dropped.
    """
    deadline = current_page_deadline()
    if deadline is None:
        return read()
    future = threads.executor().submit(carried(read))
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        if not future.cancel():
            future.add_done_callback(_log_failure)
        with saved_answers():
            return saved()


def _log_failure(future: Future) -> None:
    # Upstream failures are part of the view; anything else would otherwise vanish unseen.
    if not future.cancelled() and (error := future.exception()) is not None:
        log.error("a page read that went on in the background failed: %r", error)


Outcome = tuple[Any, BaseException | None]


def _outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return call(), None
    except BaseException as exc:  # noqa: BLE001 - raised by run_all once every call has ended
        return None, exc


class _FanOut:
    """One run_all: which calls were handed to the pool, which ended, and how."""

    def __init__(self, tasks: list[Callable[[], Any]], executor, at_once: int | None) -> None:
        self.tasks = tasks
        self.executor = executor
        self.limit = len(tasks) if at_once is None else max(1, at_once)
        self.changed = threading.Condition()
        self.submitted = 0  # calls handed to the pool, in order
        self.unended = 0  # of those, calls not ended yet
        self.queued: dict[int, Future] = {}  # handed over, not ended (in call order)
        self.outcomes: dict[int, Outcome] = {}

    def run(self) -> list[Outcome]:
        """Run every call; return their outcomes in call order."""
        with self.changed:
            self._hand_over()
        while True:
            with self.changed:
                if len(self.outcomes) == len(self.tasks):
                    return [self.outcomes[i] for i in range(len(self.tasks))]
                mine = next((i for i, future in self.queued.items() if future.cancel()), None)
                if mine is None:
                    self.changed.wait()  # every call handed over is running: one will end
                    continue
                del self.queued[mine]  # cancelled in the pool: this thread runs it
            self._ended(mine, _outcome(self.tasks[mine]))

    def _hand_over(self) -> None:
        # Called holding `changed`.
        while self.submitted < len(self.tasks) and self.unended < self.limit:
            index = self.submitted
            self.submitted += 1
            self.unended += 1
            self.queued[index] = self.executor.submit(self._run, index)

    def _run(self, index: int) -> None:
        self._ended(index, _outcome(self.tasks[index]))

    def _ended(self, index: int, outcome: Outcome) -> None:
        with self.changed:
            self.queued.pop(index, None)
            self.outcomes[index] = outcome
            self.unended -= 1
            self._hand_over()
            self.changed.notify_all()
