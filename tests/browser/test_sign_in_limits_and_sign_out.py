"""The warning before sign-in is paused, and signing out, in Chromium.

Both run against a demo server of their own: a pause needs several failures from 127.0.0.1,
which would eat into the shared server's per-address limit, and signing out everywhere would
end the sessions the other browser tests reuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from devtools.servers import Server, ServerFailed, demo_server

from .conftest import DEMO_LOGINS

AT_CLOCK = re.compile(r"\(at \d\d:\d\d UTC\)")
PAUSE = "before sign-in is paused for up to 15 minutes."  # 5 per 15 minutes per account


@pytest.fixture(scope="module")
def own_server(chromium_path, tmp_path_factory) -> Iterator[Server]:
    try:
        with demo_server(tmp_path_factory.mktemp("own-server")) as running:
            yield running
    except ServerFailed as exc:
        pytest.fail(str(exc))


def sign_in(page, base: str, who: str, then: str = "/") -> None:
    """Sign in through the form and wait until the next page's address is reached."""
    email, password = DEMO_LOGINS[who]
    page.goto(f"{base}/login?next={then}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    # Only the address: the usage page's charts may take a while on a loaded machine.
    page.wait_for_url(lambda url: "/login" not in url, wait_until="commit")


def failed_attempts(page, base: str, email: str, count: int) -> list[tuple[int, str]]:
    """Try a wrong password `count` times, typing where focus is left; return the answers."""
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).focus()
    answers = []
    for attempt in range(count):
        page.keyboard.type(f"wrong-{attempt}")  # after a failure, focus is on the password
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.keyboard.press("Enter")
        page.wait_for_load_state()
        text = " ".join(page.get_by_role("alert").inner_text().split())
        answers.append((answer.value.status, AT_CLOCK.sub("(at a time)", text)))
        assert page.get_by_label("Email").input_value() == email
    return answers


def test_sign_in_warns_before_it_pauses_alike_for_any_email(
    open_page, own_server, shoot, browser_log
):
    browser_log.allow(r"status of (401|429)")  # the form's own answers; Chromium logs them
    page = open_page()
    known = failed_attempts(page, own_server.base, DEMO_LOGINS["acme"][0], 6)
    shoot(page, "login-paused")
    failed = "Email or password is incorrect."
    assert known == [
        (401, failed),
        (401, failed),
        (401, f"{failed} 2 attempts left {PAUSE}"),
        (401, f"{failed} 1 attempt left {PAUSE}"),
        (401, f"{failed} Sign-in is now paused; try again in 15 minutes (at a time)."),
        (429, "Too many sign-in attempts; try again in 15 minutes (at a time)."),
    ]
    unknown = failed_attempts(open_page(), own_server.base, "nobody@demo.invalid", 6)
    assert unknown == known, "an unknown email is answered exactly as a known one"
    browser_log.assert_clean()


def test_sign_out_asks_then_signs_out_everywhere(open_page, own_server, shoot, browser_log):
    base = own_server.base
    page, other_device = open_page(), open_page()
    sign_in(page, base, "globex")
    sign_in(other_device, base, "globex", then="/logout")  # a light page: it only asks

    page.get_by_role("navigation", name="Account").get_by_role("link", name="Sign out").click()
    page.wait_for_url(f"{base}/logout")
    assert page.get_by_role("heading", name="Sign out?").is_visible()
    assert "every other device and browser" in page.locator("main").inner_text()
    shoot(page, "sign-out-confirm")

    page.get_by_role("link", name="Stay signed in").click()  # the way back keeps the session
    page.wait_for_url(re.compile(r"/usage$"), wait_until="commit")

    page.goto(f"{base}/logout")
    page.locator("main").get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base}/login")
    assert page.get_by_role("alert").inner_text().strip() == "You are signed out."
    shoot(page, "signed-out")

    for browser_page in (page, other_device):  # this browser and the other one alike
        browser_page.goto(f"{base}/usage")
        assert "/login" in browser_page.url
    browser_log.assert_clean()
