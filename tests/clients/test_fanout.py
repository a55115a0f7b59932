"""Fan-outs on one bounded pool per process: in order, failures raised, nestable, per process."""

from __future__ import annotations

import os
import signal
import threading
import time
from contextvars import ContextVar

import pytest

from clients.deadline import deadline_in
from clients.fanout import THREADS, WORKERS, ProcessThreads, both, run_all, within_page
from clients.memo import beyond_memory
from core.request_context import (
    current_deadline,
    end_page_deadline,
    request_id,
    start_page_deadline,
)

WAIT = 10  # seconds a test waits for what must happen at once; a regression fails, not hangs

tenant: ContextVar[str | None] = ContextVar("tenant", default=None)


def waiting(call):
    """Return call as a read that waits: it looks past the memo first, as reads do before
    waiting on the store or an upstream, so a fan-out gives it a thread."""

    def read():
        beyond_memory()
        return call()

    return read


def meeting() -> tuple:
    """Return two calls that finish only when both run at the same time, on two threads."""
    first_in, second_in = threading.Event(), threading.Event()

    @waiting
    def first():
        first_in.set()
        return second_in.wait(WAIT), threading.get_ident()

    @waiting
    def second():
        second_in.set()
        return first_in.wait(WAIT), threading.get_ident()

    return first, second


def finished_within(seconds: float, work) -> list:
    """Run work on its own thread; return [its result], or [] if it did not end in time."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    return out


def test_results_come_in_call_order_whatever_order_they_end_in():
    def after(seconds: float, value: int):
        return waiting(lambda: time.sleep(seconds) or value)

    calls = [after(0.15, 0), after(0.1, 1), after(0.0, 2), after(0.05, 3)]
    assert run_all(calls, ProcessThreads(4)) == [0, 1, 2, 3]
    assert run_all([]) == []
    assert both(lambda: "a", lambda: "b") == ("a", "b")


def test_a_caller_runs_what_no_pool_thread_has_started():
    first, second = meeting()
    (met, one), (also_met, two) = run_all([first, second], ProcessThreads(1))
    assert met and also_met  # they ran at the same time: one on the pool's thread, one here
    assert one != two and threading.get_ident() in (one, two)


def exit_code(child: int) -> int | None:
    """Return a forked child's exit code; kill it and return None if it runs past WAIT."""
    ends = time.monotonic() + WAIT * 2
    while time.monotonic() < ends:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    return None


def test_the_first_failure_in_call_order_is_raised_after_every_call_ended():
    ended: list[int] = []

    def fails(n: int, seconds: float):
        @waiting
        def call():
            time.sleep(seconds)
            ended.append(n)
            raise LookupError(n)

        return call

    def succeeds(n: int):
        return lambda: ended.append(n) or n

    # The third call fails first in time; the second fails first in order.
    with pytest.raises(LookupError) as caught:
        run_all([succeeds(0), fails(1, 0.2), fails(2, 0.0), succeeds(3)], ProcessThreads(4))
    assert caught.value.args == (1,)
    assert sorted(ended) == [0, 1, 2, 3]
    with pytest.raises(KeyError):
        both(lambda: {}["missing"], lambda: 1)


def nested(threads: ProcessThreads, depth: int, width: int):
    """Return a call fanning out `width` calls, each fanning out again, `depth` levels deep."""
    if depth == 0:
        return lambda: 1
    return lambda: sum(run_all([nested(threads, depth - 1, width)] * width, threads))


def test_nested_fan_outs_finish_on_a_pool_of_one_thread():
    threads = ProcessThreads(1)
    # Three levels of three: each waiting caller runs what no thread has started.
    assert finished_within(WAIT, nested(threads, 3, 3)) == [27]
    # While the one thread is busy with a fan-out of its own, others still finish.
    first, second = meeting()
    busy = finished_within(
        WAIT,
        lambda: run_all(
            [lambda: run_all([first, second], threads), nested(threads, 3, 3)], threads
        ),
    )
    assert busy and busy[0][1] == 27 and all(met for met, _ in busy[0][0])


def test_every_call_runs_in_the_callers_context():
    threads = ProcessThreads(2)
    first, second = meeting()

    def seen(call):
        return lambda: (call(), tenant.get(), request_id.get(), current_deadline())

    tenant.set("acme")
    request_id.set("req-1")
    with deadline_in(30):
        deadline = current_deadline()
        results = run_all([seen(first), seen(second)], threads)
        inner = run_all([lambda: run_all([seen(lambda: (True, 0))] * 3, threads)], threads)
    assert [r[1:] for r in results] == [("acme", "req-1", deadline)] * 2
    assert results[0][0][1] != results[1][0][1]  # one on a pool thread: the context followed
    assert [r[1:] for r in inner[0]] == [("acme", "req-1", deadline)] * 3

    def changes():
        tenant.set("initech")
        return tenant.get()

    assert run_all([changes, changes], threads) == ["initech", "initech"]
    assert tenant.get() == "acme"  # a call's changes stay its own


def test_a_forked_worker_gets_a_pool_of_its_own():
    threads = ProcessThreads(1)
    first, second = meeting()
    run_all([first, second], threads)  # the parent's one thread now exists, idle
    parent = threads.executor()
    child = os.fork()
    if child == 0:  # the worker: the parent's thread was not forked with it
        try:
            first, second = meeting()
            met = all(m for m, _ in run_all([first, second], threads))
            own = threads.executor() is not parent and threads.submitted == 1  # not 2
            os._exit(0 if met and own else 1)
        finally:
            os._exit(2)
    assert exit_code(child) == 0
    assert threads.executor() is parent
    assert threads.submitted == 1  # the worker's count is its own


def test_no_more_threads_than_the_bound_run_the_calls():
    @waiting
    def where():
        time.sleep(0.02)
        return threading.get_ident()

    used = set(run_all([where] * 20, ProcessThreads(2)))
    assert threading.get_ident() in used
    assert len(used) in (2, 3)  # the caller, and at most two pool threads
    with pytest.raises(ValueError):
        ProcessThreads(0)
    assert THREADS.workers == WORKERS


def test_at_once_bounds_the_calls_of_one_fan_out_in_flight():
    lock = threading.Lock()
    now, most, started = [0], [0], []

    def call(n: int):
        @waiting
        def counted():
            with lock:
                started.append(n)
                now[0] += 1
                most[0] = max(most[0], now[0])
            time.sleep(0.03)
            with lock:
                now[0] -= 1
            return n

        return counted

    assert run_all([call(n) for n in range(12)], ProcessThreads(8), at_once=3) == list(range(12))
    assert most[0] == 3
    assert set(started[:3]) == {0, 1, 2}  # handed over in order


def test_only_calls_that_look_past_the_memo_are_handed_to_the_pool():
    threads = ProcessThreads(2)
    here = threading.get_ident()
    where = threading.get_ident
    assert run_all([where] * 3, threads) == [here] * 3
    assert threads.submitted == 0  # every call ended in the memo-only pass: no thread
    # One call waits: it is the only one left, so the caller runs it too.
    assert run_all([where, waiting(where), where], threads) == [here] * 3
    assert threads.submitted == 0
    # Two wait: the caller runs the first and the pool only the second.
    first, second = meeting()
    answered = run_all([where, first, where, second], threads)
    assert answered[0] == answered[2] == answered[1][1] == here
    assert answered[3][0] and answered[3][1] != here
    assert threads.submitted == 1


def test_a_call_whose_nested_fan_out_waits_runs_again_from_its_start():
    threads = ProcessThreads(2)
    started: list[str] = []

    def outer():
        started.append("outer")
        return run_all([lambda: "remembered", waiting(lambda: "read")], threads)

    # The memo-only pass stopped at the nested read; the caller ran the whole call again.
    assert both(outer, lambda: "remembered", threads) == (["remembered", "read"], "remembered")
    assert started == ["outer", "outer"]
    assert threads.submitted == 0


def test_a_page_read_the_memo_answers_runs_here_and_one_that_waits_on_a_thread():
    threads = ProcessThreads(1)
    here = threading.get_ident()
    token = start_page_deadline(WAIT)
    try:
        assert within_page(threading.get_ident, lambda: None, threads) == here
        assert threads.submitted == 0
        assert within_page(waiting(threading.get_ident), lambda: None, threads) != here
        assert threads.submitted == 1
    finally:
        end_page_deadline(token)
