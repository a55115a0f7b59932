"""Periodic jobs: their times, their slots, and one run per slot however often they are queued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.extensions import db
from jobs.periodic import JOBS, Job, claim_slot, run, run_job
from jobs.queue import queue_for
from models import JobSlot

from . import sample_jobs
from .conftest import LogLines


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("job", "now", "slot"),
    [
        ("sweep", "2026-12-01T06:17:59", "2026-12-01T06:17"),
        ("alerts", "2026-12-01T06:29:59", "2026-12-01T06:15"),
        ("alerts", "2026-12-01T06:30:00", "2026-12-01T06:30"),
        ("reports", "2026-12-01T06:00:00", "2026-12-01T06:00"),
        ("reports", "2026-12-01T05:59:00", "2026-11-30T06:00"),
        ("reports", "2026-12-01T23:00:00", "2026-12-01T06:00"),
        ("cache-warm", "2026-12-01T02:07:00", "2026-12-01T02:00"),
        ("cache-warm", "2026-12-01T01:00:00", "2026-11-30T02:00"),
    ],
)
def test_a_run_belongs_to_the_slot_it_was_due_in(job, now, slot):
    assert JOBS[job].slot(at(now)) == slot


@pytest.mark.parametrize(
    ("when", "due"),
    [
        ("2026-12-01T00:00", {"sweep", "alerts"}),
        ("2026-12-01T02:00", {"sweep", "alerts", "cache-warm"}),
        ("2026-12-01T06:00", {"sweep", "alerts", "reports"}),
        ("2026-12-01T06:15", {"sweep", "alerts"}),
        ("2026-12-01T06:16", {"sweep"}),
    ],
)
def test_the_queue_runs_each_job_at_its_time(make_env, when, due):
    env = make_env()
    huey = queue_for(env.app).huey
    # Huey's scheduler asks this each minute, with naive UTC times.
    tasks = huey.read_periodic(datetime.fromisoformat(when))
    assert {task.name.removeprefix("job-") for task in tasks} == due


def test_a_job_runs_once_per_slot(make_env):
    env = make_env()
    job = Job(
        "test-two", {}, timedelta(minutes=15), timedelta(0), "tests.jobs.sample_jobs:two_outcomes"
    )
    with env.app.app_context(), LogLines() as logs:
        first = run(job, at("2026-12-01T06:16:00"))
        again = run(job, at("2026-12-01T06:29:00"))
        later = run(job, at("2026-12-01T06:30:00"))
        slots = db.session.scalars(select(JobSlot.slot).where(JobSlot.job == "test-two")).all()

    assert first == ["rule 1 at 06:16: fired", "rule 2: below its threshold"]
    assert again == []
    assert len(later) == 2
    assert sorted(slots) == ["2026-12-01T06:15", "2026-12-01T06:30"]
    lines = [line.removeprefix("jobs.periodic ") for line in logs.lines if "jobs.periodic" in line]
    assert lines == [
        "job test-two 2026-12-01T06:15: rule 1 at 06:16: fired",
        "job test-two 2026-12-01T06:15: rule 2: below its threshold",
        "job test-two 2026-12-01T06:15: skipped, another consumer has this slot",
        "job test-two 2026-12-01T06:30: rule 1 at 06:30: fired",
        "job test-two 2026-12-01T06:30: rule 2: below its threshold",
    ]


def test_a_failed_run_gives_its_slot_back_for_the_retry(make_env):
    env = make_env()
    sample_jobs.CALLS.clear()
    job = Job(
        "test-fail", {}, timedelta(minutes=15), timedelta(0), "tests.jobs.sample_jobs:fail_once"
    )
    with env.app.app_context():
        with pytest.raises(RuntimeError, match="upstream read failed"):
            run(job, at("2026-12-01T06:15:00"))
        assert claim_slot("test-fail", "2026-12-01T06:15")  # it was given back
        db.session.execute(JobSlot.__table__.delete())
        db.session.commit()
        assert run(job, at("2026-12-01T06:16:00")) == ["worked the second time"]


def test_the_sweep_queues_what_is_due_and_forgets_old_slots(make_env, receiver):
    env = make_env()
    row = env.webhook(env.tenant("acme"), receiver.url)
    huey = queue_for(env.app).huey
    huey.flush()  # as if the commit's message were lost
    now = datetime.now(UTC)
    with env.app.app_context():
        db.session.add(JobSlot(job="sweep", slot="old", started_at=now - timedelta(days=8)))
        db.session.commit()
        lines = run_job("sweep", now)
        slots = db.session.scalars(select(JobSlot.slot)).all()

    assert lines == [f"queued 1 due delivery: {row.id}"]
    assert [task.args for task in huey.pending()] == [(row.id,)]
    assert slots == [JOBS["sweep"].slot(now)]
