"""Alert rules evaluated against the simulators: each condition fires once per window, its
firing and deliveries written together; a failed read neither fires nor clears; a rule reads
only its own tenant's scope.

Expected numbers come from the simulators' oracle (`simulators.data`), never hard-coded.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from core.extensions import db
from models import AlertFiring, AlertRule, Delivery, Tenant
from presenters.alerts import progress
from services.alert_rules import parse_rule, save_rule
from services.alerts import evaluate, evaluate_all
from simulators.data import evovoice_minutes, isnotai_daily

from ..conftest import build_app


def _next_month_14th() -> datetime:
    """Return the 14th of next month, 09:30 UTC: after now, so nothing saved is fresh then."""
    today = datetime.now(UTC).date()
    following = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(following.replace(day=14), datetime.min.time(), UTC).replace(
        hour=9, minute=30
    )


def _month_after(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


# Mid-month, mid-morning (UTC), in the future: every read is made then, none answered from
# what an earlier moment saved (the cache keeps answers by the wall clock).
NOW = _next_month_14th()
MONTH = f"{NOW:%Y-%m}"
FIRST = NOW.date().replace(day=1)
ACCOUNT = "acct-northwind"
OTHER_ACCOUNT = "zürich-東京-Ωmega"
DAY = timedelta(days=1)


@pytest.fixture
def at(app, sims, clock):
    """Return a function moving the app's clock and the simulators' today to a moment."""
    app.extensions["upstreams"].http.clock = clock

    def move(when: datetime) -> datetime:
        clock.offset = when - datetime.now(UTC)
        sims.state.update(today=when.date())
        return when

    move(NOW)
    return move


@pytest.fixture
def tenants(make_tenant):
    make_tenant("acme", integration="acme", account=ACCOUNT)
    make_tenant("globex", integration="globex", account=OTHER_ACCOUNT)


def minutes(start: date, end: date, today: date, account=ACCOUNT, customer=None) -> int:
    return evovoice_minutes(start, end, account, customer, today=today) or 0


def api_calls(start: date, end: date) -> int:
    days = [start + DAY * n for n in range((end - start).days + 1)]
    return sum(isnotai_daily("acme", "ApiCalls", day) for day in days)


def add_rule(app, tenant="acme", *, emails=("ops@example.com",), webhook=None, **fields):
    with app.app_context():
        owner = db.session.scalar(select(Tenant).where(Tenant.name == tenant))
        checked = parse_rule(emails=emails, webhook_url=webhook, demo=False, **fields)
        rule = save_rule(owner.id, checked)
        db.session.commit()
        return rule.id


def run(app, rule_id: int, now: datetime):
    with app.app_context():
        return evaluate(db.session.get(AlertRule, rule_id), now)


def rule_state(app, rule_id: int) -> AlertRule:
    with app.app_context():
        rule = db.session.get(AlertRule, rule_id)
        progress_text = progress(rule)
        db.session.expunge(rule)
        rule.progress_text = progress_text
        return rule


def firings(app, rule_id: int) -> list[AlertFiring]:
    with app.app_context():
        rows = db.session.scalars(
            select(AlertFiring).where(AlertFiring.rule_id == rule_id).order_by(AlertFiring.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def deliveries(app, firing_id: int) -> list[Delivery]:
    with app.app_context():
        rows = db.session.scalars(
            select(Delivery).where(Delivery.firing_id == firing_id).order_by(Delivery.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def all_deliveries(app) -> list[Delivery]:
    with app.app_context():
        rows = db.session.scalars(select(Delivery)).all()
        db.session.expunge_all()
        return list(rows)


# -- above, in each window ------------------------------------------------------------------


def test_above_fires_once_in_a_month_with_its_deliveries_and_again_the_next_month(app, tenants, at):
    today = NOW.date()
    total = minutes(today.replace(day=1), today, today)
    rule_id = add_rule(
        app,
        source="ai-minutes",
        window="month",
        condition="above",
        threshold=total - 1,
        emails=("ops@example.com", "cfo@example.com"),
        webhook="https://hooks.example.com/usage?token=abc",
    )

    first = run(app, rule_id, NOW)
    assert first.status == "fired", str(first)
    assert first.window_key == MONTH
    [firing] = firings(app, rule_id)
    assert (firing.window_key, firing.condition, firing.value) == (MONTH, "above", total)
    sent = deliveries(app, firing.id)
    assert [(d.channel, d.target) for d in sent] == [
        ("email", "ops@example.com"),
        ("email", "cfo@example.com"),
        ("webhook", "https://hooks.example.com/usage?token=abc"),
    ]
    assert {d.state for d in sent} == {"pending"}
    assert {d.tenant_id for d in sent} == {rule_state(app, rule_id).tenant_id}
    state = rule_state(app, rule_id)
    assert (state.last_value, state.last_error) == (total, None)
    assert state.evaluated_at is not None

    later = at(NOW + timedelta(hours=3))
    again = run(app, rule_id, later)
    assert again.status == "already fired", str(again)
    assert len(firings(app, rule_id)) == 1
    assert len(all_deliveries(app)) == 3

    following = _month_after(FIRST)
    next_month = at(datetime.combine(following.replace(day=25), NOW.time(), UTC))
    assert minutes(following, next_month.date(), next_month.date()) > total - 1  # the oracle
    third = run(app, rule_id, next_month)
    assert third.status == "fired", str(third)
    assert [f.window_key for f in firings(app, rule_id)] == [MONTH, f"{following:%Y-%m}"]
    assert len(all_deliveries(app)) == 6


def test_a_total_equal_to_the_threshold_has_not_passed_it(app, tenants, at):
    today = NOW.date()
    total = minutes(today.replace(day=1), today, today)
    rule_id = add_rule(app, source="ai-minutes", window="month", condition="above", threshold=total)
    result = run(app, rule_id, NOW)
    assert result.status == "not reached"
    assert firings(app, rule_id) == []
    assert all_deliveries(app) == []
    state = rule_state(app, rule_id)
    assert state.last_value == total
    assert state.progress_text == "100 % reached"


def test_a_day_rule_reads_yesterday_and_fires_again_the_next_day(app, tenants, at):
    yesterday = NOW.date() - DAY
    following = NOW.date()
    value = isnotai_daily("acme", "ApiCalls", yesterday)
    threshold = min(value, isnotai_daily("acme", "ApiCalls", following)) - 1
    rule_id = add_rule(app, source="ApiCalls", window="day", condition="above", threshold=threshold)

    first = run(app, rule_id, NOW)
    assert (first.status, first.window_key) == ("fired", yesterday.isoformat())
    assert rule_state(app, rule_id).last_value == value
    assert run(app, rule_id, at(NOW + timedelta(hours=10))).status == "already fired"
    third = run(app, rule_id, at(NOW + DAY))
    assert (third.status, third.window_key) == ("fired", following.isoformat())
    assert len(firings(app, rule_id)) == 2


def test_a_seven_day_rule_fires_at_most_once_in_any_seven_days(app, tenants, at):
    ends = [NOW.date() - DAY + DAY * n for n in range(8)]
    sums = [api_calls(end - 6 * DAY, end) for end in ends]
    rule_id = add_rule(
        app, source="api-calls", window="7d", condition="above", threshold=min(sums) - 1
    )

    first = run(app, rule_id, NOW)
    assert (first.status, first.window_key) == ("fired", f"{ends[0] - 6 * DAY}/{ends[0]}")
    assert rule_state(app, rule_id).last_value == sums[0]
    for days in (1, 6):  # windows sharing a day with the one that fired
        held = run(app, rule_id, at(NOW + DAY * days))
        assert held.status == "already fired", str(held)
        assert rule_state(app, rule_id).last_value == sums[days]
    apart = run(app, rule_id, at(NOW + DAY * 7))
    assert (apart.status, apart.window_key) == ("fired", f"{ends[7] - 6 * DAY}/{ends[7]}")
    assert len(firings(app, rule_id)) == 2


def test_storage_is_a_level_its_latest_reading_is_compared_never_a_sum(app, tenants, at):
    today = NOW.date()
    reading = isnotai_daily("acme", "StorageBytes", today)
    days = [FIRST + DAY * n for n in range(today.day)]
    summed = sum(isnotai_daily("acme", "StorageBytes", day) for day in days)
    rule_id = add_rule(
        app, source="StorageBytes", window="month", condition="above", threshold=reading - 1
    )
    never = add_rule(
        app, source="StorageBytes", window="month", condition="above", threshold=summed - 1
    )
    result = run(app, rule_id, NOW)
    assert result.status == "fired", str(result)
    assert rule_state(app, rule_id).last_value == reading
    assert run(app, never, NOW).status == "not reached"  # 14 readings are not summed


# -- projected-above and spike --------------------------------------------------------------


def test_projected_above_fires_on_the_pages_pace_before_the_total_passes(app, tenants, at):
    today = NOW.date()
    total = minutes(today.replace(day=1), today, today)
    elapsed = (NOW - datetime.combine(FIRST, datetime.min.time(), UTC)).total_seconds() / 86400
    projected = round(total / elapsed * (_month_after(FIRST) - FIRST).days)  # "on pace for"
    pace = add_rule(
        app, source="ai-minutes", window="month", condition="projected-above", threshold=total
    )
    above = add_rule(app, source="ai-minutes", window="month", condition="above", threshold=total)

    result = run(app, pace, NOW)
    assert result.status == "fired", str(result)
    assert rule_state(app, pace).last_value == projected
    [firing] = firings(app, pace)
    assert (firing.condition, firing.value) == ("projected-above", projected)
    assert run(app, above, NOW).status == "not reached"
    assert run(app, pace, at(NOW + timedelta(hours=1))).status == "already fired"


def spike_day() -> tuple[date, float]:
    """Return the first day from NOW's month on well above the average of the 28 before it."""
    for offset in range(60):
        day = FIRST + DAY * offset
        before = [minutes(day - DAY * n, day - DAY * n, day) for n in range(1, 29)]
        average = sum(before) / 28
        pct = (minutes(day, day, day) - average) / average * 100
        if pct > 12:
            return day, pct
    raise AssertionError("the oracle has no spike to test with")


def test_a_spike_fires_when_the_last_full_day_passes_its_average_by_the_percentage(
    app, tenants, at
):
    day, pct = spike_day()
    now = at(datetime.combine(day + DAY, datetime.min.time(), UTC) + timedelta(hours=6))
    fires = add_rule(
        app, source="ai-minutes", window="day", condition="spike", threshold=int(pct) - 1
    )
    holds = add_rule(
        app, source="ai-minutes", window="day", condition="spike", threshold=int(pct) + 1
    )

    result = run(app, fires, now)
    assert (result.status, result.window_key) == ("fired", day.isoformat())
    assert rule_state(app, fires).last_value == pytest.approx(pct, abs=0.05)
    assert run(app, holds, now).status == "not reached"
    assert run(app, fires, at(now + timedelta(hours=2))).status == "already fired"
    assert "against its 28-day average" in rule_state(app, holds).progress_text


def test_a_spike_without_a_baseline_is_not_evaluated_and_says_why(app, make_tenant, at):
    make_tenant("quiet", account="acct-quiet", customer="cust-idle")  # never any usage
    rule_id = add_rule(
        app, "quiet", source="ai-minutes", window="day", condition="spike", threshold=50
    )
    result = run(app, rule_id, NOW)
    assert result.status == "could not be evaluated"
    state = rule_state(app, rule_id)
    assert state.last_error.startswith("no baseline: no usage was recorded from ")
    assert state.progress_text.startswith("could not be evaluated: no baseline")
    assert firings(app, rule_id) == []


# -- failures, scope, disabled, concurrency -------------------------------------------------


def test_a_failed_read_neither_fires_nor_clears_and_a_later_run_fires(app, tenants, at, sims):
    today = NOW.date()
    total = minutes(today.replace(day=1), today, today)
    rule_id = add_rule(
        app, source="ai-minutes", window="month", condition="above", threshold=total - 1
    )
    sims.state.add_fault("evovoice", "503")

    failed = run(app, rule_id, NOW)
    assert failed.status == "could not be evaluated"
    state = rule_state(app, rule_id)
    assert "failed on its side" in state.last_error
    assert "demo-service-password" not in state.last_error
    assert state.last_value is None and state.evaluated_at is not None
    assert firings(app, rule_id) == [] and all_deliveries(app) == []
    assert "could not be evaluated" in str(failed)

    sims.state.clear_faults()
    retried = run(app, rule_id, at(NOW + timedelta(minutes=15)))
    assert retried.status == "fired", str(retried)
    assert rule_state(app, rule_id).last_error is None


def test_saved_data_standing_in_for_a_failed_read_fires_nothing(app, tenants, at, sims):
    now = at(datetime.now(UTC))  # saved answers are kept by the wall clock
    today = now.date()
    total = minutes(today.replace(day=1), today, today)
    quiet = add_rule(
        app, source="ai-minutes", window="month", condition="above", threshold=total * 10 + 10
    )
    assert run(app, quiet, now).status == "not reached"  # the answers are now saved
    loud = add_rule(
        app, source="ai-minutes", window="month", condition="above", threshold=max(total - 1, 1)
    )
    later = at(now + timedelta(minutes=5))  # past today's 60 s freshness
    sims.state.add_fault("evovoice", "503")

    for rule_id in (quiet, loud):
        result = run(app, rule_id, later)
        assert result.status == "could not be evaluated", str(result)
        assert rule_state(app, rule_id).last_error.startswith("only saved data could be read")
    assert rule_state(app, quiet).last_value == total  # not cleared
    assert firings(app, loud) == []


def test_a_rule_reads_only_its_own_tenants_scope(app, make_tenant, tenants, at, sims):
    make_tenant("alpha", account=ACCOUNT, customer="cust-alpha")
    today = NOW.date()
    rules = {
        "acme": add_rule(
            app, source="ai-minutes", window="month", condition="above", threshold=10**12
        ),
        "alpha": add_rule(
            app, "alpha", source="ai-minutes", window="month", condition="above", threshold=10**12
        ),
        "calls": add_rule(app, source="ApiCalls", window="day", condition="above", threshold=1),
    }
    sims.state.clear_calls()
    for rule_id in rules.values():
        run(app, rule_id, NOW)

    usage_calls = [c for c in sims.state.calls() if c["path"] in ("/ai/usage", "/v1/usage")]
    assert usage_calls
    for call in usage_calls:
        if call["path"] == "/v1/usage":
            assert call["identity"] == "acme"
        else:
            asked = call["body"] or call["query"]
            assert asked["accountId"] == ACCOUNT
            assert asked.get("customerId") in (None, "cust-alpha")
    month = (today.replace(day=1), today, today)
    assert rule_state(app, rules["acme"]).last_value == minutes(*month)
    assert rule_state(app, rules["alpha"]).last_value == minutes(*month, customer="cust-alpha")
    assert rule_state(app, rules["calls"]).last_value == isnotai_daily(
        "acme", "ApiCalls", today - DAY
    )


def test_a_source_the_tenant_lacks_is_said(app, make_tenant, at):
    make_tenant("minutes-only", account=ACCOUNT)
    rule_id = add_rule(
        app, "minutes-only", source="Events", window="day", condition="above", threshold=5
    )
    assert run(app, rule_id, NOW).status == "could not be evaluated"
    assert rule_state(app, rule_id).last_error == "tenant minutes-only has no isnotai integration"


def test_a_rule_that_breaks_the_evaluation_does_not_stop_the_others(app, tenants, at):
    broken = add_rule(app, source="ai-minutes", window="day", condition="above", threshold=1)
    sound = add_rule(app, source="ai-minutes", window="day", condition="above", threshold=1)
    assert sound > broken
    with app.app_context():
        db.session.get(AlertRule, broken).source = "CpuSeconds"  # stored by no check
        db.session.commit()
        first, second = evaluate_all(NOW)
    assert first.status == "could not be evaluated"
    assert rule_state(app, broken).last_error.startswith("the dashboard failed while evaluating")
    assert second.status == "fired", str(second)


def test_disabled_rules_are_skipped(app, tenants, at):
    rule_id = add_rule(app, source="ai-minutes", window="month", condition="above", threshold=1)
    with app.app_context():
        db.session.get(AlertRule, rule_id).enabled = False
        db.session.commit()
        [result] = evaluate_all(NOW)
    assert result.status == "skipped (disabled)"
    assert str(result) == f"rule {rule_id} acme AI minutes above 1 this month: skipped (disabled)"
    assert rule_state(app, rule_id).evaluated_at is None
    assert firings(app, rule_id) == []


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_app(request, app_config, sims, clock):
    """Return an app on SQLite or PostgreSQL, its clock and the simulators' today at NOW."""
    config = dict(app_config)
    if request.param == "postgresql":
        config["USAGE_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    application = build_app(config)
    application.extensions["upstreams"].http.clock = clock
    clock.offset = NOW + DAY - datetime.now(UTC)
    sims.state.update(today=(NOW + DAY).date())
    with application.app_context():
        upgrade()
        db.session.add(Tenant(name="acme", evovoice_account_id=ACCOUNT))
        db.session.commit()
    yield application
    with application.app_context():
        db.engine.dispose()
    application.extensions["upstreams"].http.close()


def race(app, rule_id: int, moments: list[datetime]) -> list:
    """Evaluate one rule from two threads at once, as two consumers would."""
    results = []
    start = threading.Barrier(len(moments))

    def consume(now: datetime) -> None:
        start.wait()
        results.append(run(app, rule_id, now))

    threads = [threading.Thread(target=consume, args=(now,)) for now in moments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize(
    ("window", "moments"),
    [("month", [NOW, NOW]), ("7d", [NOW, NOW + DAY])],  # the same window; windows a day apart
    ids=["same window", "overlapping 7-day windows"],
)
def test_two_consumers_evaluating_at_once_fire_once(shared_app, window, moments):
    rule_id = add_rule(
        shared_app,
        source="ai-minutes",
        window=window,
        condition="above",
        threshold=1,
        emails=("ops@example.com",),
        webhook="https://hooks.example.com/usage",
    )
    results = race(shared_app, rule_id, moments)
    assert sorted(r.status for r in results) == ["already fired", "fired"], [
        str(r) for r in results
    ]
    [firing] = firings(shared_app, rule_id)
    assert len(deliveries(shared_app, firing.id)) == 2
    assert len(all_deliveries(shared_app)) == 2


# -- what the messages say ------------------------------------------------------------------


def test_the_message_gives_the_number_threshold_window_and_a_link_that_shows_it(
    app, signed_in, at, client
):
    today = NOW.date()
    total = minutes(today.replace(day=1), today, today)
    rule_id = add_rule(
        app,
        source="ai-minutes",
        window="month",
        condition="above",
        threshold=total - 1,
        webhook="https://hooks.example.com/usage",
    )
    result = run(app, rule_id, NOW)
    assert str(result) == (
        f"rule {rule_id} acme AI minutes above {total - 1:,} this month: {total:,} — fired "
        f"(window {MONTH})"
    )
    [firing] = firings(app, rule_id)
    email, hook = deliveries(app, firing.id)

    assert email.subject == (
        f"Alert for acme: AI minutes above {total - 1:,} this month ({total:,})"
    )
    for body in (email.body_text, email.body_html):
        assert f"{total:,}" in body
        assert f"{total - 1:,}" in body
        assert FIRST.isoformat() in body and today.isoformat() in body
    link = next(w for w in email.body_text.split() if w.startswith("http"))
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == app.config["USAGE"].public_url
    assert parts.path == "/usage"
    params = parse_qs(parts.query)
    assert params["metric"] == ["ai-minutes"] and params["tenant"] == ["acme"]
    assert (params["start"], params["end"]) == ([FIRST.isoformat()], [today.isoformat()])
    page = signed_in["customer"].get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200
    assert f"{total:,}" in page.get_data(as_text=True)  # the page shows the number

    html = email.body_html
    assert f'href="{link.replace("&", "&amp;")}"' in html
    for external in ("<img", "<link", "<script", "src=", "url("):
        assert external not in html
    assert 'style="' in html

    payload = json.loads(hook.payload)
    assert payload == {
        "type": "alert.fired",
        "tenant": "acme",
        "rule": {
            "id": rule_id,
            "source": "ai-minutes",
            "window": "month",
            "condition": "above",
            "threshold": total - 1,
        },
        "window": {"key": MONTH, "start": FIRST.isoformat(), "end": today.isoformat()},
        "value": total,
        "threshold": total - 1,
        "url": link,
        "fired_at": f"{NOW:%Y-%m-%dT%H:%M:%SZ}",
        "delivery": hook.uid,
    }


def test_the_html_part_escapes_what_it_shows(app, tenants, at):
    from services.alert_messages import compose
    from services.alert_readings import Reading, rule_query
    from services.alert_windows import window_for

    rule_id = add_rule(app, source="ai-minutes", window="day", condition="above", threshold=5)
    window = window_for("day", NOW)
    hostile = "<script>alert(1)</script>&co"
    with app.app_context():
        rule = db.session.get(AlertRule, rule_id)
        reading = Reading(12, rule_query("ai-minutes", "above", window, NOW.date()))
        message = compose(rule, hostile, window, reading, NOW, "https://usage.example.com/")
    assert hostile not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;co" in message.html
    assert hostile in message.text  # plain text is not HTML: shown as it is
    assert message.payload["url"].startswith("https://usage.example.com/usage?tenant=%3Cscript")
