"""An alert email's HTML part as a mail client shows it: no script, no request for anything
outside the message, everything readable; and its screenshot.

A normal run writes the screenshot to test-output/screenshots/; `USAGE_SCREENSHOTS=docs`
writes docs/screenshots/alert-email.png for the README:

    USAGE_SCREENSHOTS=docs CI=true .venv/bin/python -m pytest --no-cov -q \
        tests/browser/test_alert_email.py
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.extensions import db
from models import AlertRule, Delivery
from services.alert_rules import parse_rule, save_rule
from services.alerts import evaluate

from .test_screenshots import FOLDER

ACCOUNT = "acct-northwind"


def test_the_alert_email_reads_whole_without_fetching_anything(
    app, make_tenant, browser, clock, sims
):
    now = datetime.now(UTC).replace(hour=9, minute=30, second=0, microsecond=0)
    clock.offset = now + timedelta(days=14) - datetime.now(UTC)
    app.extensions["upstreams"].http.clock = clock
    sims.state.update(today=clock().date())
    tenant_id = make_tenant("acme", integration="acme", account=ACCOUNT)
    with app.app_context():
        checked = parse_rule(
            source="ai-minutes",
            window="month",
            condition="projected-above",
            threshold=1000,  # the simulated account runs at about 100 minutes a day
            emails=["ops@example.com"],
            webhook_url=None,
            demo=False,
        )
        rule = save_rule(tenant_id, checked)
        db.session.commit()
        result = evaluate(db.session.get(AlertRule, rule.id), clock())
        assert result.fired, str(result)
        html = db.session.scalar(select(Delivery.body_html))

    context = browser.new_context(viewport={"width": 640, "height": 720}, java_script_enabled=False)
    asked: list[str] = []
    context.route("**/*", lambda route: (asked.append(route.request.url), route.abort()))
    page = context.new_page()
    page.set_content(html, wait_until="load")
    assert asked == []  # no image, font or stylesheet from anywhere
    text = page.inner_text("body")
    assert "AI minutes on pace for more than 1,000 this month" in text
    assert "See it on the dashboard" in text
    link = page.get_attribute("a", "href")
    assert link.startswith("http://127.0.0.1:5000/usage?tenant=acme&metric=ai-minutes")
    FOLDER.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=FOLDER / "alert-email.png", full_page=True)
    context.close()
