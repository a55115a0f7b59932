"""Browser security headers and CSRF on htmx requests."""

from __future__ import annotations

import re

import pytest


def directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()
    }


def test_every_page_has_a_strict_policy(client):
    for url in ("/login", "/nope", "/healthz"):
        response = client.get(url)
        csp = directives(response)
        assert csp["default-src"] == "'self'"
        assert csp["script-src"] == "'self'"  # no unsafe-inline, no unsafe-eval
        assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
        assert csp["form-action"] == "'self'"
        assert "unsafe" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]
        assert "Strict-Transport-Security" not in response.headers


def test_no_inline_script_or_handler_in_any_template():
    from pathlib import Path

    for template in Path(__file__).resolve().parent.parent.joinpath("templates").rglob("*.html"):
        text = template.read_text()
        for attributes in re.findall(r"<script([^>]*)>", text):
            assert "src=" in attributes or 'type="application/json"' in attributes, template
        assert not re.search(r"\son[a-z]+=", text), template
        assert "hx-on" not in text and "js:" not in text, template
        assert " style=" not in text, template


def test_https_mode_redirects_and_sends_hsts(app_config):
    from app import create_app

    app = create_app({**app_config, "USAGE_HTTPS": True})
    client = app.test_client()
    plain = client.get("/login")
    assert plain.status_code in (301, 302) and plain.headers["Location"].startswith("https://")
    secure = client.get("/login", base_url="https://dash.example")
    assert "max-age=31536000" in secure.headers["Strict-Transport-Security"]
    assert client.get("/healthz").status_code == 200  # probes stay on http


@pytest.fixture
def csrf_app(app_config):
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    with app.app_context():
        upgrade()
    return app


def test_htmx_requests_send_the_csrf_token_as_a_header(csrf_app):
    from core.extensions import db
    from models import Tenant, User

    with csrf_app.app_context():
        tenant = Tenant(name="acme", evovoice_account_id="acct-northwind")
        user = User(email="a@example.com", role="customer", tenant=tenant)
        user.set_password("correct horse battery")
        db.session.add_all([tenant, user])
        db.session.commit()
    client = csrf_app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    client.post(
        "/login",
        data={"email": "a@example.com", "password": "correct horse battery", "csrf_token": token},
    )
    page = client.get("/usage?preset=7d").get_data(as_text=True)
    header_token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)[1]
    refused = client.post("/usage/refresh?preset=7d", headers={"HX-Request": "true"})
    assert refused.status_code == 400 and "security token" in refused.get_data(as_text=True)
    accepted = client.post(
        "/usage/refresh?preset=7d", headers={"HX-Request": "true", "X-CSRFToken": header_token}
    )
    assert accepted.status_code == 200
