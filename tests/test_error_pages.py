"""Every error status renders the app's own page (or fragment for htmx), never a traceback."""

from __future__ import annotations

import pytest

MARKERS = ("Traceback", "Werkzeug", "werkzeug", "Internal Server Error</title>", 'File "')


@pytest.fixture
def broken(app):
    def explode():
        raise RuntimeError("secret internals: aik_v1_never_shown")

    app.add_url_rule("/_explode", "explode", explode)
    return app


@pytest.fixture
def customer(client, make_tenant, make_user, login):
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_user("acme@example.com", tenant="acme")
    return login(client, "acme@example.com")


def assert_own_page(response, status, fragment=False):
    body = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert 'class="notice error"' in body
    assert ("<html" in body) is not fragment
    for marker in MARKERS:
        assert marker not in body


def test_400_403_404_405(customer):
    assert_own_page(customer.get("/usage?granularity=hour"), 400)
    assert_own_page(customer.get("/nope"), 404)
    assert_own_page(customer.post("/usage"), 405)
    assert_own_page(
        customer.get("/usage?tenant=x&start=bad", headers={"HX-Request": "true"}), 400, True
    )


def test_403_for_a_login_without_tenant(client, make_user, login):
    make_user("orphan@example.com", role="customer")
    login(client, "orphan@example.com")
    assert_own_page(client.get("/usage"), 403)


def test_401_for_a_widget_without_token(client):
    response = client.get("/embed/metrics")
    assert response.status_code == 401
    assert "can't be shown" in response.get_data(as_text=True)


def test_429_for_too_many_refreshes(customer):
    for _ in range(3):
        customer.post("/usage/refresh?preset=7d")
    assert_own_page(customer.post("/usage/refresh?preset=7d"), 429)
    assert_own_page(
        customer.post("/usage/refresh?preset=7d", headers={"HX-Request": "true"}), 429, True
    )


def test_500_is_logged_not_shown(broken, caplog):
    response = broken.test_client().get("/_explode")
    assert_own_page(response, 500)
    assert "aik_v1_never_shown" not in response.get_data(as_text=True)
    assert any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(("kind", "status"), [("503", 502), ("timeout", 504), ("429", 503)])
def test_upstream_failures_answer_502_504_503(customer, sims, kind, status):
    sims.state.add_fault("isnotai-us", kind, hang_seconds=10 if kind == "timeout" else None)
    page = customer.get("/usage?preset=7d")
    assert page.status_code == status
    assert "Try again" in page.get_data(as_text=True)
    export = customer.get("/usage/metrics.csv?preset=7d")
    assert_own_page(export, status)


def test_csrf_failures_are_explained(app_config, tmp_path):
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    with app.app_context():
        upgrade()
    response = app.test_client().post("/usage/refresh")
    assert_own_page(response, 400)
    assert "security token" in response.get_data(as_text=True)
