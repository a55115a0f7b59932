"""Every error status renders the app's own page (or fragment for htmx), never a traceback."""

from __future__ import annotations

import pytest

from simulators.data import EVOVOICE_SERVICE_USER

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


def test_too_many_refreshes_keep_the_results_instead_of_an_error_page(customer):
    for _ in range(3):
        customer.post("/usage/refresh?preset=7d")
    plain = customer.post("/usage/refresh?preset=7d")
    assert plain.status_code == 303 and plain.headers["Location"].startswith("/usage?")
    swapped = customer.post("/usage/refresh?preset=7d", headers={"HX-Request": "true"})
    body = swapped.get_data(as_text=True)
    assert swapped.status_code == 200
    assert 'class="notice error"' not in body and "data-refresh-wait" in body


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


# --- an upstream 400 is the dashboard's or the upstream's fault: 502, with its words ---------

HOSTILE = (
    "<script>alert(1)</script> bad value \x1b[31m for key aik_v1_"
    + "K" * 40
    + " please fix "
    + "x" * 600
)


def upstream_400(sims, target, field):
    sims.state.add_fault(target, "400", message=HOSTILE, field=field)


def assert_upstream_400_shown(response, vendor, field, fragment=False):
    assert_own_page(response, 502, fragment)
    body = response.get_data(as_text=True)
    assert f"{vendor} refused the {field} parameter the dashboard sent" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; bad value [31m for key [redacted]" in body
    assert "<script>alert" not in body and "\x1b" not in body
    assert "aik_v1_KKKK" not in body
    assert "x" * 300 not in body  # capped
    assert "Try again" in body


@pytest.fixture
def widget(app, customer, embed_key):
    from datetime import timedelta

    from services.embed_tokens import mint

    def url(kind):
        return f"/embed/{kind}?token={mint(embed_key('acme'), ttl=timedelta(minutes=5))}"

    return url


def test_an_isnotai_400_is_a_502_with_its_field_and_message(customer, sims, widget, caplog):
    upstream_400(sims, "isnotai", "metric")
    fragment = {"HX-Request": "true"}
    assert_upstream_400_shown(customer.get("/usage?preset=7d"), "isnotai", "metric")
    assert_upstream_400_shown(
        customer.get("/usage?preset=7d", headers=fragment), "isnotai", "metric", fragment=True
    )
    assert_upstream_400_shown(customer.get("/usage/metrics.csv?preset=7d"), "isnotai", "metric")
    widget_page = customer.application.test_client().get(widget("metrics"))
    assert widget_page.status_code == 502
    assert "isnotai refused the metric parameter" in widget_page.get_data(as_text=True)
    logged = [r.getMessage() for r in caplog.records if "refused the metric" in r.getMessage()]
    assert logged and all("aik_v1_KKKK" not in m and "\x1b" not in m for m in logged)
    assert "code VALIDATION_ERROR, field metric, HTTP 400" in logged[0]


def test_an_evovoice_400_is_a_502_on_every_surface(
    customer, sims, widget, make_user, login, caplog
):
    upstream_400(sims, "evovoice", "accountId")
    assert_upstream_400_shown(customer.get("/usage?preset=7d"), "EvoVoice", "accountId")
    assert_upstream_400_shown(
        customer.get("/usage/ai-minutes.csv?preset=7d"), "EvoVoice", "accountId"
    )
    widget_page = customer.application.test_client().get(widget("ai-minutes"))
    assert widget_page.status_code == 502
    assert "EvoVoice refused the accountId parameter" in widget_page.get_data(as_text=True)
    make_user("staff@example.com", role="staff")
    staff = login(customer.application.test_client(), "staff@example.com")
    assert_upstream_400_shown(staff.get("/staff?preset=7d"), "EvoVoice", "accountId")
    assert_upstream_400_shown(
        staff.get("/staff?preset=7d", headers={"HX-Request": "true"}),
        "EvoVoice",
        "accountId",
        fragment=True,
    )
    for export in ("/staff/accounts.csv?preset=7d", "/staff/customers.csv?preset=7d"):
        assert_upstream_400_shown(staff.get(export), "EvoVoice", "accountId")
    assert staff.get("/staff/accounts/options?q=a").status_code == 502
    assert any("EvoVoice refused the accountId" in r.getMessage() for r in caplog.records)


def test_an_upstream_400_without_details_still_says_whose_fault(customer, sims):
    sims.state.add_fault("evovoice", "400")
    page = customer.get("/usage?preset=7d")
    assert page.status_code == 502
    assert "EvoVoice refused the request the dashboard sent" in page.get_data(as_text=True)


def test_an_evovoice_400_never_quotes_the_service_password(customer, sims, caplog):
    # On a session cookie the password is not in the refused request, yet an upstream
    # could still echo it back.
    password = EVOVOICE_SERVICE_USER[1]
    sims.state.add_fault("evovoice", "400", message=f"bad login {password} here", field="x")
    page = customer.get("/usage?preset=7d")
    assert page.status_code == 502
    body = page.get_data(as_text=True)
    assert "bad login [redacted] here" in body and password not in body
    assert not [r for r in caplog.records if password in r.getMessage()]


# --- 404 and 405 lead on ----------------------------------------------------------------


def way_on(response) -> list[tuple[str, str]]:
    """Return the (href, words) of the links a page offers after an error."""
    import re

    body = response.get_data(as_text=True)
    nav = re.search(r'<nav class="way-on"[^>]*>(.*?)</nav>', body, re.S)
    assert nav, "the page offers no way on"
    return re.findall(r'<a[^>]*href="([^"]*)"[^>]*>([^<]*)</a>', nav[1])


def test_a_404_says_what_happened_and_leads_to_the_dashboard(customer):
    response = customer.get("/no-such-page")
    assert_own_page(response, 404)
    body = response.get_data(as_text=True)
    assert "<h1>Page not found</h1>" in body and "<title>404 Page not found" in body
    assert "There is no page at this address." in body
    assert way_on(response) == [("/", "Go to your dashboard")]


def test_a_404_when_signed_out_leads_to_sign_in(client):
    response = client.get("/no-such-page")
    assert_own_page(response, 404)
    assert way_on(response) == [("/login", "Sign in")]


def test_a_404_leads_back_to_a_previous_page_of_this_site(customer):
    response = customer.get(
        "/no-such-page", headers={"Referer": "http://localhost/usage?preset=7d&metric=Events"}
    )
    assert way_on(response) == [
        ("/usage?preset=7d&amp;metric=Events", "Back to the previous page"),
        ("/", "Go to your dashboard"),
    ]


@pytest.mark.parametrize(
    "referer",
    [
        "https://evil.example/usage",
        "http://localhost.evil.example/usage",
        "https://localhost/usage",  # another scheme is another origin
        "http://localhost//evil.example/",
        "http://localhost/%2F%2Fevil.example",
        "http://localhost/no-such-page",  # the page itself is no way back
        "javascript:alert(1)",
        "not a url",
    ],
)
def test_the_back_link_is_only_ever_a_path_of_this_site(customer, referer):
    response = customer.get("/no-such-page", headers={"Referer": referer})
    assert way_on(response) == [("/", "Go to your dashboard")]


@pytest.mark.parametrize(
    ("who", "address", "page", "name"),
    [
        ("customer", "/usage/refresh?preset=7d", "/usage?preset=7d", "Usage"),
        ("staff", "/staff/refresh", "/staff", "Staff"),
    ],
)
def test_opening_a_buttons_address_leads_to_its_page(
    client, make_tenant, make_user, login, who, address, page, name
):
    if who == "customer":
        make_tenant("acme", integration="acme", account="acct-northwind")
        make_user("acme@example.com", tenant="acme")
        login(client, "acme@example.com")
    else:
        make_user("staff@example.com", role="staff")
        login(client, "staff@example.com")
    response = client.get(address)
    assert_own_page(response, 405)
    assert "POST" in response.headers["Allow"]
    body = response.get_data(as_text=True)
    assert "<h1>Not a page to open</h1>" in body
    assert f"pressing Refresh on the {name} page" in body
    assert way_on(response)[0] == (page, f"Go to the {name} page")


def test_another_method_refused_says_so_plainly(customer):
    response = customer.post("/usage")
    assert_own_page(response, 405)
    body = response.get_data(as_text=True)
    # /usage is a page: it is never called "not a page", only not a POST.
    assert "<h1>Not a request this address takes</h1>" in body
    assert "This address is a page: it is opened, not sent a form or an action" in body
    assert ("/usage", "Open this page") in way_on(response)
    assert ("/", "Go to your dashboard") in way_on(response)


def test_htmx_gets_only_the_notice(customer):
    response = customer.get("/no-such-page", headers={"HX-Request": "true"})
    assert_own_page(response, 404, fragment=True)
    assert "way-on" not in response.get_data(as_text=True)
