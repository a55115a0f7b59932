"""Past the refresh limit the results stay: read through the cache, the button waits."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

HX = {"HX-Request": "true"}
WAIT = re.compile(
    r'<button type="submit" class="secondary" disabled data-refresh-wait="(\d+)">'
    r"Refresh again in (\d+) s</button>"
)


def past_query(days: int = 5) -> str:
    end = datetime.now(UTC).date() - timedelta(days=1)
    return f"start={end - timedelta(days=days - 1)}&end={end}"


def upstream_calls(sims) -> list[dict]:
    return [c for c in sims.state.calls() if c["path"] in ("/v1/usage", "/ai/usage")]


def waits(html: str) -> int | None:
    """Return the wait the Refresh button shows (None: it is enabled), checking its text."""
    found = WAIT.search(html)
    if found is None:
        assert '<button type="submit" class="secondary">Refresh</button>' in html
        assert "Refresh is limited" not in html
        return None
    assert found[1] == found[2]
    assert 'role="status"><p><strong>Refresh is limited</strong>' in html
    return int(found[1])


@pytest.fixture(params=["usage", "staff"])
def page(request, signed_in):
    """Who refreshes which page: acme's customer on /usage, staff on /staff."""
    if request.param == "usage":
        return signed_in["customer"], "/usage"
    return signed_in["staff"], "/staff"


def test_over_the_limit_htmx_gets_the_results_from_the_cache_with_the_button_waiting(page, sims):
    client, path = page
    query = past_query()
    first = client.get(f"{path}?{query}").get_data(as_text=True)
    assert waits(first) is None
    for _ in range(2):
        assert client.post(f"{path}/refresh?{query}", headers=HX).status_code == 200
    third = client.post(f"{path}/refresh?{query}", headers=HX)
    assert third.status_code == 200
    assert 0 < waits(third.get_data(as_text=True)) <= 60  # the next would be refused: say so
    sims.state.clear_calls()

    limited = client.post(f"{path}/refresh?{query}", headers=HX)

    body = limited.get_data(as_text=True)
    assert limited.status_code == 200, body[:300]
    assert 'class="notice error"' not in body and "<html" not in body
    assert '<script type="application/json"' in body  # the charts stay
    assert 'id="results-range"' in body
    assert "/metrics.csv" in body or "/accounts.csv" in body  # the exports stay
    assert 0 < waits(body) <= 60
    assert upstream_calls(sims) == []  # read through the cache: nothing bypassed it


def test_over_the_limit_a_plain_post_goes_back_to_the_page_which_shows_the_wait(page, sims):
    client, path = page
    query = past_query()
    client.get(f"{path}?{query}")
    for _ in range(3):
        assert client.post(f"{path}/refresh?{query}").status_code == 303
    sims.state.clear_calls()

    limited = client.post(f"{path}/refresh?{query}")

    assert limited.status_code == 303
    location = limited.headers["Location"]
    assert location.startswith(f"{path}?") and "/refresh" not in location
    assert upstream_calls(sims) == []
    shown = client.get(location)
    assert shown.status_code == 200
    wait = waits(shown.get_data(as_text=True))
    assert wait is not None and 0 < wait <= 60
    assert waits(client.get(location, headers=HX).get_data(as_text=True)) is not None


def test_showing_a_page_never_counts_as_a_refresh(page):
    client, path = page
    query = past_query()
    for _ in range(6):
        assert waits(client.get(f"{path}?{query}").get_data(as_text=True)) is None
    assert client.post(f"{path}/refresh?{query}", headers=HX).status_code == 200


def test_the_limit_is_per_login(signed_in):
    customer, staff = signed_in["customer"], signed_in["staff"]
    query = past_query()
    for _ in range(3):
        customer.post(f"/usage/refresh?{query}")
    assert waits(customer.get(f"/usage?{query}").get_data(as_text=True)) is not None
    assert waits(staff.get(f"/staff?{query}").get_data(as_text=True)) is None


def test_the_wait_ends_with_the_window(app, signed_in):
    app.config["REFRESH_LIMIT"] = "1 per 2 seconds"
    app.extensions.pop("refresh_limits", None)
    customer = signed_in["customer"]
    query = past_query()
    customer.post(f"/usage/refresh?{query}")
    assert waits(customer.get(f"/usage?{query}").get_data(as_text=True)) in (1, 2)
    time.sleep(2.1)
    assert waits(customer.get(f"/usage?{query}").get_data(as_text=True)) is None


# -- "Try again" is never a GET of a POST-only address --------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "page"), [("/usage/refresh", "/usage"), ("/staff/refresh", "/staff")]
)
def test_an_error_after_a_refresh_offers_its_page_again(app, endpoint, page):
    from flask import render_template

    with app.test_request_context(f"{endpoint}?preset=7d&q=a%26b", method="POST"):
        html = render_template(
            "errors/_fragment.html", code=503, name="Service Unavailable", description="x"
        )
    assert f'href="{page}?preset=7d&amp;q=a%26b">Try again</a>' in html


def test_an_error_after_another_post_offers_no_dead_end(app):
    from flask import render_template

    with app.test_request_context("/logout", method="POST"):
        html = render_template("errors/_fragment.html", code=503, name="x", description="y")
    assert "Try again" not in html
    with app.test_request_context("/usage/metrics.csv?preset=7d"):
        html = render_template("errors/_fragment.html", code=503, name="x", description="y")
    assert 'href="/usage/metrics.csv?preset=7d">Try again</a>' in html


def test_an_upstream_failure_during_a_refresh_links_the_page_not_the_refresh(signed_in, sims):
    customer = signed_in["customer"]
    sims.state.add_fault("isnotai-us", "503")
    body = customer.post("/usage/refresh?preset=7d", headers=HX).get_data(as_text=True)
    links = re.findall(r'<a class="button" href="([^"]+)">Try again</a>', body)
    assert links and all(link.startswith("/usage?") for link in links)
    again = customer.get(links[0].replace("&amp;", "&"))
    assert again.status_code != 405
