"""/alerts: staff list, add, change, disable and delete every tenant's rules and read the log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from ..conftest import build_app
from ..helpers_html import body_rows, text

STAFF = "staff@example.com"
CUSTOMER = "acme@example.com"
GOOD = {
    "tenant": "acme",
    "source": "ai-minutes",
    "window": "month",
    "condition": "above",
    "threshold": "10,000",
    "emails": "ops@example.com\nfinance@example.com",
    "webhook_url": "",
}


@pytest.fixture
def people(make_tenant, make_user):
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_tenant("initech", integration="initech")
    make_user(CUSTOMER, tenant="acme")
    make_user(STAFF, role="staff")


@pytest.fixture
def staff(app, people, login):
    return login(app.test_client(), STAFF)


@pytest.fixture
def customer(app, people, login):
    return login(app.test_client(), CUSTOMER)


def rules(app) -> list:
    from core.extensions import db
    from models import AlertRule

    with app.app_context():
        found = db.session.scalars(select(AlertRule).order_by(AlertRule.id)).all()
        db.session.expunge_all()
        return list(found)


def add_rule(app, tenant: str = "acme", **changes) -> int:
    """Store a rule through the one save path, as the CLI does; return its id."""
    from core.extensions import db
    from models import Tenant
    from services.alert_rules import parse_rule, save_rule

    fields = {k: v for k, v in {**GOOD, **changes}.items() if k != "tenant"}
    fields["emails"] = [fields["emails"]]
    extra = {k: fields.pop(k) for k in ("last_value", "last_error", "evaluated_at", "enabled")
             if k in fields}  # fmt: skip
    with app.app_context():
        owner = db.session.scalar(select(Tenant).where(Tenant.name == tenant))
        rule = save_rule(owner.id, parse_rule(**fields, demo=False))
        for name, value in extra.items():
            setattr(rule, name, value)
        db.session.commit()
        return rule.id


def field_error(html: str, field: str) -> str | None:
    found = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', html, re.S)
    return unescape(found[1]) if found else None


def rule_rows(html: str) -> list[str]:
    return [" ".join(text(c).split()) for row in body_rows(html, "rules") for c in row[:1]]


# -- staff: add, list, change, disable, enable, delete ------------------------------------


def test_staff_add_a_rule_through_the_form_and_see_it_listed(app, staff):
    form = staff.get("/alerts/new?tenant=acme")
    assert form.status_code == 200
    page = form.get_data(as_text=True)
    assert '<option value="acme" selected>' in page
    assert 'name="csrf_token"' in page

    answer = staff.post("/alerts/new", data=GOOD)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/alerts?tenant=acme")

    (rule,) = rules(app)
    assert (rule.source, rule.window, rule.condition, rule.threshold) == (
        "ai-minutes", "month", "above", 10_000,
    )  # fmt: skip
    assert rule.email_list == ["ops@example.com", "finance@example.com"]
    assert rule.webhook_url is None and rule.enabled

    listing = staff.get("/alerts").get_data(as_text=True)
    assert "AI minutes above 10,000 this month" in unescape(listing)
    (cells,) = body_rows(listing, "rules")
    assert "not evaluated yet" in text(cells[2])
    assert "ops@example.com" in cells[3] and "finance@example.com" in cells[3]
    assert text(cells[4]) == "Enabled"
    flashed = staff.get("/alerts").get_data(as_text=True)
    assert "Added rule" not in flashed  # said once, after the redirect


def test_staff_change_disable_enable_and_delete_a_rule(app, staff):
    rule_id = add_rule(app, last_value=7200.0, evaluated_at=datetime.now(UTC))

    edit = staff.get(f"/alerts/{rule_id}/edit").get_data(as_text=True)
    assert 'value="10000"' in edit and "ops@example.com" in edit
    changed = {**GOOD, "threshold": "20000", "webhook_url": "https://hooks.example.com/usage"}
    assert staff.post(f"/alerts/{rule_id}/edit", data=changed).status_code == 303
    (rule,) = rules(app)
    assert (rule.threshold, rule.webhook_url) == (20_000, "https://hooks.example.com/usage")
    assert rule.last_value is None  # a changed rule starts afresh

    assert staff.post(f"/alerts/{rule_id}/disable").status_code == 303
    assert not rules(app)[0].enabled
    (cells,) = body_rows(staff.get("/alerts").get_data(as_text=True), "rules")
    assert text(cells[4]) == "Disabled"
    assert (
        staff.post(f"/alerts/{rule_id}/enable", data={"back_tenant": "acme"})
        .headers["Location"]
        .endswith("/alerts?tenant=acme")
    )
    assert rules(app)[0].enabled

    confirm = staff.get(f"/alerts/{rule_id}/delete")
    assert confirm.status_code == 200
    assert "Delete this rule?" in confirm.get_data(as_text=True)
    assert len(rules(app)) == 1  # asking is not deleting
    assert staff.post(f"/alerts/{rule_id}/delete").status_code == 303
    assert rules(app) == []
    assert staff.post(f"/alerts/{rule_id}/delete").status_code == 404


def test_the_list_shows_every_tenant_or_the_one_asked_for(app, staff):
    add_rule(app, "acme")
    add_rule(app, "initech", source="ApiCalls", threshold="5000")
    everyone = rule_rows(staff.get("/alerts").get_data(as_text=True))
    assert len(everyone) == 2
    one = staff.get("/alerts?tenant=initech").get_data(as_text=True)
    assert rule_rows(one) == [f"API calls above 5,000 this month #{rules(app)[1].id}"]
    assert staff.get("/alerts?tenant=nobody").status_code == 404


def test_a_rule_that_could_not_be_evaluated_says_why(app, staff):
    add_rule(app, last_error="EvoVoice answered 503", evaluated_at=datetime.now(UTC))
    (cells,) = body_rows(staff.get("/alerts").get_data(as_text=True), "rules")
    assert "could not be evaluated: EvoVoice answered 503" in text(cells[2])


# -- bad values: a 400, the form again, the message beside its field ----------------------

BAD = [
    ({"threshold": "0"}, "threshold", "whole number above 0; got 0"),
    ({"threshold": "-5"}, "threshold", "whole number above 0"),
    ({"threshold": "ten"}, "threshold", "whole number above 0"),
    ({"threshold": "1.5"}, "threshold", "whole number above 0"),
    ({"threshold": str(2**63)}, "threshold", "at most 9,223,372,036,854,775,807"),
    (
        {"source": "StorageBytes", "condition": "projected-above", "window": "month"},
        "condition",
        "no month projection",
    ),
    ({"condition": "spike", "window": "day", "threshold": "0"}, "threshold", "1 to 1000"),
    ({"condition": "spike", "window": "day", "threshold": "1001"}, "threshold", "1 to 1000"),
    ({"condition": "spike", "window": "month", "threshold": "50"}, "window", "last full day"),
    ({"condition": "projected-above", "window": "7d"}, "window", "calendar month"),
    ({"emails": "not-an-email"}, "emails", "is not an email address"),
    ({"emails": "ops@example.com, <b>x</b>@example"}, "emails", "is not an email address"),
    ({"emails": "", "webhook_url": ""}, "emails", "Give an email address or a webhook URL"),
    ({"webhook_url": "http://hooks.example.com/x"}, "webhook_url", "must start with https://"),
    ({"webhook_url": "https://10.1.2.3/hook"}, "webhook_url", "private addresses"),
    ({"webhook_url": "https://127.0.0.1:8443/hook"}, "webhook_url", "private addresses"),
    ({"webhook_url": "https://[::1]/hook"}, "webhook_url", "private addresses"),
    # Every form a resolver reads as loopback, and IPv6 addresses that carry one.
    *(
        ({"webhook_url": f"https://{host}/hook"}, "webhook_url", "private addresses")
        for host in (
            "127.1",
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "0",
            "0x7f.1",
            "①②⑦.0.0.1",
            "127。0。0。1",
            "[64:ff9b::7f00:1]",
            "[2002:7f00:1::]",
            "[::127.0.0.1]",
            "[::ffff:10.0.0.1]",
            "[64:ff9b:1::a00:1]",
            "[::ffff:0:10.0.0.1]",
            "localhost.",
        )
    ),
    ({"webhook_url": "https://bad\u00ad..host/hook"}, "webhook_url", "cannot be read"),
    ({"webhook_url": "https://localhost/hook"}, "webhook_url", "private addresses"),
    ({"webhook_url": "https://169.254.169.254/latest"}, "webhook_url", "private addresses"),
    ({"webhook_url": "https://u:p@hooks.example.com/"}, "webhook_url", "user name or password"),
    ({"webhook_url": "https://hooks.example.com:99999/"}, "webhook_url", "cannot be read"),
    ({"source": "Bogus"}, "source", "Unknown source"),
    ({"window": "year"}, "window", "Unknown window"),
    ({"condition": "below"}, "condition", "Unknown condition"),
    ({"tenant": ""}, "tenant", "Choose the tenant"),
    ({"tenant": "nobody"}, "tenant", "Choose the tenant"),
]


@pytest.mark.parametrize(("changes", "field", "words"), BAD)
def test_a_bad_value_is_a_400_with_the_message_beside_its_field(app, staff, changes, field, words):
    sent = {**GOOD, **changes}
    answer = staff.post("/alerts/new", data=sent)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    message = field_error(page, field)
    assert message is not None and words in message, page[:3000]
    # The field is marked and points at its message; the rest of the form is kept as sent.
    marked = re.search(rf'<(?:input|select|textarea) id="{field}"[^>]*>', page)
    assert marked and 'aria-invalid="true"' in marked[0]
    assert f"{field}-error" in marked[0]
    assert "<b>x</b>" not in page  # sent text is escaped wherever it is shown
    if sent["emails"]:
        assert unescape(sent["emails"].split("\n")[0]) in unescape(page)
    assert rules(app) == []


def test_a_bad_change_leaves_the_rule_as_it_was(app, staff):
    rule_id = add_rule(app)
    answer = staff.post(f"/alerts/{rule_id}/edit", data={**GOOD, "threshold": "0"})
    assert answer.status_code == 400
    assert field_error(answer.get_data(as_text=True), "threshold")
    assert rules(app)[0].threshold == 10_000


def test_http_and_loopback_webhooks_are_allowed_in_demo_mode(app_config, tmp_path, people):
    from flask_migrate import upgrade

    demo = build_app(
        {**app_config, "USAGE_DEMO": "on", "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    )
    try:
        with demo.app_context():
            upgrade()
        from core.extensions import db
        from models import Tenant, User

        with demo.app_context():
            tenant = Tenant(name="acme")
            user = User(email=STAFF, role="staff")
            user.set_password("correct horse battery")
            db.session.add_all([tenant, user])
            db.session.commit()
        client = demo.test_client()
        assert client.post("/login", data={"email": STAFF, "password": "correct horse battery"})
        form = client.get("/alerts/new").get_data(as_text=True)
        assert "demo mode: http:// and loopback too" in form
        hook = "http://127.0.0.1:8765/hook"
        answer = client.post("/alerts/new", data={**GOOD, "emails": "", "webhook_url": hook})
        assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
        assert [r.webhook_url for r in rules(demo)] == [hook]
    finally:
        demo.extensions["upstreams"].http.close()


# -- who may: customers are refused everything and change nothing --------------------------

ROUTES = [
    ("get", "/alerts"),
    ("get", "/alerts?tenant=acme"),
    ("get", "/alerts/new"),
    ("post", "/alerts/new"),
    ("get", "/alerts/{id}/edit"),
    ("post", "/alerts/{id}/edit"),
    ("post", "/alerts/{id}/disable"),
    ("post", "/alerts/{id}/enable"),
    ("get", "/alerts/{id}/delete"),
    ("post", "/alerts/{id}/delete"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_customers_get_403_on_every_alerts_route_and_change_nothing(app, customer, method, path):
    rule_id = add_rule(app)
    before = [(r.id, r.threshold, r.enabled, r.emails) for r in rules(app)]
    data = {**GOOD, "threshold": "1"} if method == "post" else None
    answer = getattr(customer, method)(path.format(id=rule_id), data=data)
    assert answer.status_code == 403
    assert "ops@example.com" not in answer.get_data(as_text=True)
    assert [(r.id, r.threshold, r.enabled, r.emails) for r in rules(app)] == before


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_signed_out_visitors_are_sent_to_sign_in(app, people, client, method, path):
    rule_id = add_rule(app)
    answer = getattr(client, method)(path.format(id=rule_id), data=GOOD)
    assert answer.status_code == 302
    assert "/login" in answer.headers["Location"]
    assert len(rules(app)) == 1 and rules(app)[0].threshold == 10_000
    htmx = getattr(client, method)(path.format(id=rule_id), headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and "HX-Redirect" in htmx.headers


@pytest.mark.parametrize("missing", ["999", "0", str(2**63), "9" * 40])
def test_a_missing_rule_is_a_404_for_staff(staff, missing):
    # Past the database's integers too: no row, never an overflow.
    for path in (f"/alerts/{missing}/edit", f"/alerts/{missing}/delete"):
        assert staff.get(path).status_code == 404
    for action in ("disable", "enable", "delete"):
        assert staff.post(f"/alerts/{missing}/{action}").status_code == 404


# -- CSRF --------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(app_config, tmp_path):
    from flask_migrate import upgrade

    from core.extensions import db
    from models import Tenant, User

    application = build_app(
        {
            **app_config,
            "WTF_CSRF_ENABLED": True,
            "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'csrf.sqlite'}",
        }
    )
    with application.app_context():
        upgrade()
        user = User(email=STAFF, role="staff")
        user.set_password("correct horse battery")
        db.session.add_all([Tenant(name="acme"), user])
        db.session.commit()
    yield application
    application.extensions["upstreams"].http.close()


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


def test_every_change_needs_the_csrf_token(csrf_app):
    client = csrf_app.test_client()
    token = token_of(client.get("/login").get_data(as_text=True))
    signed_in = client.post(
        "/login",
        data={"email": STAFF, "password": "correct horse battery", "csrf_token": token},
    )
    assert signed_in.status_code == 302

    assert client.post("/alerts/new", data=GOOD).status_code == 400
    assert client.post("/alerts/new", data={**GOOD, "csrf_token": "forged"}).status_code == 400
    assert rules(csrf_app) == []

    form = client.get("/alerts/new").get_data(as_text=True)
    added = client.post("/alerts/new", data={**GOOD, "csrf_token": token_of(form)})
    assert added.status_code == 303
    (rule,) = rules(csrf_app)

    for action in ("disable", "delete"):
        assert client.post(f"/alerts/{rule.id}/{action}").status_code == 400
    assert rules(csrf_app)[0].enabled
    listing = client.get("/alerts").get_data(as_text=True)
    assert listing.count('name="csrf_token"') >= 1  # each row's button form carries it
    assert (
        client.post(
            f"/alerts/{rule.id}/disable", data={"csrf_token": token_of(listing)}
        ).status_code
        == 303
    )
    assert not rules(csrf_app)[0].enabled


# -- the delivery log -------------------------------------------------------------------


def test_every_bad_field_is_said_at_once_beside_its_field(app, staff):
    bad = {
        **GOOD,
        "tenant": "nosuch",
        "threshold": "abc",
        "emails": "bad-address",
        "webhook_url": "ftp://x",
    }
    answer = staff.post("/alerts/new", data=bad)
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "Choose the tenant" in field_error(html, "tenant")
    assert "whole number above 0" in field_error(html, "threshold")
    assert "is not an email address" in field_error(html, "emails")
    # The summary names each, in the form's order, and the first bad field takes focus.
    summary = re.search(r'role="alert">(.*?)</div>', html, re.S)[1]
    links = re.findall(r'<a href="#(\w+)">', summary)
    assert links == ["tenant", "threshold", "emails", "webhook_url"]
    assert re.findall(r'<(?:input|select|textarea)[^>]*\bautofocus\b[^>]*>', html) == [
        re.search(r'<select id="tenant"[^>]*>', html)[0]
    ]
    assert "must start with https://" in field_error(html, "webhook_url")
    assert rules(app) == []


def test_a_rule_changed_to_watch_something_else_may_fire_again_in_its_window(app, staff):
    from core.extensions import db
    from models import AlertFiring, Delivery
    from services.deliveries import add_email

    rule_id = add_rule(app, last_value=12_000.0)
    with app.app_context():
        firing = AlertFiring(rule_id=rule_id, window_key="2026-12", condition="above", value=12e3)
        db.session.add(firing)
        db.session.flush()
        add_email(rules(app)[0].tenant_id, "ops@example.com", "s", "t", "", firing_id=firing.id)
        db.session.commit()

    def firings() -> int:
        with app.app_context():
            return len(db.session.scalars(select(AlertFiring)).all())

    whom = {**GOOD, "emails": "cfo@example.com"}  # tells someone else: the same watch
    assert staff.post(f"/alerts/{rule_id}/edit", data=whom).status_code == 303
    assert (firings(), rules(app)[0].last_value) == (1, 12_000.0)

    higher = {**whom, "threshold": "15000"}  # watches something else: starts afresh
    assert staff.post(f"/alerts/{rule_id}/edit", data=higher).status_code == 303
    assert (firings(), rules(app)[0].last_value) == (0, None)
    with app.app_context():  # what it sent stays in the log
        assert db.session.scalars(select(Delivery.firing_id)).all() == [None]


def test_a_rules_webhook_is_shown_without_its_query(app, staff):
    rule_id = add_rule(app, webhook_url="https://hooks.example.com/usage?token=R3CEIVER#x")
    page = staff.get("/alerts").get_data(as_text=True)
    assert "webhook https://hooks.example.com/usage?…" in " ".join(text(page).split())
    assert "R3CEIVER" not in page

    # The edit form shows it hidden too; sent back as shown, the stored URL stays.
    form = staff.get(f"/alerts/{rule_id}/edit").get_data(as_text=True)
    assert "R3CEIVER" not in form
    assert 'value="https://hooks.example.com/usage?…"' in form
    kept = {**GOOD, "threshold": "20000", "webhook_url": "https://hooks.example.com/usage?…"}
    assert staff.post(f"/alerts/{rule_id}/edit", data=kept).status_code == 303
    assert rules(app)[0].webhook_url == "https://hooks.example.com/usage?token=R3CEIVER#x"
    changed = {**kept, "webhook_url": "https://hooks.example.com/other?token=NEW"}
    assert staff.post(f"/alerts/{rule_id}/edit", data=changed).status_code == 303
    assert rules(app)[0].webhook_url == "https://hooks.example.com/other?token=NEW"


def test_the_delivery_log_shows_each_delivery_and_its_attempts(app, staff):
    from core.extensions import db
    from models import DeliveryAttempt, Tenant
    from services.deliveries import add_email, add_webhook

    now = datetime.now(UTC)
    with app.app_context():
        acme, initech = (
            db.session.scalar(select(Tenant).where(Tenant.name == n)) for n in ("acme", "initech")
        )
        mail = add_email(
            acme.id, "ops@example.com", "acme: AI minutes above 10,000", "t", "<p>h</p>"
        )
        hook = add_webhook(
            acme.id, "https://hooks.example.com/usage?token=R3CEIVER", {"secret": "payload-only"}
        )
        other = add_email(initech.id, "it@initech.example", "initech: report", "t", "")
        db.session.flush()
        mail.state, mail.attempts, mail.sent_at = "sent", 1, now
        mail.attempt_log.append(DeliveryAttempt(at=now, status="sent", duration_ms=42))
        hook.attempts, hook.next_attempt_at = 2, now + timedelta(minutes=10)
        hook.last_error = "HTTP 500"
        hook.attempt_log.extend(
            [
                DeliveryAttempt(at=now - timedelta(minutes=2), status="HTTP 500", error="HTTP 500"),
                DeliveryAttempt(at=now, status="timeout", error="no answer in 10 s"),
            ]
        )
        other.state = "failed"
        db.session.commit()

    page = staff.get("/alerts").get_data(as_text=True)
    rows = {text(r[0]).split(" · ")[0].strip(): r for r in body_rows(page, "deliveries")}
    assert len(rows) == 3
    sent = rows["acme: AI minutes above 10,000"]
    assert [text(c).split() for c in sent[1:4]] == [["acme"], ["email"], ["ops@example.com"]]
    assert text(sent[4]).startswith("sent")
    assert "sent" in text(sent[5]) and "42 ms" in text(sent[5])
    (webhook,) = [r for key, r in rows.items() if key.startswith("Webhook post ")]
    # A webhook URL's query often holds the receiver's token: never shown, as in the CLI.
    assert text(webhook[3]).strip() == "https://hooks.example.com/usage?…"
    assert "R3CEIVER" not in page
    assert "pending, next try" in text(webhook[4])
    attempts = " ".join(text(webhook[5]).split())
    assert (
        attempts.startswith("2")
        and "HTTP 500" in attempts
        and "timeout: no answer in 10 s" in attempts
    )
    assert "payload-only" not in page  # a webhook's body is the receiver's, not the log's
    assert "failed" in text(rows["initech: report"][4])

    only_initech = staff.get("/alerts?tenant=initech").get_data(as_text=True)
    assert len(body_rows(only_initech, "deliveries")) == 1
