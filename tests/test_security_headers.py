"""Browser security headers and CSRF on htmx requests."""

from __future__ import annotations

import re

import pytest

from blueprints.assets import vendor_version


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
        # Mail is never served under the CSP, and mail clients drop <style>: inline styles.
        if template.parent.name != "mail":
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


# -- nothing personal is cached: every signed-in answer is `private, no-store` -------------

HX = {"HX-Request": "true"}
# Signed in as (customer | staff), method, path, query, headers.
PERSONAL = [
    ("customer", "GET", "/", {}, {}),
    ("customer", "GET", "/login", {}, {}),
    ("customer", "GET", "/usage", {"preset": "7d"}, {}),
    ("customer", "GET", "/usage", {"preset": "7d"}, HX),
    ("customer", "GET", "/usage", {"granularity": "hour"}, {}),
    ("customer", "GET", "/usage/metrics.csv", {"preset": "7d"}, {}),
    ("customer", "GET", "/usage/ai-minutes.csv", {"preset": "7d"}, {}),
    ("customer", "POST", "/usage/refresh", {"preset": "7d"}, {}),
    ("customer", "POST", "/usage/refresh", {"preset": "7d"}, HX),
    ("customer", "GET", "/staff", {}, {}),  # 403
    ("customer", "GET", "/nope", {}, {}),  # 404
    ("staff", "GET", "/", {}, {}),
    ("staff", "GET", "/usage", {}, {}),
    ("staff", "GET", "/usage", {"tenant": "acme", "preset": "7d"}, {}),
    ("staff", "GET", "/usage/ai-minutes.csv", {"tenant": "acme", "preset": "7d"}, {}),
    ("staff", "GET", "/staff", {"preset": "7d"}, {}),
    ("staff", "GET", "/staff", {"preset": "7d"}, HX),
    ("staff", "GET", "/staff/tenants", {}, {}),
    ("staff", "GET", "/staff/accounts/options", {"q": "acct"}, HX),
    ("staff", "GET", "/staff/customers/options", {"q": "c"}, HX),
    ("staff", "GET", "/staff/accounts.csv", {"preset": "7d"}, {}),
    ("staff", "GET", "/staff/customers.csv", {"preset": "7d"}, {}),
    ("staff", "POST", "/staff/refresh", {"preset": "7d"}, HX),
    ("staff", "GET", "/alerts", {}, {}),
    ("staff", "GET", "/alerts/new", {"tenant": "acme"}, {}),
    ("staff", "POST", "/alerts/new", {}, {}),  # 400: the form, with what is missing
    ("staff", "GET", "/alerts/1/edit", {}, {}),  # 404 from here: no rule 1
    ("staff", "POST", "/alerts/1/enable", {}, {}),
    ("staff", "POST", "/alerts/1/disable", {}, {}),
    ("staff", "GET", "/alerts/1/delete", {}, {}),
    ("customer", "GET", "/alerts", {}, {}),  # 403
    ("staff", "GET", "/demo/mail", {}, {}),  # 404 outside demo mode
    ("staff", "GET", "/demo/mail/1/html", {}, {}),
]
# Endpoints that never answer per signed-in user (widgets carry their own no-store; signing
# out answers someone no longer signed in).
NOT_PERSONAL = {
    "assets.vendor", "assets.static_file", "embed.metrics", "embed.ai_minutes",
    "embed_demo.host_page", "ops.healthz", "ops.readyz", "ops.metrics", "auth.logout",
}  # fmt: skip


@pytest.mark.parametrize(
    ("who", "method", "path", "query", "headers"),
    PERSONAL,
    ids=[f"{w} {m} {p}{' htmx' if h else ''} {q}" for w, m, p, q, h in PERSONAL],
)
def test_every_signed_in_answer_is_private_and_not_stored(
    signed_in, who, method, path, query, headers
):
    response = signed_in[who].open(path, method=method, query_string=query, headers=headers)
    assert response.status_code < 500
    assert response.headers.get("Cache-Control") == "private, no-store", response.status_code


def test_every_route_of_the_app_is_checked_above(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    checked = {
        app.url_map.bind("localhost").match(path, method=method)[0]
        for _, method, path, _, _ in PERSONAL
        if path != "/nope"
    }
    assert endpoints - NOT_PERSONAL == checked


def test_static_files_keep_their_long_caching_when_signed_in(app, signed_in):
    from flask import url_for

    with app.test_request_context():
        urls = [url_for("assets.static_file", filename="app.css", v="1")]
        urls.append(url_for("assets.vendor", version=vendor_version("htmx.js"), name="htmx.js"))
    for url in urls:
        response = signed_in["customer"].get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"].startswith("public, max-age=31536000"), url
