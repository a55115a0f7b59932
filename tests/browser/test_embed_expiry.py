"""A widget whose token stops working while it is shown: a click keeps the chart and says so."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import jwt
import pytest

from devtools.servers import BIN, ServerFailed, demo_environment, free_port, run_flask, serving

FRAME = "iframe.usage-widget"
EXPIRED = "This view has expired."
LEEWAY = 30  # seconds a token is still accepted after its exp (services.embed_tokens)
WINDOW = 15  # seconds the test has to load the widget before its token is refused


def signing_key(server, tenant: str = "acme") -> dict:
    """Return a tenant's current signing key, as its backend gets it from the operator."""
    return {
        "tenant": tenant,
        **json.loads(server.flask("tenants", "embed-secret", tenant, "--json")),
    }


def signed(key: dict, issued: float, expires: float, **claims) -> str:
    return jwt.encode(
        {
            "sub": key["tenant"],
            "aud": "usage-embed",
            "iat": int(issued),
            "exp": int(expires),
            **claims,
        },
        key["secret"],
        algorithm="HS256",
        headers={"kid": key["kid"]},
    )


# The demo page's own widgets make way for one iframe showing the test's token.
REFRAME = """(url) => {
  document.querySelectorAll("iframe.usage-widget").forEach((old) => old.remove());
  const frame = document.createElement("iframe");
  frame.className = "usage-widget";
  frame.title = "AI minutes";
  frame.src = url;
  document.querySelector("main").append(frame);
}"""


def open_framed(page, server, token: Callable[[], str], query: str = ""):
    """Show the widget framed by the demo's tenant page (acme's allowed origin); return it.

    The token is minted once that page is up, so its lifetime starts at the framing.
    """
    page.goto(f"{server.host_base}/embed-demo", wait_until="domcontentloaded")
    widget_url = f"{server.base}/embed/ai-minutes?token={token()}{query}"
    with page.expect_response(lambda r: r.url == widget_url) as first:
        page.evaluate(REFRAME, widget_url)
    assert first.value.status == 200, "the token still worked when the page was shown"
    frame = page.locator(FRAME).element_handle().content_frame()
    frame.wait_for_load_state()
    assert frame.url == widget_url
    return frame


def widget_requests(page, server) -> list:
    requests = []
    page.on(
        "request",
        lambda r: requests.append(r) if r.url.startswith(f"{server.base}/embed/") else None,
    )
    return requests


def click_and_check_the_chart_stays(
    page, frame, server, charts, status: int, words: str, *, shown=30, link="Last 7 days"
):
    before = charts.check(frame)
    assert [c.points for c in before] == [shown]
    current = frame.locator("nav.ranges a[aria-current]").inner_text()
    sent = widget_requests(page, server)
    with page.expect_response(lambda r: "/embed/ai-minutes" in r.url) as answer:
        frame.click(f"nav.ranges a:has-text('{link}')")
    assert answer.value.status == status

    message = frame.locator("#widget-status[role=status]")
    message.get_by_text(words).wait_for()
    assert message.is_visible()
    # Nothing of the data was removed: the same chart, still drawn with its days.
    after = charts.check(frame)
    assert [(c.id, c.points) for c in after] == [(c.id, c.points) for c in before]
    assert frame.locator("nav.ranges a[aria-current]").inner_text() == current
    return sent


def test_an_expired_widget_keeps_its_chart_says_so_and_disables_its_controls(
    page, server, charts, shoot, browser_log
):
    browser_log.allow(r"status of 401")  # the refused click's own status
    key = signing_key(server)
    minted = []

    def token() -> str:
        # Issued a minute ago; refused from WINDOW seconds on (its exp plus the leeway).
        minted.append(time.time())
        return signed(key, minted[0] - 60, minted[0] - LEEWAY + WINDOW)

    frame = open_framed(page, server, token)
    charts.wait(frame)
    time.sleep(max(0.0, minted[0] + WINDOW + 1.5 - time.time()))

    sent = click_and_check_the_chart_stays(page, frame, server, charts, 401, EXPIRED)
    assert (
        "Reload the page that shows it" in frame.locator("#widget-status[role=status]").inner_text()
    )

    links = frame.locator("nav.ranges a")
    assert links.count() == 5
    for index in range(links.count()):
        assert links.nth(index).get_attribute("aria-disabled") == "true"
        assert links.nth(index).get_attribute("href") is None
    frame.locator("nav.ranges a:has-text('Last 90 days')").click()
    page.wait_for_timeout(1500)
    assert len(sent) == 1, [r.url for r in sent]  # one refused click: no retry, no loop
    shoot(page, "embed-expired")
    browser_log.assert_clean()


@pytest.mark.parametrize("how", ["revoked", "key rotated away"])
def test_a_revoked_widget_keeps_its_chart_too(page, server, charts, browser_log, how):
    browser_log.allow(r"status of 403")
    key = signing_key(server)
    jti = f"widget-{uuid.uuid4().hex[:8]}"
    now = time.time()
    frame = open_framed(page, server, lambda: signed(key, now, now + 600, jti=jti))
    charts.wait(frame)
    if how == "revoked":
        server.flask("tenants", "revoke-embeds", "acme", "--jti", jti)
    else:  # later tests mint with the new key, as a tenant's backend would
        server.flask("tenants", "embed-secret", "acme", "--rotate", "--grace", "0")

    sent = click_and_check_the_chart_stays(page, frame, server, charts, 403, EXPIRED)
    page.wait_for_timeout(1000)
    assert len(sent) == 1, [r.url for r in sent]
    browser_log.assert_clean()


@pytest.fixture(scope="module")
def thrifty_server(chromium_path, tmp_path_factory):
    """A second demo server whose callers may make only 40 upstream reads a minute."""
    folder = tmp_path_factory.mktemp("thrifty-server")
    port = free_port()
    env = {**demo_environment(folder, port), "USAGE_UPSTREAM_BUDGET": "40"}
    try:
        run_flask(env, "setup")
        command = [BIN / "flask", "--app", "app", "run", "--port", str(port)]
        with serving(command, env, port, folder / "server.log") as running:
            yield running
    except ServerFailed as exc:
        pytest.fail(str(exc))


def test_past_the_budget_a_click_keeps_the_chart_and_says_when_to_retry(
    page, thrifty_server, charts, browser_log
):
    browser_log.allow(r"status of 429")
    server = thrifty_server
    # globex: a tenant the demo page's own (acme) widgets do not charge.
    server.flask("tenants", "set-embed-origins", "globex", server.host_base)
    key = signing_key(server, "globex")
    now = time.time()
    frame = open_framed(page, server, lambda: signed(key, now, now + 600), "&preset=7d")
    charts.wait(frame)

    # 7 days fit the budget; the 90 days' reads, on top, do not.
    sent = click_and_check_the_chart_stays(
        page, frame, server, charts, 429, "Too many updates", shown=7, link="Last 90 days"
    )
    assert "Try again in" in frame.locator("#widget-status[role=status]").inner_text()
    assert frame.locator("nav.ranges a[aria-disabled]").count() == 0  # a pause, not the end
    page.wait_for_timeout(1000)
    assert len(sent) == 1, [r.url for r in sent]
    browser_log.assert_clean()
