"""The demo's SMTP sink: real SMTP on loopback in, /demo/mail out (staff, demo mode only)."""

from __future__ import annotations

import logging
import re
import smtplib
import socket
from email.message import EmailMessage
from html import unescape

import pytest
from sqlalchemy import select

from ..conftest import build_app

STAFF = ("staff@example.com", "correct horse battery")
CUSTOMER = ("acme@example.com", "correct horse battery")
HOSTILE_HTML = (
    '<html><body><h1 style="color:#b42318">AI minutes above 10,000</h1>'
    '<script>window.parent.document.title="owned"</script>'
    '<img src="https://tracker.example/pixel.gif" alt="">'
    '<p onclick="alert(1)">72 % reached</p></body></html>'
)


def make_app(app_config, tmp_path, demo: str, name: str = "mail"):
    from flask_migrate import upgrade

    from core.extensions import db
    from models import Tenant, User

    application = build_app(
        {
            **app_config,
            "USAGE_DEMO": demo,
            "USAGE_DEMO_SMTP_PORT": 0,
            "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / f'{name}.sqlite'}",
        }
    )
    with application.app_context():
        upgrade()
        tenant = Tenant(name="acme")
        db.session.add(tenant)
        for (email, password), role in ((STAFF, "staff"), (CUSTOMER, "customer")):
            user = User(email=email, role=role, tenant=tenant if role == "customer" else None)
            user.set_password(password)
            db.session.add(user)
        db.session.commit()
    return application


@pytest.fixture
def demo_app(app_config, tmp_path):
    application = make_app(app_config, tmp_path, "on")
    yield application
    sink = application.extensions.get("demo_mail_sink")
    if sink is not None:
        sink.stop()
    application.extensions["upstreams"].http.close()


@pytest.fixture
def plain_app(app_config, tmp_path):
    application = make_app(app_config, tmp_path, "off", "plain")
    yield application
    application.extensions["upstreams"].http.close()


def sign_in(application, who):
    client = application.test_client()
    email, password = who
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    return client


def send(port: int, subject: str, *, html: str | None = HOSTILE_HTML) -> None:
    message = EmailMessage()
    message["From"] = "Usage dashboard <usage@localhost>"
    message["To"] = "ops@example.com, finance@example.com"
    message["Subject"] = subject
    message.set_content("AI minutes above 10,000 this month: 72 % reached.\nhttp://x/usage")
    if html is not None:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def test_mail_sent_over_smtp_is_stored_and_shown_to_staff(demo_app):
    from demo.mail_sink import start_sink
    from models import DemoMail

    sink = start_sink(demo_app)
    assert sink is not None
    port = demo_app.extensions["demo_smtp_port"]
    assert port > 0 and sink.port == port
    send(port, "acme: AI minutes above 10,000 — 72 %")
    send(port, "acme: weekly report", html=None)

    with demo_app.app_context():
        from core.extensions import db

        stored = db.session.scalars(select(DemoMail).order_by(DemoMail.id)).all()
        assert [m.subject for m in stored] == [
            "acme: AI minutes above 10,000 — 72 %",
            "acme: weekly report",
        ]
        assert stored[0].mail_from == "usage@localhost"
        assert stored[0].rcpt_to.splitlines() == ["ops@example.com", "finance@example.com"]
        first = stored[0].id

    page = sign_in(demo_app, STAFF).get("/demo/mail")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    subjects = re.findall(r'<h2 id="mail-\d+-subject">(.*?)</h2>', html)
    assert [unescape(s) for s in subjects] == [
        "acme: weekly report",  # newest first
        "acme: AI minutes above 10,000 — 72 %",
    ]
    assert "ops@example.com, finance@example.com" in html
    assert "72 % reached." in html  # the text part
    # The HTML part is never in the page itself: a sandboxed frame loads it from its own URL.
    assert "<script>window.parent" not in html and "tracker.example" not in html
    frames = re.findall(r'<iframe class="mail-html" src="([^"]+)" sandbox=""', html)
    assert frames == [f"/demo/mail/{first}/html"]  # the report had no HTML part

    part = sign_in(demo_app, STAFF).get(frames[0])
    assert part.status_code == 200
    assert part.headers["Content-Type"].startswith("text/html")
    policy = part.headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "sandbox", "frame-ancestors 'self'"):
        assert directive in policy
    assert "script-src" not in policy  # falls back to 'none'
    assert part.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "AI minutes above 10,000" in part.get_data(as_text=True)

    # An id past the database's integers is no message, not an overflow.
    assert sign_in(demo_app, STAFF).get(f"/demo/mail/{2**63}/html").status_code == 404

    # Every other page still refuses to be framed.
    assert sign_in(demo_app, STAFF).get("/demo/mail").headers["X-Frame-Options"] == "DENY"


def test_only_staff_read_demo_mail(demo_app):
    customer = sign_in(demo_app, CUSTOMER)
    assert customer.get("/demo/mail").status_code == 403
    assert customer.get("/demo/mail/1/html").status_code == 403
    anonymous = demo_app.test_client().get("/demo/mail")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_outside_demo_mode_there_is_no_sink_and_no_page(plain_app):
    from demo.mail_sink import start_sink

    assert start_sink(plain_app) is None
    assert "demo_smtp_port" not in plain_app.extensions
    staff = sign_in(plain_app, STAFF)
    assert staff.get("/demo/mail").status_code == 404
    assert staff.get("/demo/mail/1/html").status_code == 404
    assert "Demo mail" not in staff.get("/alerts").get_data(as_text=True)


def test_a_port_in_use_is_logged_once_and_the_app_goes_on(app_config, tmp_path, caplog):
    from demo.mail_sink import start_sink

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        application = build_app(
            {
                **app_config,
                "USAGE_DEMO": "on",
                "USAGE_DEMO_SMTP_PORT": port,
                "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'busy.sqlite'}",
            }
        )
        try:
            with caplog.at_level(logging.WARNING, logger="demo.mail_sink"):
                assert start_sink(application) is None
            warnings = [r for r in caplog.records if r.name == "demo.mail_sink"]
            assert len(warnings) == 1
            assert str(port) in warnings[0].getMessage()
            assert "demo_mail_sink" not in application.extensions
        finally:
            application.extensions["upstreams"].http.close()
