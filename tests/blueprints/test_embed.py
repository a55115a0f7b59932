"""Embeddable widgets: tokens, scope, locks, revocation, framing headers, no cookies."""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from core.observability import RedactSecrets
from services.embed_tokens import mint

EMBED_SECRET = "embed-secret-for-tests-0123456789abcdef"
NORTHWIND = "acct-northwind"
UNICODE = "zürich-東京-Ωmega"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "USAGE_EMBED_SECRET": EMBED_SECRET}


@pytest.fixture
def tenants(app, make_tenant):
    make_tenant("acme", integration="acme", account=NORTHWIND)
    make_tenant("globex", integration="globex", account=UNICODE, customer="kunde-müller")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "tenants",
            "set-embed-origins",
            "acme",
            "https://acme.example",
            "http://localhost:8000",
        ]
    )
    assert result.exit_code == 0, result.output


def token(tenant="acme", ttl=timedelta(minutes=10), **claims):
    return mint(EMBED_SECRET, tenant, ttl=ttl, **claims)


def figures(html):
    return {
        name: json.loads(body)
        for name, body in re.findall(
            r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S
        )
    }


def directive(response, name):
    """Return one directive of the response's Content-Security-Policy."""
    for part in response.headers["Content-Security-Policy"].split(";"):
        words = part.split()
        if words and words[0] == name:
            return " ".join(words[1:])
    return None


def minutes_calls(sims):
    return [c for c in sims.state.calls() if c["path"] == "/ai/usage"]


# -- a working widget ---------------------------------------------------------------------


def test_metrics_widget_shows_all_five_with_framing_for_the_tenant(client, tenants):
    response = client.get(f"/embed/metrics?token={token()}")
    assert response.status_code == 200
    assert len(figures(response.get_data(as_text=True))) == 5
    assert directive(response, "frame-ancestors") == "https://acme.example http://localhost:8000"
    assert directive(response, "script-src") == "'self'"
    assert "X-Frame-Options" not in response.headers
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in response.headers


def test_ai_minutes_widget(client, tenants):
    html = client.get(f"/embed/ai-minutes?token={token()}").get_data(as_text=True)
    assert set(figures(html)) == {"chart-ai-minutes-data"}
    assert "in the range" in html


def test_no_cookie_even_for_a_signed_in_browser(client, tenants, make_user, login):
    make_user("someone@example.com", tenant="acme")
    login(client, "someone@example.com")
    response = client.get(f"/embed/metrics?token={token()}")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "csrf_token" not in response.get_data(as_text=True)


def test_other_pages_refuse_every_frame(client, tenants):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert directive(response, "frame-ancestors") == "'none'"


def test_a_tenant_without_origins_may_not_be_framed(client, tenants):
    response = client.get(f"/embed/metrics?token={token('globex')}")
    assert response.status_code == 200
    assert directive(response, "frame-ancestors") == "'none'"


def test_htmx_requests_authenticate_with_the_header(client, tenants):
    good = client.get(
        "/embed/metrics?preset=7d", headers={"HX-Request": "true", "X-Embed-Token": token()}
    )
    assert good.status_code == 200
    html = good.get_data(as_text=True)
    assert "<html" not in html and len(figures(html)) == 5
    anonymous = client.get("/embed/metrics?preset=7d", headers={"HX-Request": "true"})
    assert anonymous.status_code == 401
    assert not figures(anonymous.get_data(as_text=True))


def test_the_range_switcher_swaps_without_the_token_in_its_url(client, tenants):
    html = client.get(f"/embed/metrics?token={token()}&theme=dark").get_data(as_text=True)
    assert 'data-theme="dark"' in html
    swaps = re.findall(r'hx-get="([^"]+)"', html)
    assert swaps and all("token=" not in s and "theme=dark" in s for s in swaps)
    assert '"X-Embed-Token"' in html  # hx-headers on the body


# -- token failures -------------------------------------------------------------------------


def _forge(header: dict, claims: dict, signature: bytes = b"") -> str:
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    sig = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return f"{part(header)}.{part(claims)}.{sig}"


def _claims(**extra):
    now = int(datetime.now(UTC).timestamp())
    return {"sub": "acme", "aud": "usage-embed", "iat": now, "exp": now + 600, **extra}


BAD_TOKENS = {
    "missing": lambda: "",
    "garbage": lambda: "not-a-token",
    "expired": lambda: mint(
        EMBED_SECRET, "acme", ttl=timedelta(minutes=5), now=datetime.now(UTC) - timedelta(hours=1)
    ),
    "tampered": lambda: token()[:-3] + ("AAA" if not token().endswith("AAA") else "BBB"),
    "wrong-secret": lambda: mint(
        "another-secret-entirely-0123456789", "acme", ttl=timedelta(minutes=5)
    ),
    "wrong-audience": lambda: jwt.encode(_claims(aud="billing"), EMBED_SECRET, algorithm="HS256"),
    "alg-none": lambda: _forge({"alg": "none", "typ": "JWT"}, _claims()),
    "alg-hs512": lambda: jwt.encode(_claims(), EMBED_SECRET, algorithm="HS512"),
    "no-exp": lambda: jwt.encode(
        {k: v for k, v in _claims().items() if k != "exp"}, EMBED_SECRET, algorithm="HS256"
    ),
    "too-long": lambda: token(ttl=timedelta(hours=3)),
    "bad-widget-claim": lambda: token(widget="everything"),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_invalid_tokens_get_401_and_no_data(client, tenants, sims, kind):
    sims.state.clear_calls()
    response = client.get(f"/embed/metrics?token={BAD_TOKENS[kind]()}")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "This usage widget can't be shown." in html
    assert not figures(html)
    assert "Set-Cookie" not in response.headers
    assert sims.state.calls() == []


def test_unknown_tenant_gets_403(client, tenants):
    response = client.get(f"/embed/metrics?token={token('nobody')}")
    assert response.status_code == 403
    assert "names no tenant" in response.get_data(as_text=True)


def test_a_token_for_the_other_widget_is_refused(client, tenants):
    response = client.get(f"/embed/ai-minutes?token={token(widget='metrics')}")
    assert response.status_code == 403


# -- revocation -----------------------------------------------------------------------------


def test_revoking_all_embeds_invalidates_earlier_tokens(app, client, tenants):
    earlier = mint(
        EMBED_SECRET,
        "acme",
        ttl=timedelta(minutes=10),
        now=datetime.now(UTC) - timedelta(minutes=1),
    )
    assert client.get(f"/embed/metrics?token={earlier}").status_code == 200
    result = app.test_cli_runner().invoke(args=["tenants", "revoke-embeds", "acme"])
    assert result.exit_code == 0, result.output
    refused = client.get(f"/embed/metrics?token={earlier}")
    assert refused.status_code == 403 and "revoked" in refused.get_data(as_text=True)
    later = mint(
        EMBED_SECRET,
        "acme",
        ttl=timedelta(minutes=10),
        now=datetime.now(UTC) + timedelta(seconds=2),
    )
    assert client.get(f"/embed/metrics?token={later}").status_code == 200


def test_one_token_can_be_revoked_by_its_id(app, client, tenants):
    doomed, kept = token(jti="widget-1"), token(jti="widget-2")
    result = app.test_cli_runner().invoke(
        args=["tenants", "revoke-embeds", "acme", "--jti", "widget-1"]
    )
    assert result.exit_code == 0, result.output
    assert client.get(f"/embed/metrics?token={doomed}").status_code == 403
    assert client.get(f"/embed/metrics?token={kept}").status_code == 200


# -- scope and locks ------------------------------------------------------------------------


def test_a_customer_claim_narrows_an_account(client, tenants, sims):
    response = client.get(f"/embed/ai-minutes?token={token(customer_id='cust-alpha')}")
    assert response.status_code == 200
    calls = minutes_calls(sims)
    assert calls and all(
        c["query"].get("accountId") == NORTHWIND and c["query"].get("customerId") == "cust-alpha"
        for c in calls
    )


def test_a_customer_claim_never_widens_or_moves_a_narrowed_tenant(client, tenants, sims):
    other = client.get(f"/embed/ai-minutes?token={token('globex', customer_id='kunde-x')}")
    assert other.status_code == 403
    same = client.get(f"/embed/ai-minutes?token={token('globex', customer_id='kunde-müller')}")
    assert same.status_code == 200
    assert {c["query"].get("customerId") for c in minutes_calls(sims)} == {"kunde-müller"}


def test_url_parameters_cannot_widen_scope(client, tenants, sims):
    url = f"/embed/ai-minutes?token={token()}&account=other&customer=x&tenant=globex"
    assert client.get(url).status_code == 200
    assert {c["query"].get("accountId") for c in minutes_calls(sims)} == {NORTHWIND}


def test_a_locked_metric_wins_over_the_url(client, tenants):
    html = client.get(f"/embed/metrics?token={token(metric='Events')}&metric=ApiCalls").get_data(
        as_text=True
    )
    assert set(figures(html)) == {"chart-Events-data"}


def test_a_metric_from_the_url_when_not_locked(client, tenants):
    html = client.get(f"/embed/metrics?token={token()}&metric=sessions").get_data(as_text=True)
    assert set(figures(html)) == {"chart-Sessions-data"}


def test_a_maximum_range_limits_the_presets(client, tenants):
    limited = token(max_days=7)
    refused = client.get(f"/embed/metrics?token={limited}&preset=90d")
    assert refused.status_code == 400
    html = client.get(f"/embed/metrics?token={limited}").get_data(as_text=True)
    labels = re.findall(r'<a href="[^"]+" hx-get="[^"]+"[^>]*>([^<]+)</a>', html)
    assert "Last 7 days" in labels and "Last 90 days" not in labels


def test_a_fixed_preset_cannot_be_changed(client, tenants):
    html = client.get(f"/embed/metrics?token={token(preset='7d')}&preset=90d").get_data(
        as_text=True
    )
    labels = re.findall(r'<a href="[^"]+" hx-get="[^"]+"[^>]*>([^<]+)</a>', html)
    assert labels == ["Last 7 days"]


def test_bad_widget_parameters_get_400(client, tenants, sims):
    sims.state.clear_calls()
    assert client.get(f"/embed/metrics?token={token()}&theme=neon").status_code == 400
    assert client.get(f"/embed/metrics?token={token()}&preset=1y").status_code == 400
    assert client.get(f"/embed/metrics?token={token()}&metric=bytes").status_code == 400
    assert sims.state.calls() == []


def test_upstream_errors_show_in_the_widget(client, tenants, sims):
    sims.state.add_fault("evovoice", "403")
    response = client.get(f"/embed/ai-minutes?token={token()}")
    assert response.status_code == 502
    assert "lacks the SystemAdministrator role" in response.get_data(as_text=True)


# -- commands and logs ----------------------------------------------------------------------


def test_embed_token_command_prints_a_working_url(app, client, tenants):
    result = app.test_cli_runner().invoke(
        args=[
            "embed-token",
            "acme",
            "--widget",
            "ai-minutes",
            "--customer",
            "cust-bravo",
            "--ttl",
            "5m",
        ]
    )
    assert result.exit_code == 0, result.output
    url = urlsplit(result.output.strip())
    assert url.path == "/embed/ai-minutes"
    minted = parse_qs(url.query)["token"][0]
    claims = jwt.decode(minted, EMBED_SECRET, algorithms=["HS256"], audience="usage-embed")
    assert claims["customerId"] == "cust-bravo" and claims["exp"] - claims["iat"] == 300
    assert client.get(f"{url.path}?{url.query}").status_code == 200


@pytest.mark.parametrize(
    "args",
    [
        ["embed-token", "nobody"],
        ["embed-token", "acme", "--ttl", "5 years"],
        ["embed-token", "acme", "--ttl", "2h"],
        ["embed-token", "acme", "--metric", "bytes"],
        ["embed-token", "globex", "--customer", "someone-else"],
        ["tenants", "set-embed-origins", "acme", "https://acme.example/path"],
        ["tenants", "set-embed-origins", "acme", "javascript:alert(1)"],
        ["tenants", "set-embed-origins", "acme", "ftp://acme.example"],
        ["tenants", "revoke-embeds", "nobody"],
    ],
)
def test_embed_commands_refuse_bad_input(app, tenants, args):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert "Error:" in result.output and "Traceback" not in result.output


def test_tokens_are_redacted_from_log_lines():
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '127.0.0.1 - - "GET /embed/metrics?token=%s&x=1 HTTP/1.1" 200 -',
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY21lIn0.sig",),
        None,
    )
    assert RedactSecrets().filter(record)
    assert "eyJ" not in record.getMessage()
    assert "token=[redacted]&x=1" in record.getMessage()


def test_the_redaction_filter_is_installed(app):
    assert any(isinstance(f, RedactSecrets) for f in logging.getLogger("werkzeug").filters)


def test_demo_mode_frames_both_widgets_from_a_second_origin(tmp_path):
    from app import create_app

    app = create_app(
        {
            "USAGE_DEMO": "on",
            "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
            "USAGE_PUBLIC_URL": "http://127.0.0.1:5000",
        }
    )
    setup = app.test_cli_runner().invoke(args=["setup"])
    assert "http://localhost:5000/embed-demo" in setup.output
    client = app.test_client()
    moved = client.get("/embed-demo", base_url="http://127.0.0.1:5000")
    assert (
        moved.status_code == 302 and moved.headers["Location"] == "http://localhost:5000/embed-demo"
    )
    host = client.get("/embed-demo", base_url="http://localhost:5000")
    sources = re.findall(r'<iframe class="usage-widget" src="([^"]+)"', host.get_data(as_text=True))
    assert len(sources) == 2
    assert directive(host, "frame-src") == "http://127.0.0.1:5000"
    for source in sources:
        url = urlsplit(source.replace("&amp;", "&"))
        assert f"{url.scheme}://{url.netloc}" == "http://127.0.0.1:5000"
        widget = client.get(f"{url.path}?{url.query}", base_url="http://127.0.0.1:5000")
        assert widget.status_code == 200
        assert directive(widget, "frame-ancestors") == "http://localhost:5000"
        assert figures(widget.get_data(as_text=True))
    app.extensions["upstreams"].http.close()


def test_the_demo_host_page_exists_only_in_demo_mode(client):
    assert client.get("/embed-demo").status_code == 404
