"""The app factory: settings, the production guard, demo mode, assets and setup."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app import create_app
from core.config import Settings
from simulators.data import isnotai_expected, isnotai_integration

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_need_no_configuration(monkeypatch, tmp_path):
    for name in ("USAGE_DEMO", "USAGE_EVOVOICE_USERNAME", "USAGE_EVOVOICE_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = Settings()
    assert settings.demo == "auto" and settings.demo_enabled
    assert settings.isnotai_us_url == "https://api.isnotai.com"
    assert settings.isnotai_eu_url == "https://api-eu.isnotai.com"
    assert settings.evovoice_url == "https://evovoice.io"
    assert settings.resolved_cache_url("/x/instance") == "sqlite:////x/instance/http_cache.sqlite"
    assert settings.resolved_database_url("/x/instance").startswith("sqlite:////x/instance/")


def test_environment_and_dotenv_are_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("USAGE_CACHE_URL=redis://127.0.0.1:6379/3\nUSAGE_DEMO=on\n")
    monkeypatch.setenv("USAGE_CACHE_TTL_TODAY", "15")
    settings = Settings()
    assert settings.cache_url == "redis://127.0.0.1:6379/3"
    assert settings.cache_ttl_today == 15
    assert settings.demo_enabled


def test_credentials_turn_demo_off_in_auto_mode():
    settings = Settings(evovoice_username="svc", evovoice_password="pw", demo="auto")
    assert not settings.demo_enabled
    assert Settings(evovoice_username="svc", evovoice_password="pw", demo="on").demo_enabled


def test_invalid_settings_are_refused_with_the_variable_named():
    with pytest.raises(ValueError, match="demo"):
        Settings(demo="maybe")


@pytest.mark.parametrize("secret", [None, "dev-insecure-change-me", "short"])
def test_production_refuses_a_missing_or_default_secret(app_config, capsys, secret):
    config = {**app_config, "USAGE_SECRET_KEY": secret or ""}
    with pytest.raises(SystemExit):
        create_app(config)
    assert "USAGE_SECRET_KEY" in capsys.readouterr().err


def test_demo_mode_allows_the_development_secret(tmp_path):
    app = create_app(
        {
            "USAGE_DEMO": "on",
            "USAGE_SECRET_KEY": "dev-insecure-change-me",
            "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
        }
    )
    assert app.config["USAGE"].demo_enabled
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_production_cookies_are_secure(app):
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize(
    ("name", "package"), [("htmx.js", "htmx.org"), ("plotly.js", "plotly.js-basic-dist-min")]
)
def test_vendor_assets_come_from_the_lockfile_with_long_cache(client, name, package):
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version = lock["packages"][f"node_modules/{package}"]["version"]
    response = client.get(f"/assets/vendor/{version}/{name}")
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert response.mimetype == "text/javascript"
    assert len(response.data) > 10_000
    assert client.get(f"/assets/vendor/0.0.0/{name}").status_code == 404
    assert client.get(f"/assets/vendor/{version}/left-pad.js").status_code == 404


def test_plotly_js_matches_the_python_package():
    from plotly.offline import get_plotlyjs_version

    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/plotly.js-basic-dist-min"]["version"] == (
        get_plotlyjs_version()
    )
    assert lock["packages"]["node_modules/htmx.org"]["version"].startswith("2.")


def test_pages_reference_versioned_assets_and_no_cdn(client):
    page = client.get("/login").get_data(as_text=True)
    assert "/static/app.css?v=" in page
    assert "http://" not in page and "https://" not in page


def test_setup_prepares_the_database_and_prints_demo_logins(tmp_path):
    app = create_app(
        {
            "USAGE_DEMO": "on",
            "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
        }
    )
    runner = app.test_cli_runner()
    first = runner.invoke(args=["setup"])
    assert first.exit_code == 0, first.output
    assert "staff@demo.invalid" in first.output and "acme@demo.invalid" in first.output
    again = runner.invoke(args=["setup"])  # idempotent
    assert again.exit_code == 0, again.output

    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    response = client.post(
        "/login", data={"email": "acme@demo.invalid", "password": "demo-acme", "csrf_token": token}
    )
    assert response.status_code == 302
    without_token = client.post("/login", data={"email": "a@b.c", "password": "x"})
    assert without_token.status_code == 400


def test_demo_mode_reads_through_the_same_client_and_cache(tmp_path):
    app = create_app(
        {
            "USAGE_DEMO": "on",
            "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
        }
    )
    upstreams = app.extensions["upstreams"]
    assert upstreams.demo is not None
    acme = isnotai_integration("acme")
    end = datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=3)
    first = upstreams.isnotai.usage(acme.key, "us", start, end)
    again = upstreams.isnotai.usage(acme.key, "us", start, end)
    assert (first.source, again.source) == ("upstream", "cache")
    events = {p.period: p.value for p in first.value.series("Events")}
    assert events == isnotai_expected("acme", start, end)["Events"]
    assert upstreams.demo.isnotai_urls()["us"].startswith("http://127.0.0.1:")
    usage = upstreams.evovoice.usage(start, end)
    assert usage.value.accounts
    upstreams.http.close()


def test_proxy_headers_are_trusted_only_when_configured(app_config):
    from flask import request

    for hops, expected in ((0, "127.0.0.1"), (1, "203.0.113.9")):
        app = create_app({**app_config, "USAGE_PROXY_HOPS": hops})
        app.add_url_rule("/_addr", "addr", lambda: request.remote_addr)
        seen = app.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.9"})
        assert seen.get_data(as_text=True) == expected


@pytest.mark.parametrize("encoding", ["br", "gzip", "identity"])
def test_assets_are_compressed_once_and_revalidated(client, encoding):
    import gzip as gzip_module

    import brotli

    lock = json.loads((ROOT / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/plotly.js-basic-dist-min"]["version"]
    url = f"/assets/vendor/{version}/plotly.js"
    original = (ROOT / "node_modules/plotly.js-basic-dist-min/plotly-basic.min.js").read_bytes()
    response = client.get(url, headers={"Accept-Encoding": encoding})
    assert response.status_code == 200
    assert "Accept-Encoding" in response.headers["Vary"]
    body = response.get_data()
    if encoding == "br":
        assert response.headers["Content-Encoding"] == "br"
        assert brotli.decompress(body) == original and len(body) < len(original) / 3
    elif encoding == "gzip":
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip_module.decompress(body) == original
    else:
        assert "Content-Encoding" not in response.headers and body == original
    again = client.get(
        url, headers={"Accept-Encoding": encoding, "If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304


def test_own_static_files_are_versioned_and_confined(client):
    page = client.get("/login").get_data(as_text=True)
    css = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', page)[1]
    response = client.get(css, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/%2e%2e/app.py").status_code == 404
    assert client.get("/static/nope.css").status_code == 404


def test_pages_are_compressed(client):
    response = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    br = client.get("/login", headers={"Accept-Encoding": "br, gzip"})
    assert br.headers["Content-Encoding"] == "br"
