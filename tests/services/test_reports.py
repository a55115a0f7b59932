"""Scheduled reports: the period due, the numbers said, and each period sent exactly once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from core.extensions import db
from models import Delivery, ReportSchedule, ReportSend, Tenant
from presenters.formatting import human_bytes, signed_pct, thousands
from services.reports import (
    GRACE_DAYS,
    Period,
    build_report,
    due_period,
    last_whole,
    parse_period_key,
    record_send,
    send_due,
)
from services.reports.content import period_query
from services.tenancy import scope_for
from services.usage import UsageService
from simulators.data import EVOVOICE_ACCOUNTS, evovoice_expected, evovoice_minutes
from upstreams import upstreams

HOSTILE = list(EVOVOICE_ACCOUNTS)[1]  # acct-</script><script>…
UNICODE = list(EVOVOICE_ACCOUNTS)[3]


# -- periods ---------------------------------------------------------------------------------


def test_a_week_is_the_previous_iso_week_and_a_month_the_previous_calendar_month():
    tuesday = date(2026, 12, 1)
    week = last_whole("week", tuesday)
    assert (week.start, week.end, week.key) == (date(2026, 11, 23), date(2026, 11, 29), "2026-W48")
    assert week.sent_on == date(2026, 11, 30)  # the Monday
    assert last_whole("week", date(2026, 11, 30)) == week  # on the Monday itself
    assert last_whole("week", date(2026, 11, 29)).key == "2026-W47"
    month = last_whole("month", tuesday)
    assert (month.start, month.end, month.key) == (date(2026, 11, 1), date(2026, 11, 30), "2026-11")
    assert last_whole("month", date(2026, 3, 1)).end == date(2026, 2, 28)
    assert last_whole("month", date(2027, 1, 1)).key == "2026-12"
    # ISO years: the week of 2026-12-28 to 2027-01-03 is 2026's 53rd.
    assert last_whole("week", date(2027, 1, 4)).key == "2026-W53"
    assert parse_period_key("week", "2026-W53") == last_whole("week", date(2027, 1, 4))
    assert parse_period_key("month", "2026-02") == Period(
        "month", date(2026, 2, 1), date(2026, 2, 28)
    )
    for kind, key in (
        ("week", "2026-11"),
        ("month", "2026-W48"),
        ("week", "2026-W54"),
        ("month", "2026-13"),
    ):
        with pytest.raises(ValueError):
            parse_period_key(kind, key)


def test_a_missed_day_is_sent_late_for_a_few_days_then_skipped():
    monday = date(2026, 11, 30)
    for late in range(GRACE_DAYS + 1):
        assert due_period("week", monday + timedelta(days=late)).key == "2026-W48"
    assert due_period("week", monday + timedelta(days=GRACE_DAYS + 1)) is None
    first = date(2026, 12, 1)
    assert due_period("month", first + timedelta(days=GRACE_DAYS)).key == "2026-11"
    assert due_period("month", first + timedelta(days=GRACE_DAYS + 1)) is None


# -- sending ---------------------------------------------------------------------------------


def last_monday() -> datetime:
    today = datetime.now(UTC).date()
    return datetime.combine(today - timedelta(days=today.weekday()), time(6), UTC)


@pytest.fixture
def tenants(app, make_tenant):
    make_tenant("acme", integration="acme", account="acct-northwind")  # a whole account
    make_tenant("globex", integration="globex", account=UNICODE, customer="kunde-müller")
    make_tenant("initech", account=HOSTILE)  # AI minutes only, hostile ids
    make_tenant("empty")


def schedule(app, name: str, every: str, *emails: str) -> int:
    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.name == name))
        row = ReportSchedule(tenant_id=tenant.id, every=every, emails="\n".join(emails))
        db.session.add(row)
        db.session.commit()
        return row.id


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def deliveries(app) -> list[Delivery]:
    with app.app_context():
        rows = db.session.scalars(select(Delivery).order_by(Delivery.id)).all()
        db.session.expunge_all()
        return list(rows)


def test_each_schedule_sends_its_period_once(app, tenants):
    weekly = schedule(app, "acme", "week", "a@example.com", "b@example.com")
    now = last_monday()
    with app.app_context():
        first = send_due(now)
        again = send_due(now)
        later = [send_due(now + timedelta(days=days)) for days in range(1, 7)]
    week = last_whole("week", now.date())
    assert first == [f"report schedule {weekly} (acme, {week.key}): queued for 2 addresses"]
    assert again == [] and later == [[]] * 6
    with app.app_context():
        sends = db.session.scalars(select(ReportSend)).all()
        assert [(s.schedule_id, s.period_key) for s in sends] == [(weekly, week.key)]
    mails = deliveries(app)
    assert sorted(d.target for d in mails) == ["a@example.com", "b@example.com"]
    assert all(d.state == "pending" and d.channel == "email" for d in mails)
    assert {d.subject for d in mails} == {f"Usage report for acme: {week.label}"}
    assert all(d.body_text and d.body_html.startswith("<!DOCTYPE html>") for d in mails)
    assert all(d.report_send_id == sends[0].id for d in mails)
    # The next Monday sends the next week.
    with app.app_context():
        following = send_due(now + timedelta(days=7))
    assert following == [f"report schedule {weekly} (acme, {_next(week)}): queued for 2 addresses"]


def _next(week: Period) -> str:
    return last_whole("week", week.end + timedelta(days=8)).key


def test_a_monthly_schedule_sends_on_the_first_the_previous_month(app, tenants):
    monthly = schedule(app, "globex", "month", "c@example.com")
    first = datetime.combine(datetime.now(UTC).date().replace(day=1), time(0, 5), UTC)
    with app.app_context():
        before = send_due(first - timedelta(days=1))  # the last day of the month: not yet
        sent = send_due(first)
        again = send_due(first + timedelta(days=1))
    month = last_whole("month", first.date())
    assert month.end == first.date() - timedelta(days=1)
    assert before == []
    assert sent == [f"report schedule {monthly} (globex, {month.key}): queued for 1 address"]
    assert again == []
    assert count(app, ReportSend) == 1


def test_a_disabled_schedule_sends_nothing(app, tenants):
    weekly = schedule(app, "acme", "week", "a@example.com")
    with app.app_context():
        db.session.get(ReportSchedule, weekly).enabled = False
        db.session.commit()
        assert send_due(last_monday()) == []
    assert count(app, ReportSend) == 0


def test_a_second_writer_of_the_same_period_rolls_back(app, tenants):
    weekly = schedule(app, "globex", "week", "a@example.com")
    now = last_monday()
    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.name == "globex"))
        report = build_report(tenant, "week", last_whole("week", now.date()), now=now)
        assert record_send(tenant, weekly, report, ["a@example.com"])
        assert record_send(tenant, weekly, report, ["a@example.com"]) is None
        # By hand (no schedule) is never a repeat.
        assert record_send(tenant, None, report, ["a@example.com"])
    assert count(app, ReportSend) == 2
    assert count(app, Delivery) == 2


def test_an_upstream_failure_sends_nothing_says_why_and_the_next_run_sends(app, tenants, sims):
    weekly = schedule(app, "acme", "week", "a@example.com")
    sims.state.add_fault("isnotai", "503")
    now = last_monday() + timedelta(days=1)  # a Tuesday: the Monday's run was missed
    with app.app_context():
        failed = send_due(now)
    assert len(failed) == 1
    line = failed[0]
    assert line.startswith(f"report schedule {weekly} (acme, ") and ": not sent: " in line
    assert "isnotai" in line and "the next run tries again (until" in line
    assert count(app, ReportSend) == 0 and count(app, Delivery) == 0

    sims.state.clear_faults()
    with app.app_context():
        sent = send_due(now + timedelta(hours=1))
    assert sent == [
        f"report schedule {weekly} (acme, {last_whole('week', now.date()).key}): "
        "queued for 1 address"
    ]
    assert count(app, ReportSend) == 1 and count(app, Delivery) == 1


def test_a_schedule_with_nothing_to_read_says_so(app, tenants):
    schedule(app, "empty", "week", "a@example.com")
    with app.app_context():
        lines = send_due(last_monday())
    assert len(lines) == 1 and "neither an isnotai integration nor AI minutes" in lines[0]
    assert count(app, ReportSend) == 0


# -- content ---------------------------------------------------------------------------------


def report_for(app, name: str, kind: str, now: datetime):
    with app.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.name == name))
        period = last_whole(kind, now.date())
        report = build_report(tenant, kind, period, now=now)
        sources = upstreams()
        service = UsageService(sources.isnotai, sources.evovoice, now=lambda: now)
        view = service.view(scope_for(tenant, app.extensions["secret_box"]), period_query(period))
        return report, view


@pytest.mark.parametrize("kind", ["week", "month"])
def test_the_numbers_are_the_services_for_the_period_and_the_one_before(app, tenants, kind):
    now = last_monday()
    report, view = report_for(app, "globex", kind, now)
    period = report.period
    assert view.query.start == period.start and view.query.end == period.end
    text = report.text
    assert report.subject in text
    for panel in view.metrics.panels:
        total = (
            human_bytes(panel.total) if panel.metric == "StorageBytes" else thousands(panel.total)
        )
        line = next(s for s in report.sources if s.total == total)
        assert line.total in text and line.total in report.html
        if panel.change is not None:
            assert line.change.startswith(signed_pct(panel.change) if panel.change else "no change")
            against = (
                f"the reading of {view.query.previous_end}"
                if panel.is_level
                else f"{view.query.previous_start} – {view.query.previous_end}"
            )
            assert line.change.endswith(f"vs {against}")
            assert line.change in text
    minutes = evovoice_minutes(period.start, period.end, UNICODE, "kunde-müller")
    before = evovoice_minutes(
        view.query.previous_start, view.query.previous_end, UNICODE, "kunde-müller"
    )
    ai = report.sources[-1]
    assert ai.title == "AI minutes" and ai.total == thousands(minutes)
    assert ai.change.startswith(signed_pct(100 * (minutes - before) / before))
    if kind == "week":  # the ISO week before
        assert view.query.previous_start == period.start - timedelta(days=7)
    assert report.customers == ()  # one customer: no ranking
    assert "Top customers" not in report.text and "Top customers" not in report.html
    assert report.link == (
        f"http://127.0.0.1:5000/usage?metric=all&granularity={view.query.granularity}"
        f"&compare=none&start={period.start}&end={period.end}&tenant=globex"
    )
    assert report.link in text and report.link.replace("&", "&amp;") in report.html


def test_an_account_wide_tenant_gets_its_top_customers(app, tenants):
    now = last_monday()
    report, _view = report_for(app, "acme", "week", now)
    body = evovoice_expected(report.period.start, report.period.end, "acct-northwind")
    ranked = sorted(body["customerUsage"], key=lambda c: (-c["aiMinutes"], c["customerId"]))
    assert [c.id for c in report.customers] == [c["customerId"] for c in ranked[:10]]
    assert [c.minutes for c in report.customers] == [thousands(c["aiMinutes"]) for c in ranked[:10]]
    assert [c.rank for c in report.customers] == list(range(1, len(ranked[:10]) + 1))
    assert "Top customers by AI minutes" in report.text and "Top customers" in report.html
    assert f" 1. {ranked[0]['customerId']}: {thousands(ranked[0]['aiMinutes'])}" in report.text


def test_hostile_ids_are_escaped_in_the_html_and_shown_plainly_in_the_text(app, tenants):
    report, _view = report_for(app, "initech", "week", last_monday())
    ids = [c.id for c in report.customers]
    assert "<b>bold</b>" in ids
    assert "<b>" not in report.html and "&lt;b&gt;bold&lt;/b&gt;" in report.html
    assert "<script>" not in report.html
    assert "cust-\\u2028sep" in report.text and "\u2028" not in report.text
    assert [s.title for s in report.sources] == ["AI minutes"]  # no isnotai integration
    assert "http" not in report.html.replace(report.link.replace("&", "&amp;"), "")  # no assets
    assert "<img" not in report.html and "<link" not in report.html and "<script" not in report.html


class TestOnPostgres:
    """The once-per-period guarantee is the database's unique key: PostgreSQL keeps it too."""

    @pytest.fixture
    def app_config(self, app_config, postgres_url):
        return {**app_config, "USAGE_DATABASE_URL": postgres_url}

    def test_a_second_writer_rolls_back_and_a_run_sends_once(self, app, tenants):
        weekly = schedule(app, "globex", "week", "a@example.com")
        now = last_monday()
        with app.app_context():
            assert send_due(now) == [
                f"report schedule {weekly} (globex, {last_whole('week', now.date()).key}): "
                "queued for 1 address"
            ]
            assert send_due(now) == []
            tenant = db.session.scalar(select(Tenant).where(Tenant.name == "globex"))
            report = build_report(tenant, "week", last_whole("week", now.date()), now=now)
            assert record_send(tenant, weekly, report, ["a@example.com"]) is None
            assert db.session.scalar(select(func.count()).select_from(ReportSend)) == 1
            assert db.session.scalar(select(func.count()).select_from(Delivery)) == 1
            db.session.remove()
            db.engine.dispose()  # before the database is dropped
