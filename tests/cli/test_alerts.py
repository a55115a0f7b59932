"""`flask alerts add|list|remove|run`: the rules stored, what is printed, one-line refusals,
and a run that evaluates, fires and mails through a real SMTP server on loopback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from core.extensions import db
from models import AlertFiring, AlertRule, Delivery
from simulators.data import evovoice_minutes

from ..conftest import build_app
from .test_admin import assert_ok, assert_refused, run

ACCOUNT = "acct-northwind"
BASE = ("alerts", "add", "acme", "--source", "ai-minutes", "--window", "month")


@pytest.fixture
def acme(make_tenant):
    make_tenant("acme", integration="acme", account=ACCOUNT)
    make_tenant("globex", integration="globex")


def rules(app) -> list[AlertRule]:
    with app.app_context():
        found = db.session.scalars(select(AlertRule).order_by(AlertRule.id)).all()
        db.session.expunge_all()
        return list(found)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def add(app, *options: str):
    return run(app, *BASE, *options)


# -- add ------------------------------------------------------------------------------------


def test_add_prints_the_new_rules_id_only_and_stores_it(app, acme):
    result = add(
        app,
        "--above",
        "10,000",
        "--email",
        "ops@example.com",
        "--email",
        "cfo@example.com",
        "--webhook",
        "https://hooks.example.com/usage?token=abc",
    )
    assert_ok(result)
    [rule] = rules(app)
    assert result.stdout == f"{rule.id}\n"
    assert (rule.source, rule.window, rule.condition, rule.threshold) == (
        "ai-minutes",
        "month",
        "above",
        10_000,
    )
    assert rule.email_list == ["ops@example.com", "cfo@example.com"]
    assert rule.webhook_url == "https://hooks.example.com/usage?token=abc"
    assert rule.enabled


@pytest.mark.parametrize(
    ("options", "stored"),
    [
        (("--projected-above", "5000"), ("ai-minutes", "month", "projected-above", 5000)),
        (
            ("--spike", "50", "--source", "api_calls", "--window", "day"),
            ("ApiCalls", "day", "spike", 50),
        ),
        (("--above", "7", "--window", "7d", "--source", "Events"), ("Events", "7d", "above", 7)),
    ],
)
def test_each_condition_and_window_is_added(app, acme, options, stored):
    assert_ok(add(app, *options, "--email", "ops@example.com"))
    [rule] = rules(app)
    assert (rule.source, rule.window, rule.condition, rule.threshold) == stored


REFUSALS = [
    ((), "exactly one condition"),
    (("--above", "5", "--spike", "10"), "exactly one condition"),
    (("--above", "abc"), "whole number above 0"),
    (("--above", "0"), "whole number above 0; got 0"),
    (("--above", "-5"), "whole number above 0"),
    (("--spike", "2000", "--window", "day"), "from 1 to 1000"),
    (("--above", "5", "--email", "not-an-address"), "is not an email address"),
    (("--above", "5", "--webhook", "http://hooks.example.com/x"), "must start with https://"),
    (("--above", "5", "--webhook", "https://127.0.0.1/x"), "never sent to loopback"),
    (("--above", "5", "--webhook", "https://10.1.2.3/x"), "private addresses"),
    (("--above", "5", "--source", "cpu"), "Unknown source"),
    (("--above", "5", "--window", "year"), "Unknown window"),
    (("--above", "5", "--source", ""), "give --source"),
    (("--projected-above", "5", "--window", "day"), "choose the window month"),
    (("--spike", "50"), "choose the window day"),
    (("--projected-above", "5", "--source", "StorageBytes"), "no month projection"),
]


@pytest.mark.parametrize(("options", "words"), REFUSALS)
def test_bad_values_are_refused_on_one_line(app, acme, options, words):
    targets = () if "--email" in options else ("--email", "ops@example.com")
    assert_refused(add(app, *options, *targets), words)
    assert rules(app) == []


def test_a_rule_must_tell_someone(app, acme):
    assert_refused(add(app, "--above", "5"), "Give an email address or a webhook URL")
    assert rules(app) == []


def test_an_unknown_tenant_is_refused(app, acme):
    result = run(
        app, "alerts", "add", "initech", "--source", "ai-minutes", "--window", "day",
        "--above", "5", "--email", "ops@example.com",
    )  # fmt: skip
    assert_refused(result, "no tenant named 'initech'")
    assert rules(app) == []


def test_demo_mode_accepts_a_loopback_http_webhook(app, app_config, acme):
    demo = build_app({**app_config, "USAGE_DEMO": "on"})
    with demo.app_context():
        upgrade()
    make = demo.test_cli_runner().invoke  # the same database: acme is there
    result = make(
        args=[*BASE, "--above", "5", "--webhook", "http://127.0.0.1:8080/hook"],
    )
    assert_ok(result)
    assert rules(demo)[0].webhook_url == "http://127.0.0.1:8080/hook"
    demo.extensions["upstreams"].http.close()


# -- list and remove ------------------------------------------------------------------------


def test_list_shows_each_rule_on_one_line_with_how_far_it_is(app, acme):
    assert run(app, "alerts", "list").stdout == "No alert rules.\n"
    assert_ok(add(app, "--above", "10000", "--webhook", "https://hooks.example.com/a?token=s3"))
    assert_ok(
        run(app, "alerts", "add", "globex", "--source", "Sessions", "--window", "day",
            "--above", "50", "--email", "ops@globex.example")
    )  # fmt: skip
    with app.app_context():
        rule = db.session.scalars(select(AlertRule).order_by(AlertRule.id)).first()
        rule.last_value, rule.enabled = 7200, False
        db.session.commit()

    listed = run(app, "alerts", "list")
    assert_ok(listed)
    header, first, second = listed.stdout.splitlines()
    assert header.split() == ["ID", "TENANT", "RULE", "PROGRESS", "ENABLED", "TARGETS"]
    assert first.split("  ")[0] == "1"
    for words in ("acme", "AI minutes above 10,000 this month", "72 % reached", "disabled"):
        assert words in first
    assert "https://hooks.example.com/a?…" in first
    assert "s3" not in listed.stdout  # a receiver's token stays out of the terminal
    for words in ("globex", "Sessions above 50 in the last full day", "not evaluated yet"):
        assert words in second
    assert "enabled" in second and "ops@globex.example" in second

    only = run(app, "alerts", "list", "--tenant", "globex")
    assert_ok(only)
    assert len(only.stdout.splitlines()) == 2 and "globex" in only.stdout.splitlines()[1]
    assert_refused(run(app, "alerts", "list", "--tenant", "nobody"), "no tenant named")


def test_remove_takes_the_rule_and_its_firings_and_keeps_the_delivery_log(app, acme):
    assert_ok(add(app, "--above", "1", "--email", "ops@example.com"))
    [rule] = rules(app)
    with app.app_context():
        firing = AlertFiring(rule_id=rule.id, window_key="2026-12", condition="above", value=2)
        db.session.add(firing)
        db.session.flush()
        db.session.add(
            Delivery(uid="u" * 32, tenant_id=rule.tenant_id, firing_id=firing.id,
                     channel="email", target="ops@example.com")
        )  # fmt: skip
        db.session.commit()

    removed = run(app, "alerts", "remove", str(rule.id))
    assert_ok(removed)
    assert removed.stdout == (
        f"Removed alert rule {rule.id} (acme: AI minutes above 1 this month).\n"
    )
    assert (count(app, AlertRule), count(app, AlertFiring), count(app, Delivery)) == (0, 0, 1)
    with app.app_context():
        assert db.session.scalars(select(Delivery.firing_id)).one() is None
    assert_refused(run(app, "alerts", "remove", str(rule.id)), f"no alert rule {rule.id}")
    assert_refused(run(app, "alerts", "remove", "one"), "a rule id is a whole number")


# -- run ------------------------------------------------------------------------------------


@pytest.fixture
def smtp_server():
    """Run a real SMTP server on loopback and return (port, the messages it received)."""
    from aiosmtpd.controller import Controller

    from devtools.servers import free_port

    class Keep:
        def __init__(self) -> None:
            self.received: list = []

        async def handle_DATA(self, server, session, envelope):
            self.received.append(envelope)
            return "250 OK"

    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, handler.received
    controller.stop()


def test_run_evaluates_every_rule_then_mails_what_fired(app_config, sims, smtp_server):
    port, received = smtp_server
    mailing = build_app({**app_config, "USAGE_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    with mailing.app_context():
        upgrade()
    invoke = mailing.test_cli_runner().invoke
    assert_ok(invoke(args=["tenants", "add", "acme", "--evovoice-account", ACCOUNT]))
    today = datetime.now(UTC).date()
    total = evovoice_minutes(today.replace(day=1), today, ACCOUNT, today=today) or 0
    assert total > 1
    fires = invoke(args=[*BASE, "--above", str(total - 1), "--email", "ops@example.com"])
    holds = invoke(args=[*BASE, "--above", str(total), "--email", "ops@example.com"])
    assert_ok(fires)
    assert_ok(holds)

    result = invoke(args=["alerts", "run"])
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"rule {fires.stdout.strip()} acme AI minutes above ")
    assert lines[0].endswith(f"{total:,} — fired (window {today:%Y-%m})")
    assert lines[1].endswith(f"{total:,} — not reached (window {today:%Y-%m})")
    assert "email to ops@example.com: sent" in lines[2]
    [mail] = received
    assert mail.rcpt_tos == ["ops@example.com"]
    assert f"{total:,}".encode() in mail.content

    again = invoke(args=["alerts", "run"])
    assert_ok(again)
    assert "already fired" in again.stdout.splitlines()[0]
    assert "No deliveries were due." in again.stdout
    assert len(received) == 1
    mailing.extensions["upstreams"].http.close()
