"""Reads made at once on one bounded pool of threads per process, safe to nest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from .concurrency import PerProcess
from .deadline import carried

T = TypeVar("T")
U = TypeVar("U")

# The bound decides how much runs at once, never whether a fan-out finishes (callers run
# what no thread has started). Four times EvoVoice's default 8 calls in flight per process
# leaves room for isnotai's reads and several requests at once; more threads would mostly
# wait on those slots.
WORKERS = 32


class ProcessThreads:
    """At most `workers` threads per process, shared by every fan-out in it."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self._executor = PerProcess(
            lambda: ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout")
        )

    def executor(self) -> ThreadPoolExecutor:
        """Return this process's executor (a forked worker gets its own, not the parent's)."""
        return self._executor.get()


THREADS = ProcessThreads(WORKERS)


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
