"""A slow upstream cannot hold a page past USAGE_PAGE_DEADLINE, and a mistyped staff account
or customer id is named as unknown with the closest ids, not shown as a range of zeros."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from devtools.servers import (
    BIN,
    Server,
    ServerFailed,
    clean_environment,
    free_port,
    run_flask,
    serving,
)
from simulators.data import EVOVOICE_SERVICE_USER, isnotai_integration

from .conftest import TIMEOUT_MS, WATCH_CSP

if TYPE_CHECKING:
    from playwright.sync_api import Page

PAGE_DEADLINE = 2.0
PASSWORD = "correct horse battery"


# -- unknown ids (the demo server) ------------------------------------------------------------


def test_a_mistyped_account_is_named_with_links_to_the_closest(page, login, browser_log):
    login(page, "staff")
    page.goto("/staff?preset=30d&account=acct-n")
    notice = page.locator("#staff-unknown")
    assert notice.locator("strong").inner_text() == "No account acct-n in this range."
    assert page.locator("[data-chart]").count() == 0  # no chart of empty days
    assert page.locator("#staff-customers").count() == 0
    links = notice.locator("ul.staff-suggestions a")
    assert links.first.inner_text() == "acct-northwind"
    assert links.count() <= 5

    links.first.click()  # swaps the results in place
    page.wait_for_selector("#staff-title:has-text('Account acct-northwind')")
    assert page.locator("#staff-unknown").count() == 0
    assert "account=acct-northwind" in page.url
    assert page.locator("#staff-customers tbody tr").count() > 0


def test_a_mistyped_customer_is_named_and_hostile_text_stays_text(page, login, browser_log):
    login(page, "staff")
    page.goto("/staff?preset=30d&account=acct-northwind&customer=cust-alfa")
    notice = page.locator("#staff-unknown")
    assert notice.locator("strong").inner_text() == "No customer cust-alfa in this range."
    assert notice.locator("ul.staff-suggestions a").first.inner_text() == "cust-alpha"

    hostile = "<img src=x>cust"
    page.goto(f"/staff?preset=30d&customer={hostile.replace('<', '%3C').replace('>', '%3E')}")
    strong = page.locator("#staff-unknown strong")
    assert strong.inner_text() == f"No customer {hostile} in this range."
    assert page.locator("#staff-unknown img").count() == 0


# -- a slow upstream (a server of its own, on the test simulators) ----------------------------


@pytest.fixture(scope="module")
def slow_server(chromium_path, sims, tmp_path_factory) -> Iterator[Server]:
    """Serve the app on the test simulators (their faults are ours) with a short page deadline.

    Ranges that include today are saved but never fresh, so every view reads them again.
    """
    folder = tmp_path_factory.mktemp("slow-server")
    port = free_port()
    username, password = EVOVOICE_SERVICE_USER
    env = clean_environment(
        USAGE_DEMO="off",
        USAGE_SECRET_KEY="browser-test-secret-key-0123456789-abcdefghij",
        USAGE_DATABASE_URL=f"sqlite:///{folder / 'db.sqlite'}",
        USAGE_CACHE_URL=f"sqlite:///{folder / 'cache.sqlite'}",
        USAGE_ISNOTAI_US_URL=sims.isnotai_us_url,
        USAGE_ISNOTAI_EU_URL=sims.isnotai_eu_url,
        USAGE_EVOVOICE_URL=sims.evovoice_url,
        USAGE_EVOVOICE_USERNAME=username,
        USAGE_EVOVOICE_PASSWORD=password,
        USAGE_EVOVOICE_END_DATE="inclusive",
        USAGE_PAGE_DEADLINE=str(PAGE_DEADLINE),
        USAGE_UPSTREAM_DEADLINE="10",
        USAGE_READ_TIMEOUT="6",
        USAGE_CACHE_TTL_TODAY="0",
        PYTHONUNBUFFERED="1",
    )
    acme = isnotai_integration("acme")
    try:
        run_flask(env, "setup")
        run_flask(
            env, "tenants", "add", "acme", "--isnotai-key", acme.key, "--region", acme.region,
            "--evovoice-account", "acct-northwind",
        )  # fmt: skip
        run_flask(
            env, "users", "add", "acme@example.com", "--role", "customer", "--tenant", "acme",
            "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        command = [BIN / "flask", "--app", "app", "run", "--port", str(port)]
        with serving(command, env, port, folder / "server.log") as running:
            yield running
    except ServerFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture
def slow_page(browser, slow_server, browser_log) -> Iterator[Page]:
    """A watched page on the slow server, signed in as acme's customer.

    On `localhost`, which Chromium trusts with the Secure session cookie over plain HTTP.
    """
    context = browser.new_context(
        base_url=slow_server.host_base, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.expose_binding(
        "__reportCspViolation", lambda _source, v: browser_log.csp_violations.append(v)
    )
    context.add_init_script(script=WATCH_CSP)
    page = context.new_page()
    browser_log.watch(page)
    page.goto("/login")
    page.fill("main input[name=email]", "acme@example.com")
    page.fill("main input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    # Signed in once the redirect commits; the landing page's own reads are not waited for.
    page.wait_for_url(lambda url: "/login" not in url, wait_until="commit")
    yield page
    context.close()
    browser_log.assert_clean()


def timed_goto(page: Page, url: str) -> tuple[int, float]:
    started = time.monotonic()
    response = page.goto(url)
    return response.status, time.monotonic() - started


def _past_range() -> str:
    end = datetime.now(UTC).date() - timedelta(days=1)
    return f"start={end - timedelta(days=2)}&end={end}&granularity=day"


def test_a_failing_upstream_shows_saved_data_by_the_page_deadline(slow_page, sims):
    page = slow_page
    assert page.goto("/usage?preset=7d").status == 200  # saved, never fresh
    sims.state.add_fault("evovoice", "503")
    sims.state.add_fault("isnotai", "503")
    status, elapsed = timed_goto(page, "/usage?preset=7d")
    # Without the page deadline: retries with backoff until the 10 s upstream deadline.
    assert elapsed < PAGE_DEADLINE + 2, elapsed
    assert status == 200
    notice = page.locator(".notice.warn", has_text="Showing saved data").inner_text()
    assert "slow to answer; the page will have fresh numbers shortly" in notice
    assert page.locator("[data-chart]").count() > 0


def test_without_saved_data_the_page_says_so_then_the_next_view_is_fast(
    slow_page, sims, browser_log, charts: Callable
):
    page = slow_page
    browser_log.allow(r"status of 504")
    page.goto("/usage?preset=7d")  # signs in to EvoVoice before it turns slow
    sims.state.update(latency_ms=3000)
    url = f"/usage?{_past_range()}"
    status, elapsed = timed_goto(page, url)
    assert elapsed < PAGE_DEADLINE + 2, elapsed
    assert status == 504
    error = page.locator("#minutes-title ~ .notice.error").inner_text()
    assert "EvoVoice is slow to answer; the page will have fresh numbers shortly" in error

    time.sleep(3 + 1.5)  # the reads the page left behind end and save their answers
    sims.state.clear_calls()
    status, elapsed = timed_goto(page, url)
    assert status == 200
    assert elapsed < PAGE_DEADLINE, elapsed
    assert [c for c in sims.state.calls() if c["path"] in ("/v1/usage", "/ai/usage")] == []
    assert page.locator(".notice.error").count() == 0
    charts.check(page)
