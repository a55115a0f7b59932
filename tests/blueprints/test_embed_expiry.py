"""A click inside a widget whose token no longer works: a status message, never data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.embed_tokens import LEEWAY, mint

from ..conftest import signing_key

HTMX = {"HX-Request": "true"}
EXPIRED = "This view has expired."


@pytest.fixture
def app_config(app_config):
    # One isnotai view costs two reads (the range and the one before): the next is past it.
    return {**app_config, "USAGE_UPSTREAM_BUDGET": 2}


@pytest.fixture
def acme(app, make_tenant):
    make_tenant("acme", integration="acme")


def expired_token(app) -> str:
    """Return a token issued an hour ago that expired past the allowed clock difference."""
    issued = datetime.now(UTC) - timedelta(hours=1)
    return mint(signing_key(app, "acme"), ttl=timedelta(hours=1) - LEEWAY * 2, now=issued)


def assert_status_message(response, status: int, words: str) -> str:
    body = response.get_data(as_text=True)
    assert response.status_code == status, body[:300]
    # Aimed at the widget's status line, so the chart on screen stays.
    assert response.headers["HX-Retarget"] == "#widget-status"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert "HX-Request" in response.headers["Vary"]
    assert "no-store" in response.headers["Cache-Control"]
    assert words in body
    # Only the message: no page around it, no figure, no number, no range link.
    assert "<html" not in body and "<body" not in body
    for data in ("application/json", "data-chart", "<table", "nav", "chart-"):
        assert data not in body, data
    return body


def test_an_htmx_click_with_an_expired_token_gets_only_the_expiry_message(client, app, acme):
    token = expired_token(app)
    response = client.get("/embed/ai-minutes?preset=7d", headers={**HTMX, "X-Embed-Token": token})
    body = assert_status_message(response, 401, EXPIRED)
    assert "Reload the page that shows it" in body
    assert "data-widget-ended" in body  # embed.js disables the range links on it


def test_the_same_expired_url_without_htmx_is_still_the_small_401_page(client, app, acme):
    response = client.get(f"/embed/ai-minutes?token={expired_token(app)}")
    body = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "HX-Retarget" not in response.headers
    assert "can't be shown" in body and "has expired" in body
    assert "data-chart" not in body


def test_a_revoked_token_and_a_rotated_key_answer_the_same_message(client, app, acme):
    cli = app.test_cli_runner()
    revoked = mint(signing_key(app, "acme"), ttl=timedelta(minutes=10), jti="widget-7")
    assert cli.invoke(args=["tenants", "revoke-embeds", "acme", "--jti", "widget-7"]).exit_code == 0
    response = client.get("/embed/metrics?preset=7d", headers={**HTMX, "X-Embed-Token": revoked})
    assert_status_message(response, 403, EXPIRED)

    old_key = mint(signing_key(app, "acme"), ttl=timedelta(minutes=10))
    result = cli.invoke(args=["tenants", "embed-secret", "acme", "--rotate", "--grace", "0"])
    assert result.exit_code == 0, result.output
    response = client.get("/embed/metrics?preset=7d", headers={**HTMX, "X-Embed-Token": old_key})
    assert_status_message(response, 403, EXPIRED)


def test_past_the_budget_an_htmx_click_gets_a_retry_message_not_an_error_page(client, app, acme):
    token = mint(signing_key(app, "acme"), ttl=timedelta(minutes=10))
    headers = {**HTMX, "X-Embed-Token": token}
    assert client.get("/embed/metrics?preset=7d", headers=headers).status_code == 200
    refused = client.get("/embed/metrics?preset=30d", headers=headers)
    body = assert_status_message(refused, 429, "Too many updates")
    assert "Try again in" in body
    assert "data-widget-ended" not in body  # a pause, not the end: the links stay
