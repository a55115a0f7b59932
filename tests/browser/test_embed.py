"""The embeddable widget in Chromium: framed from a second origin, sized, refused elsewhere."""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from html import escape
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest

FRAMES = "iframe.usage-widget"


def frame_of(page, selector: str, index: int):
    """Return the content frame of an iframe once its document is the widget's."""
    handle = page.locator(selector).nth(index)
    handle.scroll_into_view_if_needed()  # the demo page's iframes load lazily
    frame = handle.element_handle().content_frame()
    frame.wait_for_load_state()
    return frame


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_widgets_framed_from_another_origin_draw_and_are_sized(
    page, server, charts, shoot, browser_log
):
    widget_responses = []
    page.on(
        "response",
        lambda r: widget_responses.append(r) if r.url.startswith(f"{server.base}/embed/") else None,
    )
    page.goto(f"{server.host_base}/embed-demo")
    assert origin(page.url) == server.host_base

    frames = [frame_of(page, FRAMES, i) for i in range(page.locator(FRAMES).count())]
    assert len(frames) == 2
    drawn = [charts.check(frame) for frame in frames]
    assert all(origin(frame.url) == server.base for frame in frames), "widgets: the app's origin"
    assert [c.id for c in drawn[0]] == [
        f"chart-{m}-data" for m in ("ApiCalls", "Events", "Sessions", "StorageBytes", "BotAnalyses")
    ]
    assert [c.id for c in drawn[1]] == ["chart-ai-minutes-data"]
    assert len(widget_responses) == 2
    for response in widget_responses:  # the token in the URL is the widgets' only credential
        assert "set-cookie" not in response.all_headers(), response.url
        assert "cookie" not in response.request.all_headers(), response.url

    # The host sized each iframe from the widget's height message.
    page.wait_for_function(
        """(selector) => Array.from(document.querySelectorAll(selector)).every(
             (f) => /^\\d+px$/.test(f.style.height) && parseInt(f.style.height, 10) > 100)""",
        arg=FRAMES,
    )
    for index, frame in enumerate(frames):
        framed = page.locator(FRAMES).nth(index).evaluate("f => parseInt(f.style.height, 10)")
        content = frame.evaluate(
            "Math.ceil(document.documentElement.getBoundingClientRect().height)"
        )
        assert abs(framed - content) <= 2, (index, framed, content)
    shoot(page, "embed-demo", fit=True)
    browser_log.assert_clean()


def test_widget_range_switch_works_inside_the_frame(page, server, charts, shoot, browser_log):
    page.goto(f"{server.host_base}/embed-demo")
    frame = frame_of(page, FRAMES, 1)  # AI minutes
    assert charts.check(frame)[0].points == 30

    charts.mark_stale(frame)
    with page.expect_response(lambda r: "/embed/ai-minutes" in r.url and "preset=7d" in r.url) as a:
        frame.click("nav.ranges a:has-text('Last 7 days')")
    request = a.value.request
    assert a.value.status == 200
    assert request.headers.get("hx-request") == "true"
    assert request.headers.get("x-embed-token"), "the widget's own requests carry the token"
    assert "token" not in dict(parse_qsl(urlsplit(request.url).query)), "…not in the URL"
    assert "cookie" not in request.headers

    assert [c.points for c in charts.check(frame)] == [7]
    assert frame.locator("nav.ranges a[aria-current]").inner_text() == "Last 7 days"
    page.wait_for_function(  # the host follows the widget's new height
        "([sel, h]) => parseInt(document.querySelectorAll(sel)[1].style.height, 10) === h",
        arg=[
            FRAMES,
            frame.evaluate("Math.ceil(document.documentElement.getBoundingClientRect().height)"),
        ],
    )
    shoot(page, "embed-demo-7d", fit=True)
    browser_log.assert_clean()


def test_widget_tokens_stay_out_of_the_server_log(page, server, charts, browser_log):
    page.goto(f"{server.host_base}/embed-demo")
    for index in range(page.locator(FRAMES).count()):
        charts.wait(frame_of(page, FRAMES, index))
    sources = page.locator(FRAMES).evaluate_all("(frames) => frames.map((f) => f.src)")
    tokens = [dict(parse_qsl(urlsplit(src).query))["token"] for src in sources]

    deadline = time.monotonic() + 5
    while "/embed/ai-minutes?token=[redacted]" not in (log := server.log.read_text()):
        assert time.monotonic() < deadline, "the widget requests were not logged"
        time.sleep(0.1)
    assert "/embed/metrics?token=[redacted]" in log
    leaked = [token[:12] + "…" for token in tokens if token in log]
    assert leaked == [], "embed tokens in the server's access log"
    browser_log.assert_clean()


@pytest.fixture
def foreign_host(tmp_path):
    """Serve static files from a folder on another loopback origin (not in acme's list)."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        """Keep the test output quiet."""


def test_widget_refuses_to_be_framed_by_an_origin_not_allowed(
    page, server, foreign_host, shoot, browser_log
):
    folder, foreign = foreign_host
    url = server.flask("embed-token", "acme").strip()
    assert url.startswith(f"{server.base}/embed/metrics?token=")

    # The same URL works on its own: only the framing rule refuses the foreign host.
    direct = page.request.get(url)
    assert direct.status == 200
    assert "frame-ancestors " + server.host_base in direct.headers["content-security-policy"]
    assert "chart-ApiCalls-data" in direct.text()

    (folder / "host.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        "<title>Another site</title></head><body><h1>Not an allowed origin</h1>"
        f'<iframe id="widget" src="{escape(url)}" style="width:100%;height:400px"></iframe>'
        "</body></html>"
    )
    browser_log.allow(r"frame-ancestors")
    page.goto(f"{foreign}/host.html")

    deadline = time.monotonic() + 10
    while not any("frame-ancestors" in e for e in browser_log.console_errors):
        assert time.monotonic() < deadline, f"no framing refusal: {browser_log.console_errors}"
        page.wait_for_timeout(100)
    refusal = next(e for e in browser_log.console_errors if "frame-ancestors" in e)
    assert server.host_base in refusal, refusal  # the policy names only acme's origin

    frame = page.locator("#widget").element_handle().content_frame()
    assert origin(frame.url) != server.base, frame.url  # Chromium's error page instead
    assert frame.locator(".js-plotly-plot").count() == 0
    assert frame.locator("[data-chart]").count() == 0
    shoot(page, "embed-refused")
    # Only the refusal itself: no other error and no CSP violation of the app's pages.
    browser_log.assert_clean()


def tampered(url: str) -> str:
    """Return the widget URL with its token's tenant changed and the signature kept."""
    token = dict(parse_qsl(urlsplit(url).query))["token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "globex"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return url.replace(token, f"{header}.{forged}.{signature}")


def test_tampered_token_gets_the_small_401_widget_page(page, server, shoot, browser_log):
    browser_log.allow(r"status of 401")  # the widget page's own status
    url = tampered(server.flask("embed-token", "acme").strip())

    response = page.goto(url)

    assert response.status == 401
    assert page.locator(".embed-denied").is_visible()
    assert "can't be shown" in page.locator(".embed-denied").inner_text()
    assert page.locator(".js-plotly-plot, [data-chart]").count() == 0
    assert page.context.cookies() == [], "a widget never sets a cookie"
    shoot(page, "embed-denied-401")
    browser_log.assert_clean()


def test_one_tenants_key_shows_nothing_of_another(page, server, shoot, browser_log):
    browser_log.allow(r"status of 403")
    key = json.loads(server.flask("tenants", "embed-secret", "acme", "--json"))
    now = int(time.time())
    forged = jwt.encode(  # acme's backend, minting for globex
        {"sub": "globex", "aud": "usage-embed", "iat": now, "exp": now + 600},
        key["secret"],
        algorithm="HS256",
        headers={"kid": key["kid"]},
    )

    response = page.goto(f"{server.base}/embed/metrics?token={forged}")

    assert response.status == 403
    assert "another tenant" in page.locator(".embed-denied").inner_text()
    assert page.locator(".js-plotly-plot, [data-chart]").count() == 0
    shoot(page, "embed-denied-403")
    browser_log.assert_clean()
