"""`flask reports …`: schedules added, listed and removed; a report sent now; one-line refusals."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db
from devtools.servers import free_port
from models import Delivery, ReportSchedule, ReportSend
from services.reports import last_whole, send_due


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def assert_ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def assert_refused(result, *fragments: str) -> str:
    """Assert a non-zero exit with exactly one `Error: …` line on stderr and no traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def tenants(app, make_tenant):
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_tenant("globex", integration="globex")


def test_add_prints_the_id_only_and_list_and_remove_follow(app, tenants):
    first = assert_ok(
        run(
            app,
            "reports",
            "add",
            "acme",
            "--every",
            "week",
            "--email",
            "a@example.com",
            "--email",
            "b@example.com",
        )
    )
    second = assert_ok(
        run(app, "reports", "add", "globex", "--every", "month", "--email", "c@example.com")
    )
    assert first.strip().isdigit() and second.strip().isdigit() and first != second
    with app.app_context():
        row = db.session.get(ReportSchedule, int(first))
        assert (row.every, row.email_list, row.enabled) == (
            "week",
            ["a@example.com", "b@example.com"],
            True,
        )

    listed = assert_ok(run(app, "reports", "list")).splitlines()
    assert listed[0].split() == ["ID", "TENANT", "EVERY", "ENABLED", "LAST", "SENT", "EMAILS"]
    assert listed[1].split() == [
        first.strip(),
        "acme",
        "week",
        "yes",
        "-",
        "a@example.com,",
        "b@example.com",
    ]
    assert listed[2].split()[:3] == [second.strip(), "globex", "month"]
    only = assert_ok(run(app, "reports", "list", "--tenant", "globex")).splitlines()
    assert len(only) == 2 and only[1].split()[1] == "globex"

    removed = assert_ok(run(app, "reports", "remove", first.strip()))
    assert removed.strip() == f"Removed report schedule {first.strip()} (acme, every week)."
    assert count(app, ReportSchedule) == 1
    assert_refused(run(app, "reports", "remove", first.strip()), "no report schedule")
    assert_ok(run(app, "reports", "remove", second.strip()))
    assert assert_ok(run(app, "reports", "list")).strip() == "No report schedules."


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ("reports", "add", "nobody", "--every", "week", "--email", "a@example.com"),
            "no tenant named",
        ),
        (("reports", "add", "acme", "--every", "day", "--email", "a@example.com"), "week, month"),
        (("reports", "add", "acme", "--email", "a@example.com"), "every"),
        (("reports", "add", "acme", "--every", "week"), "Give at least one email address"),
        (
            ("reports", "add", "acme", "--every", "week", "--email", "not-an-address"),
            "is not an email address",
        ),
        (("reports", "list", "--tenant", "nobody"), "no tenant named"),
        (("reports", "remove", "x1"), "no report schedule with id 'x1'"),
        (("reports", "remove", "99999999999999999999999"), "no report schedule"),
        (("reports", "send", "acme", "--period", "year"), "week, month"),
        (("reports", "send", "acme"), "period"),
        (
            ("reports", "send", "acme", "--period", "week", "--email", "bad@"),
            "is not an email address",
        ),
        (
            ("reports", "send", "acme", "--period", "week"),
            "no report schedule with addresses: give --email",
        ),
        (("reports", "send", "nobody", "--period", "week"), "no tenant named"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(app, tenants, args, said):
    assert_refused(run(app, *args), said)
    assert count(app, ReportSchedule) == 0
    assert count(app, ReportSend) == 0 and count(app, Delivery) == 0


def test_send_refuses_when_the_upstream_fails_and_writes_nothing(app, tenants, sims):
    sims.state.add_fault("evovoice", "503")
    line = assert_refused(
        run(app, "reports", "send", "acme", "--period", "month", "--email", "a@example.com"),
        "could not be made",
        "nothing was sent",
    )
    assert "EvoVoice" in line
    assert count(app, ReportSend) == 0 and count(app, Delivery) == 0


# -- sending now, through the queue's delivery (jobs.delivery) over real SMTP --


class Inbox:
    """What an aiosmtpd server on loopback received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd names it
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Rcpt-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def app_config(app_config, smtp_port):
    return {**app_config, "USAGE_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}"}


@pytest.fixture
def inbox(smtp_port):
    from aiosmtpd.controller import Controller

    received = Inbox()
    controller = Controller(received, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield received
    controller.stop()


def test_send_mails_the_last_whole_period_now_to_the_schedules_addresses(app, tenants, inbox):
    assert_ok(run(app, "reports", "add", "acme", "--every", "week", "--email", "a@example.com"))
    assert_ok(run(app, "reports", "add", "acme", "--every", "month", "--email", "m@example.com"))
    output = assert_ok(run(app, "reports", "send", "acme", "--period", "week"))
    week = last_whole("week", datetime.now(UTC).date())
    assert output.splitlines()[0] == f"Report for {week.label} queued for 1 address."
    assert "a@example.com: sent" in output
    [message] = inbox.messages
    assert message["X-Rcpt-To"] == "a@example.com"
    assert message["Subject"] == f"Usage report for acme: {week.label}"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "AI minutes:" in text and "Top customers by AI minutes" in text
    assert "<table" in html and f"start={week.start}" in html
    with app.app_context():
        [send] = db.session.scalars(select(ReportSend)).all()
        assert send.schedule_id is None and send.period_key == week.key  # by hand
        [delivery] = db.session.scalars(select(Delivery)).all()
        assert delivery.state == "sent"

    # --email overrides the schedules' addresses; a second send by hand is never a repeat.
    output = assert_ok(
        run(app, "reports", "send", "acme", "--period", "week", "--email", "x@example.com")
    )
    assert "x@example.com: sent" in output
    assert [m["X-Rcpt-To"] for m in inbox.messages] == ["a@example.com", "x@example.com"]
    assert count(app, ReportSend) == 2


def test_list_shows_the_last_period_sent_and_remove_keeps_what_was_sent(app, tenants):
    added = assert_ok(
        run(app, "reports", "add", "acme", "--every", "week", "--email", "a@example.com")
    ).strip()
    today = datetime.now(UTC).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), time(6), UTC)
    with app.app_context():
        assert len(send_due(monday)) == 1
    week = last_whole("week", monday.date())
    row = assert_ok(run(app, "reports", "list", "--tenant", "acme")).splitlines()[1].split()
    assert row[:5] == [added, "acme", "week", "yes", week.key]

    assert_ok(run(app, "reports", "remove", added))
    assert count(app, ReportSchedule) == 0
    with app.app_context():
        [send] = db.session.scalars(select(ReportSend)).all()
        assert send.schedule_id is None and send.period_key == week.key
    assert count(app, Delivery) == 1  # still in the delivery log
