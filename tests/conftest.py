"""Shared fixtures: the simulators on loopback, cached clients, the app, and Redis."""

from __future__ import annotations

import contextlib
import logging
import logging.config
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clients.cached_http import CachedUpstream, HttpPolicy
from clients.evovoice import EvovoiceClient
from clients.isnotai import IsnotaiClient
from devtools import IN_CI
from simulators import SimulatorState, start_simulators
from simulators.data import EVOVOICE_SERVICE_USER

REDIS_URL = os.environ.get("USAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
# Scans what every other test sent and logged, so it must run after them.
SCAN_LAST = Path(__file__).with_name("test_secrets.py")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the secrets scan to the end, whatever the selection or any reordering plugin did."""
    # trylast: runs after plugins that shuffle or sort, so their order cannot undo this.
    items[:] = [i for i in items if i.path != SCAN_LAST] + [i for i in items if i.path == SCAN_LAST]


def _is_app_setting(name: str) -> bool:
    # USAGE_TEST_* say where the test servers are (Redis, PostgreSQL); the app never reads them.
    return name.startswith("USAGE_") and not name.startswith("USAGE_TEST_")


@contextlib.contextmanager
def _without_app_settings() -> Iterator[None]:
    """Hide every USAGE_* variable but USAGE_TEST_*, putting them back afterwards."""
    hidden = {name: os.environ.pop(name) for name in list(os.environ) if _is_app_setting(name)}
    try:
        yield
    finally:
        os.environ.update(hidden)


@pytest.fixture(scope="session", autouse=True)
def _no_developer_settings():
    """Keep a developer's USAGE_* variables away from every app and Settings the suite makes."""
    with _without_app_settings():
        yield


def build_app(config: Mapping):
    """Create an app from `config` alone: no USAGE_* variable and no .env file reach it.

    pydantic-settings reads `.env` from the working directory, so the app is created from an
    empty one (settings are read only then); the variables are hidden for the same moment,
    which also covers any a test set after the session began.
    """
    from app import create_app

    with (
        tempfile.TemporaryDirectory() as empty,
        contextlib.chdir(empty),
        _without_app_settings(),
    ):
        return create_app(config)


@pytest.fixture
def test_secret() -> str:
    return TEST_SECRET


@pytest.fixture(scope="session")
def sims():
    """Run both simulators for the whole session on an ephemeral loopback port."""
    running = start_simulators(host="127.0.0.1", port=0, state=SimulatorState(rate_limits=False))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _fresh_simulators(request):
    """Give each test simulators without faults, calls, sessions or changed settings."""
    if "sims" not in request.fixturenames:
        yield
        return
    sims = request.getfixturevalue("sims")
    sims.state.reset()
    sims.state.update(rate_limits=False)
    yield
    sims.state.reset()


class Clock:
    """A UTC clock the tests can move forward instead of sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def policy() -> HttpPolicy:
    """Short limits so failure paths finish quickly."""
    return HttpPolicy(
        connect_timeout=1.0,
        read_timeout=1.0,
        deadline=3.0,
        retry_after_max=1.5,
        backoff_base=0.02,
        ttl_past=6 * 3600,
        ttl_today=60,
        stale_max=24 * 3600,
    )


@pytest.fixture
def cache_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'http_cache.sqlite'}"


@pytest.fixture
def upstream(cache_url, policy, clock):
    http = CachedUpstream(cache_url, TEST_SECRET, policy, clock=clock)
    yield http
    http.close()


@pytest.fixture
def isnotai(upstream, sims) -> IsnotaiClient:
    return IsnotaiClient(
        upstream, lambda: {"us": sims.isnotai_us_url, "eu": sims.isnotai_eu_url}, "test:isnotai"
    )


@pytest.fixture
def evovoice(upstream, sims) -> EvovoiceClient:
    username, password = EVOVOICE_SERVICE_USER
    return EvovoiceClient(
        upstream, lambda: sims.evovoice_url, username, password, namespace="test:evovoice"
    )


@pytest.fixture
def redis_url() -> str:
    """Return a Redis URL to test against; skip locally (never in CI) when none answers."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"CI must test Redis, but {REDIS_URL} did not answer: {exc}")
        pytest.skip(f"no Redis server at {REDIS_URL} ({type(exc).__name__})")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def app_config(tmp_path, sims) -> dict:
    """Configuration of an app wired to the test simulators as if they were production."""
    username, password = EVOVOICE_SERVICE_USER
    return {
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "USAGE_SECRET_KEY": TEST_SECRET,
        "USAGE_DEMO": "off",
        "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite'}",
        "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
        "USAGE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite'}",
        "USAGE_ISNOTAI_US_URL": sims.isnotai_us_url,
        "USAGE_ISNOTAI_EU_URL": sims.isnotai_eu_url,
        "USAGE_EVOVOICE_URL": sims.evovoice_url,
        "USAGE_EVOVOICE_USERNAME": username,
        "USAGE_EVOVOICE_PASSWORD": password,
        # Not `auto`: its endDate probe would add calls to every count of EvoVoice calls
        # here. tests/test_evovoice_variants.py runs the default against every variant.
        "USAGE_EVOVOICE_END_DATE": "inclusive",
        "USAGE_UPSTREAM_DEADLINE": 3.0,
        "USAGE_READ_TIMEOUT": 1.0,
    }


@pytest.fixture
def app(app_config):
    from flask_migrate import upgrade

    application = build_app(app_config)
    with application.app_context():
        upgrade()
    yield application
    application.extensions["upstreams"].http.close()


@pytest.fixture
def client(app):
    return app.test_client()


# -- factories ------------------------------------------------------------------------------


@pytest.fixture
def make_tenant(app):
    """Create a tenant from demo data: an isnotai integration name and an EvoVoice scope."""
    from core.extensions import db
    from models import Tenant
    from services.embed_keys import add_key
    from simulators.data import isnotai_integration

    def make(name, integration=None, account=None, customer=None):
        with app.app_context():
            tenant = Tenant(name=name, evovoice_account_id=account, evovoice_customer_id=customer)
            if integration:
                demo = isnotai_integration(integration)
                tenant.isnotai_key_encrypted = app.extensions["secret_box"].encrypt(demo.key)
                tenant.isnotai_key_last4 = demo.key[-4:]
                tenant.isnotai_region = demo.region
            db.session.add(tenant)
            add_key(tenant, app.extensions["secret_box"])
            db.session.commit()
            return tenant.id

    return make


def signing_key(app, name):
    """Return the current widget signing key of the tenant called `name`."""
    from sqlalchemy import select

    from core.extensions import db
    from models import Tenant
    from services.embed_keys import current_key

    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.name == name))
        return current_key(tenant, app.extensions["secret_box"])


@pytest.fixture
def embed_key(app):
    """Return a function giving a tenant's current widget signing key."""
    return lambda name: signing_key(app, name)


@pytest.fixture
def make_user(app):
    """Create a user; customers name their tenant."""
    from sqlalchemy import select

    from core.extensions import db
    from models import Tenant, User

    def make(email, role="customer", tenant=None, password="correct horse battery"):
        with app.app_context():
            owner = (
                db.session.scalar(select(Tenant).where(Tenant.name == tenant)) if tenant else None
            )
            user = User(email=email, role=role, tenant=owner)
            user.set_password(password)
            db.session.add(user)
            db.session.commit()
            return user.id

    return make


@pytest.fixture
def login():
    """Sign a test client in through the real form."""

    def sign_in(client, email, password="correct horse battery"):
        response = client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return sign_in


@pytest.fixture
def signed_in(app, make_tenant, make_user, login):
    """Return test clients signed in as acme's customer and as staff."""
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_user("acme@example.com", tenant="acme")
    make_user("staff@example.com", role="staff")
    return {
        "customer": login(app.test_client(), "acme@example.com"),
        "staff": login(app.test_client(), "staff@example.com"),
    }


@pytest.fixture
def postgres_url():
    """Return a new, empty PostgreSQL database; skip locally (never in CI) without a server."""
    import uuid

    import sqlalchemy as sa

    admin_url = os.environ.get(
        "USAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"CI must test PostgreSQL, but {admin_url} did not answer: {exc}")
        pytest.skip(f"no PostgreSQL server at {admin_url}")
    name = f"usage_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    yield sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


# -- what the suite sent and logged, scanned for secrets by test_secrets.py ---------------

SEEN: dict[str, list[str]] = {
    "responses": [],
    "logs": [],
    "embed secrets": [],
    "webhook secrets": [],
}


class _Recorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            SEEN["logs"].append(self.format(record))
        except Exception:  # noqa: BLE001 - a record that cannot format carries no text
            SEEN["logs"].append(str(record.msg))


@pytest.fixture(scope="session", autouse=True)
def _record_everything():
    """Keep every app response (headers and body), log line and signing secret of the session."""
    from flask.testing import FlaskClient

    from services import embed_keys, webhook_secrets

    handler = _Recorder(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    original_open = FlaskClient.open

    def recording_open(self, *args, **kwargs):
        response = original_open(self, *args, **kwargs)
        SEEN["responses"].append(
            str(response.headers) + "\n" + response.get_data().decode("utf-8", "replace")
        )
        return response

    original_secret = embed_keys.new_secret

    def recording_secret():
        secret = original_secret()
        SEEN["embed secrets"].append(secret)
        return secret

    original_webhook_secret = webhook_secrets.new_secret

    def recording_webhook_secret():
        secret = original_webhook_secret()
        SEEN["webhook secrets"].append(secret)
        return secret

    # Alembic's env.py runs logging.config.fileConfig, which drops every root handler.
    original_file_config = logging.config.fileConfig

    def file_config_keeping_the_recorder(*args, **kwargs):
        original_file_config(*args, **kwargs)
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)

    FlaskClient.open = recording_open
    embed_keys.new_secret = recording_secret
    webhook_secrets.new_secret = recording_webhook_secret
    logging.config.fileConfig = file_config_keeping_the_recorder
    yield SEEN
    FlaskClient.open = original_open
    embed_keys.new_secret = original_secret
    webhook_secrets.new_secret = original_webhook_secret
    logging.config.fileConfig = original_file_config
    root.removeHandler(handler)
    root.setLevel(previous_level)
