"""The usage page lists the viewed tenant's enabled alert rules and how far each is."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from ..helpers_html import text


@pytest.fixture
def people(make_tenant, make_user):
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_tenant("initech", integration="initech")
    make_user("acme@example.com", tenant="acme")
    make_user("staff@example.com", role="staff")


def add_rule(app, tenant, **fields):
    """Store a rule as the evaluation leaves it: checked, saved, then its last reading."""
    from core.extensions import db
    from models import Tenant
    from services.alert_rules import parse_rule, save_rule

    reading = {k: fields.pop(k) for k in ("last_value", "last_error", "enabled") if k in fields}
    checked = parse_rule(
        source=fields.get("source", "ai-minutes"),
        window=fields.get("window", "month"),
        condition=fields.get("condition", "above"),
        threshold=fields.get("threshold", 10_000),
        emails=["ops@example.com"],
        webhook_url=None,
        demo=False,
    )
    with app.app_context():
        owner = db.session.scalar(select(Tenant).where(Tenant.name == tenant))
        rule = save_rule(owner.id, checked)
        rule.evaluated_at = datetime.now(UTC) - timedelta(minutes=5)
        for name, value in reading.items():
            setattr(rule, name, value)
        db.session.commit()


def alerts_section(html: str) -> list[str]:
    """Return what each line of the page's Alerts card says, or [] without the card."""
    card = re.search(r'<section class="card alert-progress".*?</section>', html, re.S)
    if card is None:
        return []
    return [" ".join(text(li).split()) for li in re.findall(r"<li\b.*?</li>", card[0], re.S)]


@pytest.fixture
def rules(app, people):
    add_rule(app, "acme", last_value=7_200.0)
    add_rule(
        app,
        "acme",
        source="StorageBytes",
        threshold=2_000_000_000,
        last_error="isnotai answered 503",
    )
    add_rule(app, "acme", source="ApiCalls", threshold=500, last_value=100.0, enabled=False)
    add_rule(app, "initech", source="Events", threshold=1_000, last_value=990.0)


def test_a_customer_sees_their_tenants_enabled_rules_and_how_far_each_is(client, rules, login):
    login(client, "acme@example.com")
    page = client.get("/usage?preset=7d&tenant=initech").get_data(as_text=True)
    lines = alerts_section(page)
    assert lines == [
        "AI minutes above 10,000 this month: 72 % reached · checked 5 minutes ago",
        "Storage above 2.00 GB this month: could not be evaluated: isnotai answered 503"
        " · checked 5 minutes ago",
    ], lines
    assert "Events above" not in unescape(page)  # initech's, whatever the URL names
    assert "API calls above" not in unescape(page)  # disabled
    assert "Manage acme" not in page  # the link to /alerts is for staff


def test_staff_viewing_a_tenant_see_that_tenants_rules(client, rules, login):
    login(client, "staff@example.com")
    page = client.get("/usage?preset=7d&tenant=initech").get_data(as_text=True)
    assert alerts_section(page) == [
        "Events above 1,000 this month: 99 % reached · checked 5 minutes ago"
    ]
    assert "/alerts?tenant=initech" in page


def test_the_results_fragment_is_unchanged_and_the_rules_stay_on_the_page(client, rules, login):
    login(client, "acme@example.com")
    fragment = client.get("/usage?preset=7d", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and alerts_section(body) == []
    restore = client.get(
        "/usage?preset=7d", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    ).get_data(as_text=True)
    assert len(alerts_section(restore)) == 2
    refused = client.get("/usage?preset=nope").get_data(as_text=True)
    assert len(alerts_section(refused)) == 2  # a refused filter still shows the page's rules


def test_a_tenant_without_rules_shows_no_alerts_card(client, people, login):
    login(client, "acme@example.com")
    page = client.get("/usage?preset=7d").get_data(as_text=True)
    assert 'class="card alert-progress"' not in page
