"""The queue the settings describe: SQLite in instance/ by default, Redis when named."""

from __future__ import annotations

import pytest
from huey import RedisHuey, SqliteHuey

from core.config import Settings
from jobs.delivery import parse_backoff
from jobs.mail import MailConfigError, smtp_server
from jobs.queue import QueueConfigError, make_huey


@pytest.mark.parametrize(("demo", "name"), [("off", "queue.sqlite"), ("on", "demo-queue.sqlite")])
def test_by_default_the_queue_is_a_sqlite_file_in_the_instance_folder(tmp_path, demo, name):
    huey, where = make_huey(Settings(queue_url="", demo=demo), tmp_path)
    assert isinstance(huey, SqliteHuey)
    assert huey.storage.filename == str(tmp_path / name)
    assert where == f"SQLite {tmp_path / name}"


def test_a_redis_url_makes_a_redis_queue_and_its_password_is_never_shown(tmp_path):
    huey, where = make_huey(
        Settings(queue_url="redis://:hunter2-pass@redis.internal:6380/3?queue=staging"), tmp_path
    )
    assert isinstance(huey, RedisHuey)
    assert huey.storage.queue_key == "huey.redis.staging"
    kwargs = huey.storage.pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("redis.internal", 6380, 3)
    assert kwargs["password"] == "hunter2-pass"
    assert where == "Redis redis.internal:6380/3 queue staging"
    assert "hunter2" not in where


@pytest.mark.parametrize(
    "url", ["postgresql://db/queue", "redis://host:6379/0?queue=no-dashes", "sqlite:///"]
)
def test_a_queue_url_it_cannot_use_is_refused_with_what_it_takes(tmp_path, url):
    with pytest.raises(QueueConfigError, match="USAGE_QUEUE_URL"):
        make_huey(Settings(queue_url=url), tmp_path)


def test_the_smtp_url_is_read_with_its_login_url_decoded():
    server = smtp_server(Settings(smtp_url="smtps://me%40corp.example:p%3Ass%2Fw@mail.corp:2465"))
    assert server is not None
    assert (server.host, server.port, server.implicit_tls) == ("mail.corp", 2465, True)
    assert (server.username, server.password) == ("me@corp.example", "p:ss/w")
    assert "p:ss" not in repr(server) and "p:ss" not in str(server)
    plain = smtp_server(Settings(smtp_url="smtp://mail.corp"))
    assert plain is not None and (plain.port, plain.implicit_tls) == (587, False)


def test_without_an_smtp_url_demo_mode_mails_its_sink_and_production_nobody():
    demo = smtp_server(Settings(smtp_url="", demo="on", demo_smtp_port=8025))
    assert demo is not None and (demo.host, demo.port, demo.username) == ("127.0.0.1", 8025, None)
    assert smtp_server(Settings(smtp_url="", demo="off")) is None
    with pytest.raises(MailConfigError):
        smtp_server(Settings(smtp_url="http://mail.corp"))


def test_the_backoff_is_read_and_a_bad_one_refused():
    assert parse_backoff("30, 120,600") == [30.0, 120.0, 600.0]
    for bad in ("", "soon", "30,-1", "0"):
        with pytest.raises(ValueError, match="USAGE_DELIVERY_BACKOFF"):
            parse_backoff(bad)
