"""`flask tenants webhook-secret` and `flask worker`'s refusals."""

from __future__ import annotations

import json

from sqlalchemy import select

from core.extensions import db
from models import Tenant
from services.webhook_secrets import current_secret

from .test_admin import assert_ok, assert_refused, run


def stored(app, name: str) -> str | None:
    with app.app_context():
        return db.session.scalar(select(Tenant.webhook_secret_encrypted).where(Tenant.name == name))


def signing_secret(app, name: str) -> str:
    """Return the secret the sender would sign NAME's webhooks with."""
    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.name == name))
        return current_secret(tenant, app.extensions["secret_box"])


def test_the_secret_is_made_once_printed_and_the_one_webhooks_are_signed_with(app, make_tenant):
    make_tenant("acme")
    assert stored(app, "acme") is None

    first = run(app, "tenants", "webhook-secret", "acme")
    again = run(app, "tenants", "webhook-secret", "acme", "--json")

    assert_ok(first)
    assert_ok(again)
    secret = first.output.split()[-1]
    assert first.output == f"secret  {secret}\n"
    assert secret.startswith("whsec_") and len(secret) > 40
    assert json.loads(again.output) == {"tenant": "acme", "secret": secret}
    assert signing_secret(app, "acme") == secret
    assert secret not in (stored(app, "acme") or "")  # stored encrypted


def test_rotate_replaces_the_secret_at_once(app, make_tenant):
    make_tenant("acme")
    make_tenant("globex")
    old = json.loads(run(app, "tenants", "webhook-secret", "acme", "--json").output)["secret"]
    other = signing_secret(app, "globex")

    rotated = run(app, "tenants", "webhook-secret", "acme", "--rotate")

    assert_ok(rotated)
    new = rotated.output.splitlines()[0].split()[-1]
    assert new != old
    assert "update the receivers" in rotated.output
    assert signing_secret(app, "acme") == new
    assert signing_secret(app, "globex") == other


def test_an_unknown_tenant_is_one_line(app):
    assert_refused(run(app, "tenants", "webhook-secret", "nobody"), "no tenant named 'nobody'")


def test_the_worker_refuses_bad_settings_in_one_line(app_config):
    from tests.conftest import build_app

    bad_backoff = build_app({**app_config, "USAGE_DELIVERY_BACKOFF": "soon"})
    assert_refused(run(bad_backoff, "worker"), "USAGE_DELIVERY_BACKOFF")
    bad_queue = build_app({**app_config, "USAGE_QUEUE_URL": "amqp://broker/"})
    assert_refused(run(bad_queue, "worker"), "USAGE_QUEUE_URL")
    bad_mail = build_app({**app_config, "USAGE_SMTP_URL": "mail.example:25"})
    assert_refused(run(bad_mail, "worker"), "USAGE_SMTP_URL")
    assert_refused(run(bad_mail, "worker", "--workers", "0"), "--workers")


def test_rotate_keys_reencrypts_webhook_secrets(app_config):
    from flask_migrate import upgrade

    from tests.conftest import build_app

    def make(keys: str):
        return build_app({**app_config, "USAGE_ENCRYPTION_KEYS": keys})

    old = make("old")
    with old.app_context():
        upgrade()
    assert_ok(run(old, "tenants", "add", "acme"))
    secret = json.loads(run(old, "tenants", "webhook-secret", "acme", "--json").output)["secret"]
    before = stored(old, "acme")

    result = run(make("new,old"), "tenants", "rotate-keys")

    assert_ok(result)
    assert "Rotated 1 webhook secret." in result.output and secret not in result.output
    assert stored(old, "acme") != before
    after = run(make("new"), "tenants", "webhook-secret", "acme", "--json")
    assert json.loads(after.output)["secret"] == secret
    line = assert_refused(run(make("other"), "tenants", "webhook-secret", "acme"), "'acme'")
    assert "USAGE_ENCRYPTION_KEYS" in line
