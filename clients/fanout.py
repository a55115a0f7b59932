"""Reads made at once on one bounded pool of threads per process, safe to nest; and a page's
reads, which may outlive the page's wait for them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from core.request_context import current_page_deadline

from .concurrency import PerProcess
from .deadline import carried, saved_answers
from .memo import NotRemembered, from_memory, remembered_only

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


class _Pool:
    """One process's executor, and how many calls it was handed."""

    def __init__(self, workers: int, name: str) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self.lock = threading.Lock()
        self.submitted = 0


class ProcessThreads:
    """At most `workers` threads per process, shared by every fan-out in it."""

    def __init__(self, workers: int, name: str = "fanout") -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._pool = PerProcess(lambda: _Pool(workers, name))

    def executor(self) -> ThreadPoolExecutor:
        """Return this process's executor (a forked worker gets its own, not the parent's)."""
        return self._pool.get().executor

    def submit(self, call: Callable[[], T]) -> Future[T]:
        """Hand a call to this process's pool."""
        pool = self._pool.get()
        with pool.lock:
            pool.submitted += 1
        return pool.executor.submit(call)

    @property
    def submitted(self) -> int:
        """Return how many calls this process's pool was handed (a read the memo answers
        hands it none)."""
        pool = self._pool.get()
        with pool.lock:
            return pool.submitted


THREADS = ProcessThreads(WORKERS)
PAGE_THREADS = ProcessThreads(PAGE_WORKERS, "page")


def run_all(
    calls: Sequence[Callable[[], Any]],
    threads: ProcessThreads = THREADS,
    *,
    at_once: int | None = None,
) -> list[Any]:
    """Run calls at once, each in a copy of the caller's context; return results in order.

    Each call first runs here from the process's memo alone (`from_memory`): a call whose
    reads are all remembered ends at once, with no thread. Only the others are fanned out,
    at most `at_once` of them at a time (all when None), in call order: the caller runs the
    first itself and each other no pool thread has taken yet, and waits only on calls
    already running, so fan-outs nested in calls finish however full the pool is. Every
    call ends before this returns; the first failure, in call order, is raised. A call the
    memo could not answer runs again from its start: what it does before reading must bear
    being done twice.
    """
    if remembered_only():
        # Inside an outer memo-only pass: the first read past the memo ends it, and that
        # outer fan-out runs the whole call again on a thread.
        return [carried(call)() for call in calls]
    outcomes: dict[int, Outcome] = {}
    missed: dict[int, Callable[[], Any]] = {}
    for index, call in enumerate(calls):
        try:
            outcomes[index] = from_memory(call), None
        except NotRemembered:
            missed[index] = carried(call)
        except BaseException as exc:  # noqa: BLE001 - raised once every call has ended
            outcomes[index] = None, exc
    if missed:
        outcomes.update(_FanOut(missed, threads, at_once).run())
    for index in range(len(calls)):
        if (error := outcomes[index][1]) is not None:
            raise error
    return [outcomes[index][0] for index in range(len(calls))]


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

    Without a page deadline (the CLI, a service used directly), or when every read it makes
    is in the process's memo, read() runs here. Past the deadline the read keeps its thread
    until it ends, bounded by the upstream deadline it carries, and leaves its answers in
    the cache for the next view; `saved` runs with saved answers only. A read no thread had
    started by then is dropped.
    """
    deadline = current_page_deadline()
    if deadline is None or remembered_only():
        return read()
    try:
        return from_memory(read)
    except NotRemembered:
        pass
    future = threads.submit(carried(read))
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
    """The calls of one run_all that need more than the memo: which were handed to the
    pool, which ended, and how."""

    def __init__(
        self, tasks: dict[int, Callable[[], Any]], threads: ProcessThreads, at_once: int | None
    ) -> None:
        self.tasks = tasks
        self.threads = threads
        self.limit = len(tasks) if at_once is None else max(1, at_once)
        self.changed = threading.Condition()
        self.waiting = list(reversed(tasks))  # not started yet; the next one last
        self.unended = 0  # started, not ended yet
        self.queued: dict[int, Future] = {}  # handed over, not ended (in call order)
        self.outcomes: dict[int, Outcome] = {}

    def run(self) -> dict[int, Outcome]:
        """Run every call; return their outcomes by call index."""
        with self.changed:
            # The first is this thread's own: a single call starts no thread at all.
            mine: int | None = self._start()
            self._hand_over()
        while mine is not None:
            self._ended(mine, _outcome(self.tasks[mine]))
            mine = self._next_of_mine()
        return self.outcomes

    def _next_of_mine(self) -> int | None:
        """Wait for a call handed over that no pool thread has started; None once all ended."""
        with self.changed:
            while len(self.outcomes) < len(self.tasks):
                mine = next((i for i, future in self.queued.items() if future.cancel()), None)
                if mine is not None:
                    del self.queued[mine]  # cancelled in the pool: this thread runs it
                    return mine
                self.changed.wait()  # every call handed over is running: one will end
            return None

    def _start(self) -> int:
        # Called holding `changed`, with a call waiting.
        self.unended += 1
        return self.waiting.pop()

    def _hand_over(self) -> None:
        # Called holding `changed`.
        while self.waiting and self.unended < self.limit:
            index = self._start()
            self.queued[index] = self.threads.submit(partial(self._run, index))

    def _run(self, index: int) -> None:
        self._ended(index, _outcome(self.tasks[index]))

    def _ended(self, index: int, outcome: Outcome) -> None:
        with self.changed:
            self.queued.pop(index, None)
            self.outcomes[index] = outcome
            self.unended -= 1
            self._hand_over()
            self.changed.notify_all()
