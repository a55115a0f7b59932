"""Sign-in and sign-out: generic failures, rate limits, safe `next`, cookies, CSRF, htmx."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from blueprints import home
from blueprints.auth import CSRF_FAILED, FAILED_LOGIN, SIGNED_OUT, safe_next
from core.extensions import db
from models import Tenant, User

CUSTOMER = ("cust@example.com", "customer-password")
STAFF = ("staff@example.com", "staff-password")
TOO_MANY = re.compile(r"Too many sign-in attempts; try again in (\d+) minutes?")


def make_user(app, email: str, password: str, role: str = "customer") -> None:
    with app.app_context():
        tenant = None
        if role == "customer":
            tenant = db.session.scalar(select(Tenant).where(Tenant.name == "acme"))
            tenant = tenant or Tenant(name="acme", evovoice_account_id="acct-1")
        user = User(email=email, role=role, tenant=tenant)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()


@pytest.fixture
def users(app):
    make_user(app, *CUSTOMER)
    make_user(app, *STAFF, role="staff")


def login(client, email: str, password: str, *, address: str = "127.0.0.1", **form):
    return client.post(
        "/login",
        data={"email": email, "password": password, **form},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.fixture
def make_app(app_config):
    """Create extra apps (own database unless shared) and close them afterwards."""
    made = []

    def make(**overrides):
        application = create_app({**app_config, **overrides})
        with application.app_context():
            upgrade()
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["upstreams"].http.close()


# --- signing in ------------------------------------------------------------------------


def test_login_page_has_the_form_fields(client):
    page = client.get("/login").get_data(as_text=True)
    for field in ('name="email"', 'name="password"', 'name="csrf_token"', 'name="remember"'):
        assert field in page


@pytest.mark.parametrize(("credentials", "landing"), [(CUSTOMER, "/usage"), (STAFF, "/staff")])
def test_each_role_signs_in_and_lands_on_its_page(app, users, credentials, landing):
    client = app.test_client()
    response = login(client, *credentials)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home_page = client.get("/")
    assert home_page.status_code == 302
    assert home_page.headers["Location"] == landing


def test_email_is_matched_case_insensitively(app, users):
    response = login(app.test_client(), "  CUST@Example.com ", CUSTOMER[1])
    assert response.status_code == 302


def test_home_page_stays_when_the_landing_page_does_not_exist(app, users, monkeypatch):
    monkeypatch.setitem(home.LANDING, "customer", "missing.page")
    client = app.test_client()
    login(client, *CUSTOMER)
    response = client.get("/")
    assert response.status_code == 200
    assert CUSTOMER[0] in response.get_data(as_text=True)


def test_signed_in_user_visiting_login_is_sent_on(app, users):
    client = app.test_client()
    login(client, *CUSTOMER)
    assert client.get("/login").headers["Location"] == "/"
    assert client.get("/login?next=/usage").headers["Location"] == "/usage"


@pytest.mark.parametrize(
    "form",
    [
        {"email": "nobody@example.com", "password": "whatever-pass"},
        {"email": CUSTOMER[0], "password": "wrong-password"},
        {"email": CUSTOMER[0], "password": ""},
        {"email": "", "password": CUSTOMER[1]},
        {"email": "", "password": ""},
        {},
        {"email": CUSTOMER[0].upper(), "password": CUSTOMER[1].upper()},
    ],
)
def test_every_failure_gets_the_same_message_and_status(app, users, form):
    client = app.test_client()
    response = client.post("/login", data=form)
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert FAILED_LOGIN in page
    assert page.count('role="alert"') == 1
    assert client.get("/").status_code == 302  # still signed out


# --- rate limits ---------------------------------------------------------------------


def test_an_account_is_limited_per_address_after_five_failures(app, users):
    client = app.test_client()
    for _ in range(5):
        assert login(client, CUSTOMER[0], "wrong-password", address="10.0.0.1").status_code == 401
    limited = login(client, *CUSTOMER, address="10.0.0.1")  # even the right password
    assert limited.status_code == 429
    match = TOO_MANY.search(limited.get_data(as_text=True))
    assert match and match[1] == "15"
    assert 14 * 60 < int(limited.headers["Retry-After"]) <= 15 * 60
    assert client.get("/").status_code == 302  # not signed in

    # Other accounts from the same address are unaffected.
    assert login(client, *STAFF, address="10.0.0.1").status_code == 302


@pytest.mark.parametrize("credentials", [CUSTOMER, STAFF])
def test_an_attackers_failures_do_not_lock_the_owner_out(app, users, credentials):
    attacker, owner = app.test_client(), app.test_client()
    statuses = [
        login(attacker, credentials[0], "wrong-password", address="10.0.0.66").status_code
        for _ in range(8)
    ]
    assert statuses == [401] * 5 + [429] * 3
    assert login(attacker, *credentials, address="10.0.0.66").status_code == 429
    assert login(owner, *credentials, address="10.0.0.7").status_code == 302


def test_failures_spread_over_addresses_lock_the_account(app, users):
    client = app.test_client()
    for attempt in range(50):
        address = f"10.3.{attempt // 4}.{attempt % 4}"
        assert login(client, CUSTOMER[0], "wrong-password", address=address).status_code == 401
    limited = login(client, *CUSTOMER, address="10.9.9.9")  # the owner, from a fresh address
    assert limited.status_code == 429
    assert 55 * 60 < int(limited.headers["Retry-After"]) <= 60 * 60
    assert login(client, *STAFF, address="10.9.9.9").status_code == 302  # other accounts: fine


def alert_text(response) -> str:
    """Return the words of the sign-in form's alert, tags and spacing left out."""
    page = response.get_data(as_text=True)
    match = re.search(r'<div id="login-error"[^>]*>(.*?)</div>', page, re.S)
    assert match, "the form has no alert"
    return " ".join(re.sub(r"<[^>]+>", " ", match[1]).split())


AT_CLOCK = r"\(at \d\d:\d\d UTC\)"


def test_a_warning_comes_before_sign_in_is_paused(app, users):
    client = app.test_client()
    said = [alert_text(login(client, CUSTOMER[0], "wrong", address="10.5.0.1")) for _ in range(5)]
    assert said[:2] == [FAILED_LOGIN] * 2
    pause = "before sign-in is paused for up to 15 minutes."
    assert said[2] == f"{FAILED_LOGIN} 2 attempts left {pause}"
    assert said[3] == f"{FAILED_LOGIN} 1 attempt left {pause}"
    assert re.fullmatch(
        rf"{FAILED_LOGIN} Sign-in is now paused; try again in 15 minutes {AT_CLOCK}\.", said[4]
    )
    paused = login(client, *CUSTOMER, address="10.5.0.1")
    assert paused.status_code == 429
    assert re.fullmatch(
        rf"Too many sign-in attempts; try again in 15 minutes {AT_CLOCK}\.", alert_text(paused)
    )


def test_unknown_and_known_emails_get_the_same_warnings(app, users):
    def answers(email: str, address: str) -> list[tuple[int, str]]:
        client = app.test_client()
        return [
            (response.status_code, re.sub(AT_CLOCK, "(at a time)", alert_text(response)))
            for response in (login(client, email, "wrong", address=address) for _ in range(6))
        ]

    assert answers(CUSTOMER[0], "10.6.0.1") == answers("ghost@example.com", "10.6.0.2")


def test_the_warning_uses_the_configured_limits(make_app, tmp_path):
    application = make_app(
        USAGE_DATABASE_URL=f"sqlite:///{tmp_path / 'configured.sqlite'}",
        LOGIN_LIMIT_PER_ACCOUNT_ADDRESS="3 per 10 minutes",
    )
    make_user(application, *CUSTOMER)
    response = login(application.test_client(), CUSTOMER[0], "wrong")
    assert alert_text(response) == (
        f"{FAILED_LOGIN} 2 attempts left before sign-in is paused for up to 10 minutes."
    )


def test_after_a_failure_focus_goes_to_the_password_named_by_the_alert(app, users):
    page = login(app.test_client(), CUSTOMER[0], "wrong").get_data(as_text=True)
    email = re.search(r'<input id="login-email"[^>]*>', page)[0]
    password = re.search(r'<input id="login-password"[^>]*>', page)[0]
    assert "autofocus" in password and "autofocus" not in email
    for field in (email, password):
        assert 'aria-invalid="true"' in field and 'aria-describedby="login-error"' in field
    assert f'value="{CUSTOMER[0]}"' in email
    fresh = app.test_client().get("/login").get_data(as_text=True)
    assert "autofocus" in re.search(r'<input id="login-email"[^>]*>', fresh)[0]
    assert "aria-invalid" not in fresh


def test_unknown_accounts_are_limited_the_same_way(app):
    client = app.test_client()
    statuses = [
        login(client, "ghost@example.com", "x-password", address="10.1.0.1").status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]


def test_address_is_limited_after_twenty_attempts(app, users):
    client = app.test_client()
    for attempt in range(20):
        response = login(client, f"guess{attempt}@example.com", "x-password", address="10.2.0.1")
        assert response.status_code == 401
    limited = login(client, *CUSTOMER, address="10.2.0.1")
    assert limited.status_code == 429
    assert TOO_MANY.search(limited.get_data(as_text=True))
    assert "Retry-After" in limited.headers

    # The same account from another address signs in: its own counter was never touched.
    assert login(client, *CUSTOMER, address="10.2.0.2").status_code == 302


def test_success_clears_the_account_counter_of_its_address(app, users):
    client = app.test_client()
    for _ in range(4):
        assert login(client, CUSTOMER[0], "wrong-password").status_code == 401
    assert login(client, *CUSTOMER).status_code == 302
    client.post("/logout")
    statuses = [login(client, CUSTOMER[0], "wrong-password").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


def test_limit_lifts_after_the_window(app, users, monkeypatch):
    client = app.test_client()
    for _ in range(5):
        login(client, CUSTOMER[0], "wrong-password")
    assert login(client, *CUSTOMER).status_code == 429
    for _ in range(10):  # refused attempts do not extend the lock
        assert login(client, *CUSTOMER).status_code == 429
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 15 * 60 + 1)
    assert login(client, *CUSTOMER).status_code == 302


def parallel_logins(app, forms: list[dict], address: str) -> list[int]:
    """Post every form at once from its own thread and client; return the statuses."""
    start = threading.Barrier(len(forms))

    def post(form: dict) -> int:
        client = app.test_client()
        start.wait()
        return client.post("/login", data=form, environ_base={"REMOTE_ADDR": address}).status_code

    with ThreadPoolExecutor(max_workers=len(forms)) as pool:
        return list(pool.map(post, forms))


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limited_app(request, make_app, tmp_path):
    """An app whose sign-in counters are in memory, or in Redis as several workers share."""
    overrides = {"USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'limits.sqlite'}"}
    if request.param == "redis":
        overrides["USAGE_CACHE_URL"] = request.getfixturevalue("redis_url")
    application = make_app(**overrides)
    make_user(application, *CUSTOMER)
    return application


def test_parallel_guesses_from_one_address_get_twenty_tries(limited_app):
    forms = [{"email": f"guess{i}@example.com", "password": "x-password"} for i in range(40)]
    statuses = parallel_logins(limited_app, forms, "10.4.0.1")
    assert sorted(statuses) == [401] * 20 + [429] * 20


def test_parallel_guesses_at_one_account_get_five_tries(limited_app):
    forms = [{"email": CUSTOMER[0], "password": f"guess-{i}"} for i in range(40)]
    statuses = parallel_logins(limited_app, forms, "10.4.0.2")
    assert sorted(statuses) == [401] * 5 + [429] * 35


@pytest.mark.redis
def test_workers_sharing_redis_share_the_counters(make_app, redis_url, tmp_path):
    shared = {
        "USAGE_CACHE_URL": redis_url,
        "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite'}",
    }
    first, second = make_app(**shared), make_app(**shared)
    make_user(first, *CUSTOMER)
    for _ in range(3):
        assert login(first.test_client(), CUSTOMER[0], "wrong-password").status_code == 401
    for _ in range(2):
        assert login(second.test_client(), CUSTOMER[0], "wrong-password").status_code == 401
    assert login(first.test_client(), *CUSTOMER).status_code == 429
    assert login(second.test_client(), *CUSTOMER).status_code == 429


# --- next ------------------------------------------------------------------------------

OPEN_REDIRECTS = [
    "//evil.example",
    "/\\evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "http://evil.example",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/%5Cevil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "%0a/evil",
    "\n/evil",
    "/\n/evil.example",
    " //evil.example",
    "///evil.example",
    "https://evil.example/usage",
    "//evil.example/%2F..",
]


@pytest.mark.parametrize("payload", OPEN_REDIRECTS)
@pytest.mark.parametrize("where", ["query", "form"])
def test_open_redirect_payloads_go_to_the_local_default(app, users, payload, where):
    client = app.test_client()
    data = {"email": CUSTOMER[0], "password": CUSTOMER[1]}
    if where == "form":
        response = client.post("/login", data={**data, "next": payload})
    else:
        response = client.post("/login", query_string={"next": payload}, data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("payload", OPEN_REDIRECTS)
def test_open_redirect_payloads_are_not_put_in_the_form(client, payload):
    page = client.get("/login", query_string={"next": payload}).get_data(as_text=True)
    assert 'name="next"' not in page


@pytest.mark.parametrize("payload", OPEN_REDIRECTS)
def test_safe_next_refuses(payload):
    assert safe_next(payload) is None


@pytest.mark.parametrize(
    "target", ["/usage?x=1", "/", "/usage?account=a%20b&q=%3Cscript%3E", "/staff#top"]
)
def test_safe_next_keeps_local_paths(target):
    assert safe_next(target) == target


def test_local_next_is_honoured(app, users):
    client = app.test_client()
    page = client.get("/login?next=/usage%3Fx%3D1").get_data(as_text=True)
    assert 'name="next" value="/usage?x=1"' in page
    response = login(client, *CUSTOMER, next="/usage?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/usage?x=1"


# --- unauthenticated requests ----------------------------------------------------------


def login_next(location: str) -> str:
    """Return the `next` of a sign-in page URL, asserting that it is the sign-in page."""
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path) == ("", "", "/login"), location
    return parse_qs(parts.query)["next"][0]


def test_browser_is_sent_to_login_with_next(app, users):
    client = app.test_client()
    response = client.get("/?tab=x")
    assert response.status_code == 302
    assert login_next(response.headers["Location"]) == "/?tab=x"
    # and the round trip lands back on the page asked for
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/?tab=x"' in page
    assert login(client, *CUSTOMER, next="/?tab=x").headers["Location"] == "/?tab=x"


def test_htmx_request_gets_401_with_hx_redirect(client):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert login_next(response.headers["HX-Redirect"]) == "/"
    assert "Location" not in response.headers


# --- cookies ---------------------------------------------------------------------------


def cookie_headers(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


def cookie_flags(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_cookies_are_secure_httponly_lax_outside_demo_mode(app, users):
    response = login(app.test_client(), *CUSTOMER, remember="1")
    cookies = cookie_headers(response)
    assert {"session", "remember_token"} <= cookies.keys()
    for name in ("session", "remember_token"):
        flags = cookie_flags(cookies[name])
        assert {"secure", "httponly", "samesite=lax"} <= flags, cookies[name]


def test_cookies_are_httponly_lax_but_not_secure_in_demo_mode(make_app, tmp_path):
    demo = make_app(
        USAGE_DEMO="on",
        USAGE_EVOVOICE_USERNAME="",
        USAGE_EVOVOICE_PASSWORD="",
        USAGE_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite'}",
    )
    assert demo.config["USAGE"].demo_enabled
    make_user(demo, *CUSTOMER)
    response = login(demo.test_client(), *CUSTOMER, remember="1")
    assert response.status_code == 302
    cookies = cookie_headers(response)
    for name in ("session", "remember_token"):
        flags = cookie_flags(cookies[name])
        assert {"httponly", "samesite=lax"} <= flags, cookies[name]
        assert "secure" not in flags, cookies[name]


def test_without_remember_no_remember_cookie(app, users):
    response = login(app.test_client(), *CUSTOMER)
    assert "remember_token" not in cookie_headers(response)


# --- logout ----------------------------------------------------------------------------


def test_logout_makes_the_old_remember_cookie_useless(app, users):
    client = app.test_client()
    assert login(client, *CUSTOMER, remember="1").status_code == 302
    remember = client.get_cookie("remember_token").value

    replay = app.test_client()
    replay.set_cookie("remember_token", remember)
    assert not replay.get("/").headers.get("Location", "").startswith("/login")  # it works now

    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/").headers["Location"].startswith("/login")

    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember)
    after = fresh.get("/")
    assert after.status_code == 302
    assert login_next(after.headers["Location"]) == "/"
    # and the replaying client that was restored earlier is signed out as well
    assert replay.get("/").headers["Location"].startswith("/login")


def run_cli(app, *args: str, stdin: str | None = None) -> None:
    result = app.test_cli_runner().invoke(args=list(args), input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)


def test_a_removed_users_cookies_never_sign_in_as_the_next_user(app):
    run_cli(app, "tenants", "add", "acme")
    run_cli(app, "users", "add", "first@example.com", "--role", "customer", "--tenant", "acme",
            "--password-stdin", stdin="first-password\n")  # fmt: skip
    run_cli(app, "users", "add", *CUSTOMER[:1], "--role", "customer", "--tenant", "acme",
            "--password-stdin", stdin=CUSTOMER[1] + "\n")  # fmt: skip
    client = app.test_client()
    assert login(client, *CUSTOMER, remember="1").status_code == 302
    session_cookie = client.get_cookie("session").value
    remember_cookie = client.get_cookie("remember_token").value

    run_cli(app, "users", "remove", CUSTOMER[0])  # the newest user: SQLite would reuse its id
    run_cli(app, "users", "add", STAFF[0], "--role", "staff", "--password-stdin",
            stdin=STAFF[1] + "\n")  # fmt: skip

    for name, value in (("session", session_cookie), ("remember_token", remember_cookie)):
        replay = app.test_client()
        replay.set_cookie(name, value)
        for page in ("/staff", "/"):
            response = replay.get(page)
            assert response.status_code == 302, f"{name} signed in on {page}"
            assert login_next(response.headers["Location"]) == page


def test_ids_are_never_reused(app):
    run_cli(app, "tenants", "add", "gone")
    run_cli(app, "users", "add", "gone@example.com", "--role", "customer", "--tenant", "gone",
            "--password-stdin", stdin="long-enough\n")  # fmt: skip
    with app.app_context():
        tenant_id = db.session.scalar(select(Tenant.id).where(Tenant.name == "gone"))
        user_id = db.session.scalar(select(User.id).where(User.email == "gone@example.com"))
    run_cli(app, "tenants", "remove", "gone")
    run_cli(app, "tenants", "add", "gone")
    run_cli(app, "users", "add", "gone@example.com", "--role", "customer", "--tenant", "gone",
            "--password-stdin", stdin="long-enough\n")  # fmt: skip
    with app.app_context():
        assert db.session.scalar(select(Tenant.id).where(Tenant.name == "gone")) > tenant_id
        assert db.session.scalar(select(User.id).where(User.email == "gone@example.com")) > user_id


def test_cookies_carry_a_random_identity_not_the_id(app, users):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == CUSTOMER[0]))
        identity, user_id = user.get_id(), user.id
    assert len(identity) >= 43 and str(user_id) != identity
    with app.test_request_context():
        from blueprints.auth import load_user

        assert load_user(identity).email == CUSTOMER[0]
        for forged in (str(user_id), f"{user_id}:1", "", "x" * 500):
            assert load_user(forged) is None


def test_logout_when_signed_out_just_goes_to_login(client):
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_logout_by_get_only_asks(app, users):
    client = app.test_client()
    login(client, *CUSTOMER)
    response = client.get("/logout")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(r'<form method="post" action="/logout">', page)
    assert re.search(r'<button type="submit">Sign out</button>', page)
    assert "every other" in page and "Keep me signed in" in page  # it signs out everywhere
    assert client.get("/").status_code == 302 and "/login" not in client.get("/").location


def test_logout_by_get_when_signed_out_goes_to_login(client):
    response = client.get("/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_the_sign_in_page_says_you_are_signed_out(app, users):
    client = app.test_client()
    login(client, *CUSTOMER)
    page = client.post("/logout", follow_redirects=True).get_data(as_text=True)
    assert SIGNED_OUT in page
    assert SIGNED_OUT not in client.get("/login").get_data(as_text=True)  # said once


# --- CSRF ------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(make_app, tmp_path):
    application = make_app(
        WTF_CSRF_ENABLED=True, USAGE_DATABASE_URL=f"sqlite:///{tmp_path / 'csrf.sqlite'}"
    )
    make_user(application, *CUSTOMER)
    return application


def csrf_token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def test_login_without_csrf_token_is_a_clear_400(csrf_app):
    client = csrf_app.test_client()
    response = login(client, *CUSTOMER)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert CSRF_FAILED in page
    assert "Traceback" not in page
    assert 'name="csrf_token"' in page  # a fresh form to try again with
    assert client.get("/").status_code == 302  # not signed in


def test_login_with_a_wrong_csrf_token_is_a_clear_400(csrf_app):
    client = csrf_app.test_client()
    csrf_token(client)
    response = login(client, *CUSTOMER, csrf_token="forged")
    assert response.status_code == 400
    assert CSRF_FAILED in response.get_data(as_text=True)


def test_login_and_logout_with_csrf_tokens(csrf_app):
    client = csrf_app.test_client()
    token = csrf_token(client)  # the session's token outlives the sign-in
    assert login(client, *CUSTOMER, csrf_token=token).status_code == 302

    refused = client.post("/logout")  # answered by the app's error pages
    assert refused.status_code == 400
    assert "Traceback" not in refused.get_data(as_text=True)
    assert not client.get("/").headers.get("Location", "").startswith("/login")  # still in

    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").headers["Location"].startswith("/login")
