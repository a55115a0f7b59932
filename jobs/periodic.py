"""The periodic jobs, and running each once per slot however many consumers there are.

Every consumer's scheduler queues each job when its time comes; the run that inserts the
job's JobSlot row for that slot does the work, the others find the row taken and skip.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from models import JobSlot

from .delivery import due_ids
from .queue import queue_for

log = logging.getLogger(__name__)

SLOTS_KEPT = timedelta(days=7)


@dataclass(frozen=True)
class Job:
    """A periodic job: when it runs (crontab fields, UTC), its slot length, and what it calls."""

    name: str
    cron: dict[str, str]
    every: timedelta
    offset: timedelta  # of the slots from midnight UTC
    target: str  # "module:function", imported when the job runs

    def slot(self, now: datetime) -> str:
        """Return the slot `now` falls in, as its start: 2026-12-01T06:15."""
        epoch = datetime(2000, 1, 1, tzinfo=UTC) + self.offset
        start = epoch + ((now.astimezone(UTC) - epoch) // self.every) * self.every
        return f"{start:%Y-%m-%dT%H:%M}"

    def function(self) -> Callable[[datetime], list]:
        """Return the function the job calls with `now`."""
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)


JOBS = {
    job.name: job
    for job in (
        Job("sweep", {}, timedelta(minutes=1), timedelta(0), "jobs.periodic:sweep"),
        Job(
            "alerts", {"minute": "*/15"}, timedelta(minutes=15), timedelta(0),
            "services.alerts:evaluate_all",
        ),
        Job(
            "reports", {"minute": "0", "hour": "6"}, timedelta(days=1), timedelta(hours=6),
            "services.reports:send_due",
        ),
        Job(
            "cache-warm", {"minute": "0", "hour": "2"}, timedelta(days=1), timedelta(hours=2),
            "services.cache_warm:warm_all",
        ),
    )
}  # fmt: skip


def claim_slot(job: str, slot: str) -> bool:
    """Insert the job's row for the slot; False when another consumer already has it."""
    db.session.add(JobSlot(job=job, slot=slot))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def run_job(name: str, now: datetime | None = None) -> list[str]:
    """Run a periodic job for the slot `now` is in, unless another consumer has that slot."""
    return run(JOBS[name], now or datetime.now(UTC))


def run(job: Job, now: datetime) -> list[str]:
    """Run `job` for the slot `now` is in, once; log and return one line per outcome."""
    name = job.name
    slot = job.slot(now)
    if not claim_slot(name, slot):
        log.info("job %s %s: skipped, another consumer has this slot", name, slot)
        return []
    try:
        lines = [str(outcome) for outcome in job.function()(now)]
    except Exception:
        # Give the slot back, so the retry (or another consumer) can run it.
        db.session.rollback()
        db.session.execute(delete(JobSlot).where(JobSlot.job == name, JobSlot.slot == slot))
        db.session.commit()
        log.exception("job %s %s: failed", name, slot)
        raise
    for line in lines:
        log.info("job %s %s: %s", name, slot, line)
    if not lines:
        log.info("job %s %s: ran, nothing to do", name, slot)
    return lines


def sweep(now: datetime) -> list[str]:
    """Queue every delivery that is due and held by nobody; forget slots older than a week."""
    db.session.execute(delete(JobSlot).where(JobSlot.started_at < now - SLOTS_KEPT))
    db.session.commit()
    ids = due_ids(now)
    queue = queue_for(current_app._get_current_object())  # type: ignore[attr-defined]
    for delivery_id in ids:
        queue.send(delivery_id)
    if not ids:
        return []
    return [f"queued {len(ids)} due deliver{'y' if len(ids) == 1 else 'ies'}: {_ids(ids)}"]


def _ids(ids: list[int]) -> str:
    shown = ", ".join(map(str, ids[:20]))
    return shown + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")
