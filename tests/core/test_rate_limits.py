"""Sign-in and refresh limits while Redis is down: counted in the process, never a 500."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from flask_migrate import upgrade
from limits import parse

from app import create_app
from core.rate_limits import SharedLimiter, storage_url_for
from devtools.servers import free_port

PASSWORD = "correct horse battery"


@pytest.fixture
def redis_down() -> str:
    """Return a Redis URL on a loopback port where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def down_app(app_config, redis_down):
    application = create_app({**app_config, "USAGE_CACHE_URL": redis_down})
    with application.app_context():
        upgrade()
    yield application
    application.extensions["upstreams"].http.close()


def add_people(app) -> None:
    from core.extensions import db
    from models import Tenant, User
    from simulators.data import EVOVOICE_ACCOUNTS, isnotai_integration

    with app.app_context():
        integration = isnotai_integration("acme")
        acme = Tenant(
            name="acme",
            isnotai_key_encrypted=app.extensions["secret_box"].encrypt(integration.key),
            isnotai_key_last4=integration.key[-4:],
            isnotai_region=integration.region,
            evovoice_account_id=next(iter(EVOVOICE_ACCOUNTS)),
        )
        for email, role, tenant in (("c@acme.test", "customer", acme), ("s@x.test", "staff", None)):
            user = User(email=email, role=role, tenant=tenant)
            user.set_password(PASSWORD)
            db.session.add(user)
        db.session.commit()


def past_query() -> str:
    end = datetime.now(UTC).date() - timedelta(days=1)
    return f"start={end - timedelta(days=6)}&end={end}"


def test_counters_use_redis_only_when_the_cache_does():
    assert storage_url_for("redis://cache:6379/2") == "redis://cache:6379/2"
    assert storage_url_for("rediss://cache:6380/0") == "rediss://cache:6380/0"
    assert storage_url_for("sqlite:///instance/http_cache.sqlite") == "memory://"
    assert storage_url_for("") == "memory://"


def test_a_limiter_counts_in_the_process_while_redis_is_down(redis_down, caplog):
    limiter = SharedLimiter(redis_down, "test")
    three = parse("3 per minute")
    with caplog.at_level(logging.WARNING, logger="core.rate_limits"):
        hits = [limiter.hit(three, "k") for _ in range(5)]
    assert hits == [True, True, True, False, False]
    assert 1 <= limiter.seconds_to_wait(three, "k") <= 60
    limiter.clear(three, "k")
    assert limiter.hit(three, "k")
    warnings = [r.getMessage() for r in caplog.records if "Redis did not answer" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once per outage, not once per call


def test_sign_in_works_and_is_limited_while_redis_is_down(down_app):
    add_people(down_app)
    client = down_app.test_client()
    signed_in = client.post("/login", data={"email": "c@acme.test", "password": PASSWORD})
    assert signed_in.status_code == 302

    other = down_app.test_client()
    statuses = [
        other.post("/login", data={"email": "s@x.test", "password": "wrong-pass"}).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]


@pytest.mark.parametrize(("email", "page"), [("c@acme.test", "/usage"), ("s@x.test", "/staff")])
def test_refresh_works_and_is_limited_while_redis_is_down(down_app, email, page):
    add_people(down_app)
    client = down_app.test_client()
    client.post("/login", data={"email": email, "password": PASSWORD})
    url = f"{page}/refresh?{past_query()}"
    answers = [client.post(url, headers={"HX-Request": "true"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4  # past the limit: the results stay
    assert [b"data-refresh-wait" in a.data for a in answers] == [False, False, True, True]
