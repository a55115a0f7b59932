"""The usage page and its AI-minutes export without an EvoVoice credential: one wording."""

from __future__ import annotations

import pytest

from services.usage import NOT_CONFIGURED


@pytest.fixture
def app_config(app_config):
    return {**app_config, "USAGE_EVOVOICE_USERNAME": "", "USAGE_EVOVOICE_PASSWORD": ""}


@pytest.fixture
def customer(client, make_tenant, make_user, login):
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_user("acme@example.com", tenant="acme")
    return login(client, "acme@example.com")


def test_the_page_and_the_export_say_evovoice_is_not_configured_alike(customer, sims):
    page = customer.get("/usage?preset=7d").get_data(as_text=True)
    assert NOT_CONFIGURED in page
    assert "chart-Events-data" in page  # isnotai is still shown
    export = customer.get("/usage/ai-minutes.csv?preset=7d")
    assert export.status_code == 502
    assert NOT_CONFIGURED in export.get_data(as_text=True)
    assert not [c for c in sims.state.calls() if c["path"] == "/ai/usage"]
