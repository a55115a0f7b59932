"""Fixtures for the queue: an app and its environment, receivers, SMTP servers, consumers."""

from __future__ import annotations

import json
import logging
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from core.extensions import db
from devtools import IN_CI
from devtools.servers import clean_environment, free_port
from models import Delivery, DeliveryAttempt, Tenant
from services.deliveries import add_email, add_webhook
from tests.conftest import REDIS_URL, TEST_SECRET, build_app

from .servers import Receiver, SmtpServer, Worker


class QueueEnv:
    """One app database and queue, used in this process and by consumer processes alike."""

    def __init__(self, tmp_path, queue_url: str, **settings: str) -> None:
        self.tmp_path = tmp_path
        self.settings = {
            "USAGE_SECRET_KEY": TEST_SECRET,
            "USAGE_DEMO": "on",
            "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite'}",
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
            "USAGE_QUEUE_URL": queue_url,
            "USAGE_DELIVERY_BACKOFF": "1",
            "USAGE_WEBHOOK_TIMEOUT": "2",
            "USAGE_DEMO_SMTP_PORT": str(free_port()),
            "USAGE_MAIL_FROM": "Usage alerts <alerts@usage.example>",
        } | settings
        self.app = build_app({"TESTING": True, **self.settings})
        with self.app.app_context():
            upgrade()
        self.env = clean_environment(**self.settings, PYTHONUNBUFFERED="1")
        self.workers: list[Worker] = []

    def worker(self, workers: int = 2, name: str | None = None) -> Worker:
        """Start a consumer process on this database and queue."""
        log = self.tmp_path / f"{name or f'worker-{len(self.workers) + 1}'}.log"
        started = Worker(self.env, log, workers)
        self.workers.append(started)
        return started

    def logs(self) -> str:
        return "\n".join(w.log() for w in self.workers)

    def tenant(self, name: str) -> int:
        with self.app.app_context():
            tenant = Tenant(name=name)
            db.session.add(tenant)
            db.session.commit()
            return tenant.id

    def webhook(self, tenant_id: int, url: str, payload: dict | None = None) -> Delivery:
        """Commit a webhook delivery (the commit queues it); return it, detached."""
        with self.app.app_context():
            row = add_webhook(tenant_id, url, payload or {"event": "test", "value": 1})
            db.session.commit()
            db.session.refresh(row)
            db.session.expunge(row)
            return row

    def email(self, tenant_id: int, to: str, **parts: str) -> Delivery:
        """Commit an email delivery (the commit queues it); return it, detached."""
        with self.app.app_context():
            row = add_email(
                tenant_id,
                to,
                parts.get("subject", "AI minutes above 10,000 this month"),
                parts.get("text", "AI minutes: 12,345 (threshold 10,000)."),
                parts.get("html", "<p>AI minutes: <b>12,345</b> (threshold 10,000).</p>"),
            )
            db.session.commit()
            db.session.refresh(row)
            db.session.expunge(row)
            return row

    def row(self, delivery_id: int) -> Delivery:
        with self.app.app_context():
            row = db.session.get(Delivery, delivery_id)
            assert row is not None
            db.session.expunge(row)
            return row

    def attempts(self, delivery_id: int) -> list[DeliveryAttempt]:
        with self.app.app_context():
            rows = db.session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            ).all()
            for row in rows:
                db.session.expunge(row)
            return list(rows)

    def states(self) -> dict[str, int]:
        with self.app.app_context():
            found: dict[str, int] = {}
            for state in db.session.scalars(select(Delivery.state)):
                found[state] = found.get(state, 0) + 1
            return found

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.app.extensions["upstreams"].http.close()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def queue_url(request, tmp_path):
    """A queue of the test's own: a SQLite file, or a Redis queue under a name of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'queue.sqlite'}"
        return
    import redis

    # The `redis_url` fixture's server, but database 12 (that fixture flushes its own, which
    # tests running beside these use) and a queue name per test; skipped the same way.
    server = urlunsplit(urlsplit(REDIS_URL)._replace(path="/12"))
    try:
        redis.Redis.from_url(server, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"CI must test Redis, but {server} did not answer: {exc}")
        pytest.skip(f"no Redis server at {server} ({type(exc).__name__})")
    name = "t" + uuid.uuid4().hex[:16]
    yield f"{server}?queue={name}"
    client = redis.Redis.from_url(server)
    for key in client.scan_iter(f"huey.*.{name}*"):
        client.delete(key)


@pytest.fixture
def sqlite_queue(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'queue.sqlite'}"


@pytest.fixture
def make_env(tmp_path):
    """Return a function making a QueueEnv (each its own folder); all are closed afterwards."""
    made: list[QueueEnv] = []

    def make(queue_url: str | None = None, **settings: str) -> QueueEnv:
        folder = tmp_path / f"env{len(made) + 1}"
        folder.mkdir()
        env = QueueEnv(folder, queue_url or f"sqlite:///{folder / 'queue.sqlite'}", **settings)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


@pytest.fixture
def receiver():
    found = Receiver()
    server = found.start()
    yield found
    found.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp():
    server = SmtpServer(login=("alerts@usage.example", "p@ss:w/rd %20+"))
    server.controller.start()
    yield server
    server.controller.stop()


class LogLines(logging.Handler):
    """Every log record while in use, as text (root handlers set by Alembic do not reach it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def __enter__(self) -> LogLines:
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._level)


def payload_of(received) -> dict:
    return json.loads(received.body)
