"""The tasks on the queue: send one delivery, and the periodic jobs; each in an app context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from huey import Huey, crontab

from .delivery import deliver
from .periodic import JOBS, run_job

# A periodic run that raised gave its slot back; it is tried again this often.
JOB_RETRIES = 2
JOB_RETRY_DELAY = 60


def register_tasks(huey: Huey, app: Flask) -> dict[str, Any]:
    """Register the tasks on `huey`, to run in `app`; return them by name."""
    tasks: dict[str, Any] = {"deliver": huey.task(name="deliver")(_delivering(app))}
    for job in JOBS.values():
        tasks[job.name] = huey.periodic_task(
            crontab(**job.cron), retries=JOB_RETRIES, retry_delay=JOB_RETRY_DELAY,
            name=f"job-{job.name}",
        )(_running(app, job.name))  # fmt: skip
    return tasks


def _delivering(app: Flask) -> Callable[[int], None]:
    def deliver_one(delivery_id: int) -> None:
        with app.app_context():
            deliver(delivery_id)

    return deliver_one


def _running(app: Flask, name: str) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            run_job(name)

    return run
