"""A few alert rules and deliveries in the demo server's database, for screenshots of /alerts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from devtools.servers import Server
from tests.conftest import build_app

TENANT = "acme"
RULES = [
    # (source, window, condition, threshold, emails, webhook, last value, last error, enabled)
    ("ai-minutes", "month", "above", "10000", "ops@acme.example", None, 7_214.0, None, True),
    ("ApiCalls", "month", "projected-above", "2000000", "", "https://hooks.acme.example/usage",
     1_530_000.0, None, True),
    ("Events", "day", "spike", "200", "ops@acme.example", None, None,
     "isnotai answered 503 Service Unavailable; the next run tries again", True),
    ("StorageBytes", "7d", "above", "5000000000", "finance@acme.example", None, None, None, False),
]  # fmt: skip


@contextmanager
def alert_rows(server: Server) -> Iterator[None]:
    """Add acme's rules and a delivery log to the server's database; remove them afterwards."""
    from sqlalchemy import select

    from core.extensions import db
    from models import AlertRule, Delivery, DeliveryAttempt, Tenant
    from services.alert_rules import parse_rule, save_rule
    from services.deliveries import add_email, add_webhook

    app = build_app(
        {
            "USAGE_DEMO": "on",
            "USAGE_DATABASE_URL": server.env["USAGE_DATABASE_URL"],
            "USAGE_CACHE_URL": server.env["USAGE_CACHE_URL"],
        }
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rule_ids: list[int] = []
    delivery_ids: list[int] = []
    try:
        with app.app_context():
            tenant = db.session.scalar(select(Tenant).where(Tenant.name == TENANT))
            for source, window, condition, threshold, emails, hook, value, error, on in RULES:
                checked = parse_rule(
                    source=source, window=window, condition=condition, threshold=threshold,
                    emails=[emails], webhook_url=hook, demo=True,
                )  # fmt: skip
                rule = save_rule(tenant.id, checked)
                if value is not None or error is not None:
                    rule.evaluated_at = now - timedelta(minutes=4)
                rule.last_value, rule.last_error, rule.enabled = value, error, on
                db.session.flush()
                rule_ids.append(rule.id)

            subject = "acme: AI minutes above 10,000 this month"
            mail = add_email(tenant.id, "ops@acme.example", subject, "…", "…")
            mail.state, mail.attempts, mail.sent_at = "sent", 1, now - timedelta(minutes=3)
            mail.attempt_log.append(
                DeliveryAttempt(at=now - timedelta(minutes=3), status="sent", duration_ms=38)
            )
            hook = add_webhook(tenant.id, "https://hooks.acme.example/usage", {"rule": 2})
            hook.state, hook.attempts, hook.sent_at = "sent", 2, now - timedelta(minutes=1)
            hook.attempt_log.extend(
                [
                    DeliveryAttempt(
                        at=now - timedelta(minutes=2), status="HTTP 500",
                        error="the receiver answered 500", duration_ms=112,
                    ),
                    DeliveryAttempt(at=now - timedelta(minutes=1), status="HTTP 204"),
                ]
            )  # fmt: skip
            report = add_email(
                tenant.id, "finance@acme.example", "acme: weekly usage report", "…", ""
            )
            report.attempts, report.next_attempt_at = 1, now + timedelta(minutes=2)
            report.last_error = "SMTP 421: service not available"
            report.attempt_log.append(
                DeliveryAttempt(
                    at=now, status="SMTP 421", error="service not available", duration_ms=20
                )
            )
            db.session.flush()
            delivery_ids = [mail.id, hook.id, report.id]
            db.session.commit()
        yield
    finally:
        with app.app_context():
            for model, ids in ((Delivery, delivery_ids), (AlertRule, rule_ids)):
                for row_id in ids:
                    row = db.session.get(model, row_id)
                    if row is not None:
                        db.session.delete(row)
            db.session.commit()
        app.extensions["upstreams"].http.close()
