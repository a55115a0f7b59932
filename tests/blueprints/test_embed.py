"""Embeddable widgets: tokens, scope, locks, revocation, framing headers, no cookies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from sqlalchemy import update

from core.extensions import db
from core.observability import RedactSecrets
from models import EmbedKey
from services.embed_tokens import SigningKey, TokenRefused, mint, verify

RETIRED_SECRET = "embed-secret-for-tests-0123456789abcdef"
NORTHWIND = "acct-northwind"
UNICODE = "zürich-東京-Ωmega"


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


@pytest.fixture
def token(embed_key):
    """Return a function minting a token with a tenant's current key, as its backend would."""

    def make(tenant="acme", ttl=timedelta(minutes=10), **claims):
        return mint(embed_key(tenant), ttl=ttl, **claims)

    return make


def signed(key: SigningKey, claims: dict, **header) -> str:
    """Return a JWT over any claims, signed with a key's secret, naming `kid` if given."""
    return jwt.encode(claims, key.secret, algorithm="HS256", headers=header or None)


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


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


def test_metrics_widget_shows_all_five_with_framing_for_the_tenant(client, tenants, token):
    response = client.get(f"/embed/metrics?token={token()}")
    assert response.status_code == 200
    assert len(figures(response.get_data(as_text=True))) == 5
    assert directive(response, "frame-ancestors") == "https://acme.example http://localhost:8000"
    assert directive(response, "script-src") == "'self'"
    assert "X-Frame-Options" not in response.headers
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in response.headers


def test_ai_minutes_widget(client, tenants, token):
    html = client.get(f"/embed/ai-minutes?token={token()}").get_data(as_text=True)
    assert set(figures(html)) == {"chart-ai-minutes-data"}
    assert "in the range" in html


def test_no_cookie_even_for_a_signed_in_browser(client, tenants, make_user, login, token):
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


def test_a_tenant_without_origins_may_not_be_framed(client, tenants, token):
    response = client.get(f"/embed/metrics?token={token('globex')}")
    assert response.status_code == 200
    assert directive(response, "frame-ancestors") == "'none'"


def test_htmx_requests_authenticate_with_the_header(client, tenants, token):
    good = client.get(
        "/embed/metrics?preset=7d", headers={"HX-Request": "true", "X-Embed-Token": token()}
    )
    assert good.status_code == 200
    html = good.get_data(as_text=True)
    assert "<html" not in html and len(figures(html)) == 5
    anonymous = client.get("/embed/metrics?preset=7d", headers={"HX-Request": "true"})
    assert anonymous.status_code == 401
    assert not figures(anonymous.get_data(as_text=True))


def test_the_range_switcher_swaps_without_the_token_in_its_url(client, tenants, token):
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


def _other_key(key: SigningKey) -> SigningKey:
    return SigningKey(kid=key.kid, secret="another-secret-entirely-0123456789", tenant="acme")


# Each takes acme's current key.
BAD_TOKENS = {
    "missing": lambda key: "",
    "garbage": lambda key: "not-a-token",
    "expired": lambda key: mint(
        key, ttl=timedelta(minutes=5), now=datetime.now(UTC) - timedelta(hours=1)
    ),
    "tampered": lambda key: _tamper(mint(key, ttl=timedelta(minutes=5))),
    "wrong-secret": lambda key: mint(_other_key(key), ttl=timedelta(minutes=5)),
    "wrong-audience": lambda key: signed(key, _claims(aud="billing"), kid=key.kid),
    "alg-none": lambda key: _forge({"alg": "none", "typ": "JWT", "kid": key.kid}, _claims()),
    "alg-hs512": lambda key: jwt.encode(
        _claims(), key.secret, algorithm="HS512", headers={"kid": key.kid}
    ),
    "no-exp": lambda key: signed(
        key, {k: v for k, v in _claims().items() if k != "exp"}, kid=key.kid
    ),
    "too-long": lambda key: mint(key, ttl=timedelta(hours=3)),
    "bad-widget-claim": lambda key: mint(key, ttl=timedelta(minutes=5), widget="everything"),
    "no-kid": lambda key: signed(key, _claims()),
    "unknown-kid": lambda key: signed(key, _claims(), kid="no-such-key"),
    "kid-not-text": lambda key: _signed_raw(key, {"alg": "HS256", "kid": 7}, _claims()),
    "iat-too-far-ahead": lambda key: mint(
        key, ttl=timedelta(minutes=5), now=datetime.now(UTC) + timedelta(minutes=2)
    ),
}


def _signed_raw(key: SigningKey, header: dict, claims: dict) -> str:
    """Sign a header PyJWT would refuse to write, as a hostile backend could."""
    unsigned = _forge(header, claims).rstrip(".")
    mac = hmac.new(key.secret.encode(), unsigned.encode(), hashlib.sha256).digest()
    return _forge(header, claims, mac)


def _tamper(token: str) -> str:
    return token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_invalid_tokens_get_401_and_no_data(client, tenants, sims, embed_key, kind):
    bad = BAD_TOKENS[kind](embed_key("acme"))
    sims.state.clear_calls()
    response = client.get(f"/embed/metrics?token={bad}")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "This usage widget can't be shown." in html
    assert not figures(html)
    assert "Set-Cookie" not in response.headers
    assert sims.state.calls() == []


# Correctly signed, with times of the wrong type or out of any calendar.
BAD_TIMES = {
    "iat-string": {"iat": "1700000000"},
    "exp-string": {"exp": "2000000000"},
    "iat-bool": {"iat": True},
    "exp-list": {"exp": [2000000000]},
    "exp-1e20": {"exp": 1e20},
    "exp-huge-int": {"exp": 10**30},
    "iat-negative": {"iat": -1e18},
    "exp-nan": {"exp": float("nan")},
    "iat-infinite": {"iat": float("-inf")},
    "exp-before-iat": {"exp": int(time.time()) - 20},
}


@pytest.mark.parametrize("kind", sorted(BAD_TIMES))
def test_correctly_signed_tokens_with_bad_times_get_401(client, tenants, sims, embed_key, kind):
    key = embed_key("acme")
    bad = signed(key, _claims(**BAD_TIMES[kind]), kid=key.kid)
    sims.state.clear_calls()
    response = client.get(f"/embed/metrics?token={bad}")
    assert response.status_code == 401
    assert not figures(response.get_data(as_text=True))
    assert sims.state.calls() == []


def test_a_tenants_key_never_opens_another_tenant(client, tenants, sims, embed_key):
    acme, globex = embed_key("acme"), embed_key("globex")
    for widget in ("metrics", "ai-minutes"):
        forged = signed(acme, _claims(sub="globex"), kid=acme.kid)
        sims.state.clear_calls()
        response = client.get(f"/embed/{widget}?token={forged}")
        assert response.status_code == 403
        html = response.get_data(as_text=True)
        assert "another tenant" in html
        assert not figures(html) and UNICODE not in html
        assert sims.state.calls() == [], "nothing of globex was even asked for"
    # Naming globex's key with acme's secret fails the signature.
    borrowed = signed(acme, _claims(sub="globex"), kid=globex.kid)
    assert client.get(f"/embed/metrics?token={borrowed}").status_code == 401


def test_a_token_for_the_other_widget_is_refused(client, tenants, token):
    response = client.get(f"/embed/ai-minutes?token={token(widget='metrics')}")
    assert response.status_code == 403


# -- keys and revocation --------------------------------------------------------------------


def test_a_rotated_key_works_during_its_grace_and_not_after(app, client, tenants, embed_key):
    old = embed_key("acme")
    before = mint(old, ttl=timedelta(minutes=10))
    result = cli(app, "tenants", "embed-secret", "acme", "--rotate", "--json")
    assert result.exit_code == 0, result.output
    new = json.loads(result.output)
    assert new["kid"] != old.kid and new["secret"] != old.secret
    assert embed_key("acme").kid == new["kid"]
    assert client.get(f"/embed/metrics?token={before}").status_code == 200  # within 24 h

    with app.app_context():  # the grace is over
        db.session.execute(
            update(EmbedKey)
            .where(EmbedKey.kid == old.kid)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    refused = client.get(f"/embed/metrics?token={before}")
    assert refused.status_code == 403 and "revoked" in refused.get_data(as_text=True)
    assert not figures(refused.get_data(as_text=True))
    after = mint(embed_key("acme"), ttl=timedelta(minutes=10))
    assert client.get(f"/embed/metrics?token={after}").status_code == 200


def test_a_superseded_key_holds_until_the_end_of_its_grace_only():
    now = datetime.now(UTC)
    retires = now + timedelta(minutes=5)
    key = SigningKey("k1", "a-secret-of-at-least-thirty-two-bytes", "acme", retires)
    minted = mint(key, ttl=timedelta(minutes=10), now=now)

    def at(moment):
        return verify(minted, {"k1": key}.get, max_ttl=timedelta(hours=1), now=moment)

    assert at(retires - timedelta(seconds=1)).tenant == "acme"
    with pytest.raises(TokenRefused) as error:
        at(retires)
    assert error.value.status == 403


def test_a_rotation_without_grace_refuses_the_old_key_at_once(app, client, tenants, token):
    before = token()
    result = cli(app, "tenants", "embed-secret", "acme", "--rotate", "--grace", "0")
    assert result.exit_code == 0, result.output
    assert "refused from now on" in result.output
    assert client.get(f"/embed/metrics?token={before}").status_code == 403
    assert client.get(f"/embed/metrics?token={token()}").status_code == 200


def test_revoking_all_embeds_refuses_earlier_tokens_even_from_the_future(
    app, client, tenants, embed_key
):
    key = embed_key("acme")
    earlier = mint(key, ttl=timedelta(minutes=10), now=datetime.now(UTC) - timedelta(minutes=1))
    # Claims to be issued 25 s from now: inside the leeway, so accepted today...
    ahead = mint(key, ttl=timedelta(minutes=10), now=datetime.now(UTC) + timedelta(seconds=25))
    for good in (earlier, ahead):
        assert client.get(f"/embed/metrics?token={good}").status_code == 200
    result = cli(app, "tenants", "revoke-embeds", "acme")
    assert result.exit_code == 0, result.output
    assert key.secret not in result.output
    for revoked in (earlier, ahead):  # ...and still refused after the revocation.
        refused = client.get(f"/embed/metrics?token={revoked}")
        assert refused.status_code == 403 and "revoked" in refused.get_data(as_text=True)
    later = mint(embed_key("acme"), ttl=timedelta(minutes=10))
    assert client.get(f"/embed/metrics?token={later}").status_code == 200


def test_a_new_tenant_of_a_removed_name_never_accepts_the_old_tokens(app, client, tenants, token):
    old = token()
    assert cli(app, "tenants", "revoke-embeds", "acme", "--jti", "gone").exit_code == 0
    revoked = token(jti="gone")
    assert cli(app, "tenants", "remove", "acme").exit_code == 0
    added = cli(app, "tenants", "add", "acme", "--evovoice-account", NORTHWIND)
    assert added.exit_code == 0, added.output
    for stale in (old, revoked):
        response = client.get(f"/embed/ai-minutes?token={stale}")
        assert response.status_code == 401
        assert not figures(response.get_data(as_text=True))
    assert client.get(f"/embed/ai-minutes?token={token()}").status_code == 200


def test_one_token_can_be_revoked_by_its_id(app, client, tenants, token):
    doomed, kept = token(jti="widget-1"), token(jti="widget-2")
    result = app.test_cli_runner().invoke(
        args=["tenants", "revoke-embeds", "acme", "--jti", "widget-1"]
    )
    assert result.exit_code == 0, result.output
    assert client.get(f"/embed/metrics?token={doomed}").status_code == 403
    assert client.get(f"/embed/metrics?token={kept}").status_code == 200


# -- scope and locks ------------------------------------------------------------------------


def test_a_customer_claim_narrows_an_account(client, tenants, sims, token):
    response = client.get(f"/embed/ai-minutes?token={token(customer_id='cust-alpha')}")
    assert response.status_code == 200
    calls = minutes_calls(sims)
    assert calls and all(
        c["query"].get("accountId") == NORTHWIND and c["query"].get("customerId") == "cust-alpha"
        for c in calls
    )


def test_a_customer_claim_never_widens_or_moves_a_narrowed_tenant(client, tenants, sims, token):
    other = client.get(f"/embed/ai-minutes?token={token('globex', customer_id='kunde-x')}")
    assert other.status_code == 403
    same = client.get(f"/embed/ai-minutes?token={token('globex', customer_id='kunde-müller')}")
    assert same.status_code == 200
    assert {c["query"].get("customerId") for c in minutes_calls(sims)} == {"kunde-müller"}


def test_url_parameters_cannot_widen_scope(client, tenants, sims, token):
    url = f"/embed/ai-minutes?token={token()}&account=other&customer=x&tenant=globex"
    assert client.get(url).status_code == 200
    assert {c["query"].get("accountId") for c in minutes_calls(sims)} == {NORTHWIND}


def test_a_locked_metric_wins_over_the_url(client, tenants, token):
    html = client.get(f"/embed/metrics?token={token(metric='Events')}&metric=ApiCalls").get_data(
        as_text=True
    )
    assert set(figures(html)) == {"chart-Events-data"}


def test_a_metric_from_the_url_when_not_locked(client, tenants, token):
    html = client.get(f"/embed/metrics?token={token()}&metric=sessions").get_data(as_text=True)
    assert set(figures(html)) == {"chart-Sessions-data"}


def test_a_maximum_range_limits_the_presets(client, tenants, token):
    limited = token(max_days=7)
    refused = client.get(f"/embed/metrics?token={limited}&preset=90d")
    assert refused.status_code == 400
    html = client.get(f"/embed/metrics?token={limited}").get_data(as_text=True)
    labels = re.findall(r'<a href="[^"]+" hx-get="[^"]+"[^>]*>([^<]+)</a>', html)
    assert "Last 7 days" in labels and "Last 90 days" not in labels


def test_a_fixed_preset_cannot_be_changed(client, tenants, token):
    html = client.get(f"/embed/metrics?token={token(preset='7d')}&preset=90d").get_data(
        as_text=True
    )
    labels = re.findall(r'<a href="[^"]+" hx-get="[^"]+"[^>]*>([^<]+)</a>', html)
    assert labels == ["Last 7 days"]


def test_bad_widget_parameters_get_400(client, tenants, sims, token):
    sims.state.clear_calls()
    assert client.get(f"/embed/metrics?token={token()}&theme=neon").status_code == 400
    assert client.get(f"/embed/metrics?token={token()}&preset=1y").status_code == 400
    assert client.get(f"/embed/metrics?token={token()}&metric=bytes").status_code == 400
    assert sims.state.calls() == []


def test_upstream_errors_show_in_the_widget(client, tenants, sims, token):
    sims.state.add_fault("evovoice", "403")
    response = client.get(f"/embed/ai-minutes?token={token()}")
    assert response.status_code == 502
    assert "lacks the SystemAdministrator role" in response.get_data(as_text=True)


# -- commands and logs ----------------------------------------------------------------------


def test_embed_token_command_prints_a_working_url(app, client, tenants, embed_key):
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
    key = embed_key("acme")
    assert jwt.get_unverified_header(minted)["kid"] == key.kid
    claims = jwt.decode(minted, key.secret, algorithms=["HS256"], audience="usage-embed")
    assert claims["customerId"] == "cust-bravo" and claims["exp"] - claims["iat"] == 300
    assert client.get(f"{url.path}?{url.query}").status_code == 200


def test_embed_secret_prints_the_key_a_backend_mints_with(app, client, tenants):
    plain = cli(app, "tenants", "embed-secret", "acme")
    assert plain.exit_code == 0, plain.output
    lines = dict(line.split(None, 1) for line in plain.output.strip().splitlines())
    assert set(lines) == {"kid", "secret"}
    as_json = cli(app, "tenants", "embed-secret", "acme", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert as_json.output.count("\n") == 1
    key = json.loads(as_json.output)
    assert key == {"kid": lines["kid"], "secret": lines["secret"]}  # the same, not a new one
    assert len(key["secret"]) >= 43  # 32 random bytes
    globex = json.loads(cli(app, "tenants", "embed-secret", "globex", "--json").output)
    assert globex["kid"] != key["kid"] and globex["secret"] != key["secret"]

    # What the README tells a tenant's backend to do.
    now = int(datetime.now(UTC).timestamp())
    minted = jwt.encode(
        {"sub": "acme", "aud": "usage-embed", "iat": now, "exp": now + 900, "widget": "metrics"},
        key["secret"],
        algorithm="HS256",
        headers={"kid": key["kid"]},
    )
    assert client.get(f"/embed/metrics?token={minted}").status_code == 200


def test_embed_secret_rotate_prints_the_new_key_and_the_grace(app, tenants, embed_key):
    old = embed_key("acme")
    result = cli(app, "tenants", "embed-secret", "acme", "--rotate", "--grace", "2h")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split() == ["kid", embed_key("acme").kid] and old.kid not in lines[0]
    assert "previous key works until" in lines[2]
    with app.app_context():
        retires = db.session.scalar(
            db.select(EmbedKey.expires_at).where(EmbedKey.kid == old.kid)
        ).replace(tzinfo=UTC)
    assert timedelta(minutes=119) < retires - datetime.now(UTC) <= timedelta(hours=2)


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
        ["tenants", "set-embed-origins", "acme", "https://acme.example:99999"],
        ["tenants", "set-embed-origins", "acme", "https://acme.example:abc"],
        ["tenants", "revoke-embeds", "nobody"],
        ["tenants", "embed-secret", "nobody"],
        ["tenants", "embed-secret", "acme", "--grace", "1h"],
        ["tenants", "embed-secret", "acme", "--rotate", "--grace", "soon"],
        ["tenants", "embed-secret", "acme", "--rotate", "--grace", "-1h"],
        ["tenants", "embed-secret", "acme", "--rotate", "--grace", "99999999999d"],
        ["embed-token", "acme", "--ttl", "999999999d"],
    ],
)
def test_embed_commands_refuse_bad_input(app, tenants, args):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert "Error:" in result.output and "Traceback" not in result.output


def test_a_tenant_from_before_keys_gets_one_when_first_needed(app_config, sims):
    from flask_migrate import upgrade

    from app import create_app

    app = create_app(app_config)
    with app.app_context():
        upgrade(revision="e5a1d2c3b4f6")  # the schema before signing keys
        db.session.execute(
            db.text(
                "INSERT INTO tenants (name, evovoice_account_id, created_at, embed_origins,"
                " embeds_revoked_before) VALUES ('old', :account, :now, '', :now)"
            ),
            {"account": NORTHWIND, "now": datetime.now(UTC)},
        )
        db.session.commit()
        upgrade()
    first = cli(app, "embed-token", "old", "--widget", "ai-minutes")
    assert first.exit_code == 0, first.output
    key = json.loads(cli(app, "tenants", "embed-secret", "old", "--json").output)
    url = urlsplit(first.output.strip())
    assert jwt.get_unverified_header(parse_qs(url.query)["token"][0])["kid"] == key["kid"]
    assert app.test_client().get(f"{url.path}?{url.query}").status_code == 200
    app.extensions["upstreams"].http.close()


def test_a_start_that_still_sets_the_retired_secret_is_told_once(app_config, caplog):
    from app import create_app

    with caplog.at_level(logging.WARNING):
        create_app(app_config).extensions["upstreams"].http.close()
    assert not [r for r in caplog.records if "USAGE_EMBED_SECRET" in r.getMessage()]
    with caplog.at_level(logging.WARNING):
        app = create_app({**app_config, "USAGE_EMBED_SECRET": RETIRED_SECRET})
        app.extensions["upstreams"].http.close()
    lines = [r.getMessage() for r in caplog.records if "USAGE_EMBED_SECRET" in r.getMessage()]
    assert len(lines) == 1
    assert "tenants embed-secret" in lines[0] and RETIRED_SECRET not in lines[0]


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


@pytest.mark.parametrize("demo", ["auto", "on"])
def test_the_demo_host_page_never_mints_for_a_real_tenant_of_the_demo_name(tmp_path, demo):
    from app import create_app

    app = create_app(
        {
            "USAGE_DEMO": demo,
            "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
            "USAGE_PUBLIC_URL": "http://127.0.0.1:5000",
        }
    )
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    added = runner.invoke(args=["tenants", "add", "acme", "--evovoice-account", "real-acct-123"])
    assert added.exit_code == 0, added.output
    runner.invoke(args=["setup"])
    host = app.test_client().get("/embed-demo", base_url="http://localhost:5000")
    assert host.status_code == 404
    assert "token=" not in host.get_data(as_text=True)
    app.extensions["upstreams"].http.close()


def test_a_widget_reads_today_as_the_page_does(client, tenants, token):
    # Its default range holds today: that day is running ("so far"), not a whole one, and
    # the card has the month's pace, as /usage shows the same numbers.
    html = client.get(f"/embed/ai-minutes?token={token()}").get_data(as_text=True)
    assert "(so far)" in html
    assert "on pace for" in html
