"""The Huey queue the settings describe, and queuing deliveries once their rows are committed.

Empty USAGE_QUEUE_URL: SQLite storage in instance/queue.sqlite (demo mode: demo-queue.sqlite;
consumers on this machine);
redis://host:port/db: Redis storage, for any number of consumers on any number of machines.
Messages carry delivery ids only; a lost message is found again by the minute's sweep.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, current_app, has_app_context
from huey import Huey, RedisHuey, SqliteHuey
from redis import ConnectionPool
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.config import Settings
from core.extensions import db
from models import Delivery

log = logging.getLogger(__name__)

QUEUE_NAME = "usage"
_NEW_DELIVERIES = "usage_new_deliveries"  # Session.info key: ids flushed, not yet committed
_lock = threading.Lock()


class QueueConfigError(ValueError):
    """USAGE_QUEUE_URL names no queue this app can use; the message says what it accepts."""


@dataclass
class Queue:
    """A Huey instance with this app's tasks registered on it."""

    huey: Huey
    where: str  # for messages: the storage, never a password
    tasks: dict[str, Any] = field(default_factory=dict)

    def send(self, delivery_id: int, at: datetime | None = None) -> None:
        """Queue one delivery now, or for `at` (an aware datetime)."""
        task = self.tasks["deliver"]
        if at is None:
            task(delivery_id)
        else:
            task.schedule(args=(delivery_id,), eta=at)


def make_huey(settings: Settings, instance_path: str | Path) -> tuple[Huey, str]:
    """Return the Huey instance USAGE_QUEUE_URL names, and where it keeps the queue."""
    url = settings.queue_url.strip()
    # Results are never read: the database says how every delivery went.
    if not url:
        # Demo mode queues in a file of its own, as it keeps its own database: a consumer
        # never takes delivery ids that belong to the other database.
        name = "demo-queue.sqlite" if settings.demo_enabled else "queue.sqlite"
        path = Path(instance_path) / name
        return SqliteHuey(QUEUE_NAME, filename=str(path), results=False), f"SQLite {path}"
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss"):
        query = dict(parse_qsl(parts.query))
        # ?queue=NAME keeps deployments that share one Redis database apart.
        name = query.pop("queue", QUEUE_NAME)
        if not name.isalnum():
            raise QueueConfigError("USAGE_QUEUE_URL: ?queue= takes letters and digits only")
        plain = urlunsplit(parts._replace(query=urlencode(query)))
        host = f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"
        # A Redis that cannot be reached fails a commit's queuing in seconds, not minutes.
        pool = ConnectionPool.from_url(plain, socket_connect_timeout=5)
        return RedisHuey(name, connection_pool=pool, results=False), f"Redis {host} queue {name}"
    if parts.scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return SqliteHuey(QUEUE_NAME, filename=str(path), results=False), f"SQLite {path}"
    raise QueueConfigError(
        "USAGE_QUEUE_URL must be empty (SQLite in instance/), sqlite:///PATH or "
        f"redis://HOST:PORT/DB; its scheme is {parts.scheme or 'missing'!r}"
    )


def queue_for(app: Flask) -> Queue:
    """Return the app's queue, making it (and registering the tasks) on first use."""
    queue = app.extensions.get("queue")
    if queue is not None:
        return queue
    with _lock:
        queue = app.extensions.get("queue")
        if queue is None:
            huey, where = make_huey(app.config["USAGE"], app.instance_path)
            queue = Queue(huey, where)
            # Here, not at the top: the tasks run deliveries, which queue retries through
            # this module.
            from jobs.tasks import register_tasks

            queue.tasks = register_tasks(huey, app)
            app.extensions["queue"] = queue
    return queue


def init_queue(app: Flask) -> None:
    """Queue every Delivery row right after the transaction that wrote it commits."""
    del app  # the hooks read the app of the committing session's context
    session_class = db.session
    if not event.contains(session_class, "after_flush", _note_new_deliveries):
        event.listen(session_class, "after_flush", _note_new_deliveries)
        event.listen(session_class, "after_commit", _queue_new_deliveries)
        event.listen(session_class, "after_rollback", _forget_new_deliveries)


def _note_new_deliveries(session: Session, _context: object) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, Delivery)]
    if ids:
        session.info.setdefault(_NEW_DELIVERIES, []).extend(ids)


def _forget_new_deliveries(session: Session) -> None:
    session.info.pop(_NEW_DELIVERIES, None)


def _queue_new_deliveries(session: Session) -> None:
    ids = session.info.pop(_NEW_DELIVERIES, None)
    if not ids or not has_app_context():
        return
    try:
        queue = queue_for(current_app._get_current_object())  # type: ignore[attr-defined]
        for delivery_id in ids:
            queue.send(delivery_id)
    except Exception as exc:  # noqa: BLE001 - the rows are committed; the sweep queues them
        log.warning(
            "could not queue deliveries %s (%s); the minute's sweep queues them",
            ", ".join(map(str, ids)),
            type(exc).__name__,
        )
