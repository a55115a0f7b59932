"""How the filter forms of /usage and /staff apply changes, in Chromium: one request per
finished edit, the range the results show, focus kept after a swap, a busy state while
loading, and the refresh countdown."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from .conftest import sign_in

START = "#filters input[name=start]"
END = "#filters input[name=end]"


def date_sent(request) -> bool:
    """Tell whether a request is /usage sent with a start date."""
    return urlsplit(request.url).path == "/usage" and "start" in query_of(request.url)


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def watch_swaps(page, path: str) -> list[str]:
    """Collect the URLs of the htmx requests the page sends to `path`."""
    sent: list[str] = []

    def seen(request) -> None:
        if urlsplit(request.url).path == path and request.headers.get("hx-request") == "true":
            sent.append(request.url)

    page.on("request", seen)
    return sent


def settle(page, sent: list[str], count: int, quiet_ms: int = 1500) -> None:
    """Wait for `count` requests, then long enough for any debounced one to have been sent."""
    for _ in range(50):
        if len(sent) >= count:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(quiet_ms)
    page.wait_for_function("() => !document.querySelector('#results[aria-busy]')")


@pytest.fixture(scope="module")
def signed_in(browser, server) -> dict[str, dict]:
    """Sign globex and staff in once for the module: every sign-in from one address counts
    against its limit (20 per 15 minutes), which the whole browser suite shares."""
    states = {}
    for who in ("globex", "staff"):
        context = browser.new_context(base_url=server.base)
        try:
            sign_in(context.new_page(), who)
            states[who] = context.storage_state()
        finally:
            context.close()
    return states


def open_signed_in(open_page, signed_in, who: str, path: str):
    """Open `path` as `who` in en-US (dates typed as mm/dd/yyyy), in UTC."""
    page = open_page(locale="en-US", timezone_id="UTC", storage_state=signed_in[who])
    page.goto(path)
    assert urlsplit(page.url).path == path, page.url
    return page


@pytest.fixture
def usage_page(open_page, signed_in, charts):
    """A page signed in as globex on /usage."""
    page = open_signed_in(open_page, signed_in, "globex", "/usage")
    charts.check(page)
    return page


@pytest.fixture
def staff_page(server, open_page, signed_in, charts):
    """A page signed in as staff on /staff; skip while /staff is not registered."""
    answer = requests.get(f"{server.base}/staff", allow_redirects=False, timeout=10)
    if answer.status_code == 404:
        pytest.skip("GET /staff answers 404: the staff blueprint is not registered yet")
    page = open_signed_in(open_page, signed_in, "staff", "/staff")
    charts.check(page)
    return page


# -- 3: one request per finished edit -----------------------------------------------------


def test_typing_a_date_sends_one_request_and_one_history_entry(usage_page, browser_log):
    page = usage_page
    sent = watch_swaps(page, "/usage")
    history = page.evaluate("history.length")
    end = date.fromisoformat(page.input_value(END))
    start = end - timedelta(days=20)

    page.focus(START)  # the month segment first, in en-US
    # Digit by digit, slowly: "0915" is already a whole date (the 1st) before the day is done.
    page.keyboard.type(start.strftime("%m%d%Y"), delay=300)
    page.wait_for_timeout(1500)
    assert sent == [], "a typed date waits for Enter or for leaving the field"
    page.keyboard.press("Enter")
    settle(page, sent, 1)

    assert len(sent) == 1, f"one request for one typed date, got {sent}"
    assert query_of(sent[0])["start"] == start.isoformat()
    assert query_of(sent[0])["preset"] == "custom"
    assert page.evaluate("history.length") == history + 1, "one history entry"
    assert query_of(page.url)["start"] == start.isoformat()
    assert "longer than 366 days" not in page.inner_text("#results")
    assert page.input_value(START) == start.isoformat()
    browser_log.assert_clean()


def test_a_date_typed_then_left_with_tab_applies_at_once(usage_page, browser_log):
    page = usage_page
    end = date.fromisoformat(page.input_value(END))
    start = end - timedelta(days=10)
    sent = watch_swaps(page, "/usage")

    page.focus(START)
    page.keyboard.type(start.strftime("%m%d%Y"), delay=40)
    for _ in range(3):  # Chromium may stop on the field's calendar button first
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") != "start":
            break
    page.wait_for_timeout(250)
    assert len(sent) == 1, "sent on leaving the field"
    settle(page, sent, 1)

    assert [query_of(url)["start"] for url in sent] == [start.isoformat()]
    browser_log.assert_clean()


def test_enter_applies_a_typed_date_at_once(usage_page, browser_log):
    page = usage_page
    end = date.fromisoformat(page.input_value(END))
    start = end - timedelta(days=5)
    sent = watch_swaps(page, "/usage")

    page.focus(START)
    page.keyboard.type(start.strftime("%m%d%Y"), delay=40)
    with page.expect_request(date_sent, timeout=500):  # not after the keys' rest
        page.keyboard.press("Enter")
    settle(page, sent, 1)

    assert [query_of(url)["start"] for url in sent] == [start.isoformat()]
    assert page.evaluate("document.activeElement.name") == "start", "focus stays in the field"
    browser_log.assert_clean()


def test_arrow_keys_on_a_closed_select_send_one_request(usage_page, browser_log):
    page = usage_page
    sent = watch_swaps(page, "/usage")
    history = page.evaluate("history.length")
    options = page.eval_on_selector_all(
        "#filters select[name=metric] option", "(options) => options.map((o) => o.value)"
    )

    page.focus("#filters select[name=metric]")
    for _ in range(3):
        page.keyboard.press("ArrowDown")
        page.wait_for_timeout(60)
    settle(page, sent, 1)

    assert len(sent) == 1, f"one request for three arrow keys, got {sent}"
    assert query_of(sent[0])["metric"] == options[3]
    assert page.evaluate("history.length") == history + 1
    browser_log.assert_clean()


def test_a_select_picked_with_the_mouse_applies_at_once(usage_page, browser_log):
    page = usage_page
    with page.expect_request(lambda r: "granularity=week" in r.url, timeout=300) as asked:
        page.select_option("#filters select[name=granularity]", "week")  # no debounce
    assert asked.value.headers.get("hx-request") == "true"
    browser_log.assert_clean()


# -- 4: the form shows the range the results show -----------------------------------------


@pytest.mark.parametrize("where", ["usage", "staff"])
def test_a_preset_shows_its_range_and_leaves_no_stale_dates(request, charts, browser_log, where):
    page = request.getfixturevalue(f"{where}_page")
    old = (page.input_value(START), page.input_value(END))
    charts.mark_stale(page)

    with page.expect_response(lambda r: "preset=7d" in r.url) as answer:
        page.select_option("#filters select[name=preset]", "7d")
    charts.wait(page)
    page.wait_for_function(f"() => document.querySelector('{START}').value !== {old[0]!r}")

    sent = query_of(answer.value.url)
    assert "start" not in sent and "end" not in sent, f"stale dates sent: {answer.value.url}"
    pushed = query_of(page.url)
    assert pushed.get("preset") == "7d"
    assert "start" not in pushed and "end" not in pushed, f"stale dates in the URL: {page.url}"
    start, end = (
        date.fromisoformat(page.input_value(START)),
        date.fromisoformat(page.input_value(END)),
    )
    assert (end - start).days == 6
    assert end in {datetime.now(UTC).date(), datetime.now(UTC).date() - timedelta(days=1)}
    shown = page.locator("#results .freshness p strong").all_inner_texts()[:2]
    assert shown == [start.isoformat(), end.isoformat()], "the form says what the results show"

    # Editing a date afterwards is a custom range again.
    with page.expect_response(lambda r: "preset=custom" in r.url):
        page.fill(START, (start - timedelta(days=3)).isoformat())
    assert page.input_value("#filters select[name=preset]") == "custom"
    browser_log.assert_clean()


# -- 6: focus after a results link --------------------------------------------------------


def tab_to(page, selector: str, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


ACTIVE = """
() => {
  const el = document.activeElement;
  return { body: el === document.body, inResults: !!el.closest('#results'),
           id: el.id, label: el.getAttribute('aria-label') || '', tag: el.tagName };
}
"""


def test_focus_stays_on_a_sort_header_after_enter(staff_page, charts, browser_log):
    page = staff_page
    tab_to(page, "#results thead a")
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    page.evaluate("document.activeElement.scrollIntoView({block: 'center'})")
    before = page.evaluate("document.activeElement.getBoundingClientRect().top")
    charts.mark_stale(page)

    with page.expect_response(lambda r: "sort=" in r.url):
        page.keyboard.press("Enter")
    charts.wait(page)
    page.wait_for_timeout(100)  # after htmx settles

    active = page.evaluate(ACTIVE)
    assert not active["body"], "focus fell to <body>"
    assert active["inResults"] and active["label"] == label, active
    # It stays where it was on screen, over its rows, however the swap moved the page.
    after = page.evaluate("document.activeElement.getBoundingClientRect().top")
    assert abs(after - before) <= 2, (before, after)
    browser_log.assert_clean()


def test_focus_moves_to_the_results_heading_when_the_link_is_gone(staff_page, charts, browser_log):
    page = staff_page
    tab_to(page, "#results tbody th a")  # an account id: its results have no such link
    charts.mark_stale(page)

    with page.expect_response(lambda r: "account=" in r.url):
        page.keyboard.press("Enter")
    charts.wait(page)
    page.wait_for_timeout(100)

    active = page.evaluate(ACTIVE)
    assert not active["body"], "focus fell to <body>"
    assert active["id"] == "staff-title", active
    browser_log.assert_clean()


# -- 7: a loading state -------------------------------------------------------------------

# Records, in the page, when a filter changed and when #results became busy.
WATCH_BUSY = """
() => {
  window.__busy = { changed: null, busy: null, idle: null };
  document.addEventListener('change', () => { window.__busy.changed = performance.now(); }, true);
  const results = document.getElementById('results');
  new MutationObserver(() => {
    const now = performance.now();
    if (results.getAttribute('aria-busy') === 'true') window.__busy.busy ??= now;
    else if (window.__busy.busy !== null) window.__busy.idle ??= now;
  }).observe(results, { attributes: true, attributeFilter: ['aria-busy'] });
}
"""


def test_results_are_busy_while_a_slow_answer_loads(usage_page, charts, browser_log):
    page = usage_page
    held = []  # a slow upstream, as the browser sees it: the answer waits until released
    page.route(
        lambda url: urlsplit(url).path == "/usage" and "granularity=week" in url,
        lambda route: held.append(route),
    )
    page.evaluate(WATCH_BUSY)
    charts.mark_stale(page)

    page.select_option("#filters select[name=granularity]", "week")
    page.wait_for_function("() => window.__busy.busy !== null", timeout=2000)
    timing = page.evaluate("window.__busy")
    assert timing["busy"] - timing["changed"] < 100, timing
    page.wait_for_timeout(300)  # the dimming transition
    assert float(page.eval_on_selector("#results", "(r) => getComputedStyle(r).opacity")) < 1
    assert page.get_attribute("#results", "aria-busy") == "true", "still busy while waiting"

    assert len(held) == 1
    held[0].continue_()
    charts.wait(page)
    page.wait_for_function("() => !document.getElementById('results').hasAttribute('aria-busy')")
    # The charts are drawn as the answer goes in, so the undimming transition may still run.
    page.wait_for_function(
        "() => getComputedStyle(document.getElementById('results')).opacity === '1'"
    )
    browser_log.assert_clean()


def test_undrawn_charts_are_skeleton_boxes(usage_page, browser_log):
    page = usage_page
    style = page.evaluate(
        """() => {
          const box = document.createElement('div');
          box.className = 'plot';
          document.querySelector('#results .chart').append(box);
          const s = getComputedStyle(box);
          const found = { image: s.backgroundImage, height: box.getBoundingClientRect().height };
          box.remove();
          return found;
        }"""
    )
    assert "gradient" in style["image"] and style["height"] > 100, style
    browser_log.assert_clean()


# -- 1: the refresh countdown -------------------------------------------------------------

PLAIN_REFRESH = '<button type="submit" class="secondary">Refresh</button>'
WAITING_REFRESH = (
    '<button type="submit" class="secondary" disabled data-refresh-wait="2">'
    "Refresh again in 2 s</button>"
)
REFRESH = "#results form[action*='refresh'] button"


def refused_refresh(route) -> None:
    """Answer with the server's page or fragment, its Refresh button over the limit."""
    answer = route.fetch()
    body = answer.text()
    assert PLAIN_REFRESH in body
    route.fulfill(response=answer, body=body.replace(PLAIN_REFRESH, WAITING_REFRESH))


def count_down(page) -> None:
    page.wait_for_function(
        f"() => document.querySelector({REFRESH!r}).textContent === 'Refresh again in 1 s'",
        timeout=3000,
    )
    assert page.is_disabled(REFRESH)
    page.wait_for_function(
        f"() => {{ const b = document.querySelector({REFRESH!r});"
        " return !b.disabled && b.textContent === 'Refresh'; }",
        timeout=3000,
    )


def test_a_refused_refresh_counts_down_on_page_load(open_page, signed_in, browser_log):
    page = open_signed_in(open_page, signed_in, "globex", "/usage")
    page.route(lambda url: urlsplit(url).path == "/usage", refused_refresh)
    page.goto("/usage?preset=7d")
    count_down(page)
    browser_log.assert_clean()


def test_a_refused_refresh_counts_down_after_a_swap(usage_page, browser_log):
    page = usage_page
    page.route(
        lambda url: urlsplit(url).path == "/usage" and "granularity=week" in url,
        refused_refresh,
    )
    page.select_option("#filters select[name=granularity]", "week")
    page.wait_for_selector(f"{REFRESH}[data-refresh-wait], {REFRESH}:disabled", timeout=5000)
    count_down(page)
    browser_log.assert_clean()


def test_enter_in_a_staff_text_field_sends_one_request(staff_page, browser_log):
    page = staff_page
    sent = watch_swaps(page, "/staff")
    page.focus("#filters [name=q]")
    page.keyboard.type("acct", delay=40)
    page.keyboard.press("Enter")
    settle(page, sent, 1)

    assert len(sent) == 1, f"one request for one Enter, got {sent}"
    assert query_of(sent[0])["q"] == "acct"
    browser_log.assert_clean()


def test_typing_in_a_staff_picker_leaves_the_address_alone(staff_page, browser_log):
    page = staff_page
    before, history = page.url, page.evaluate("history.length")
    with page.expect_response(lambda r: "/staff/accounts/options" in r.url):
        page.focus("#account-picker")
        page.keyboard.type("ac", delay=40)
    page.wait_for_timeout(300)

    assert page.url == before, "the suggestions are not a page to go back to"
    assert page.evaluate("history.length") == history
    browser_log.assert_clean()


def test_refused_filters_leave_the_address_and_history_alone(usage_page, browser_log):
    page = usage_page
    before, history = page.url, page.evaluate("history.length")
    browser_log.allow(r"status of 400")
    with page.expect_response(lambda r: r.status == 400):
        # A daily range longer than the 92 days `day` allows: refused with a message.
        page.evaluate(
            """() => {
                const form = document.getElementById("filters");
                form.elements.preset.value = "custom";
                form.elements.start.value = "2024-01-01";
                form.elements.granularity.value = "day";
                form.requestSubmit();
            }"""
        )
    page.wait_for_function("() => !document.querySelector('#results[aria-busy]')")

    assert "can't be shown" in page.inner_text("#results")
    assert page.url == before, "Back must not pair this address with another view's results"
    assert page.evaluate("history.length") == history
    browser_log.assert_clean()
