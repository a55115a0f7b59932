"""Signing in through the real form in Chromium."""

from __future__ import annotations

import pytest

FAILED_LOGIN = "Email or password is incorrect."


def test_login_form_signs_a_customer_in(page, shoot, browser_log):
    page.goto("/usage")
    assert "/login" in page.url, "a signed-out visitor is sent to the sign-in page"
    shoot(page, "login")

    page.fill("main input[name=email]", "globex@demo.invalid")
    page.fill("main input[name=password]", "demo-globex")
    page.click("main form button[type=submit]")
    # The address, not the page's load: on a loaded machine the charts may take a while.
    page.wait_for_url("**/usage", wait_until="commit")

    assert page.locator(".topbar .who").inner_text().startswith("globex@demo.invalid")
    assert page.locator("h1").inner_text().startswith("Usage")
    browser_log.assert_clean()


@pytest.mark.parametrize(
    ("email", "password"),
    [("globex@demo.invalid", "not-the-password"), ("nobody@demo.invalid", "demo-globex")],
    ids=["wrong-password", "unknown-email"],
)
def test_failed_login_shows_the_generic_message(page, shoot, browser_log, request, email, password):
    browser_log.allow(r"status of 401")  # the form's own answer; Chromium logs it
    page.goto("/login")
    page.fill("main input[name=email]", email)
    page.fill("main input[name=password]", password)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("main form button[type=submit]")

    assert answer.value.status == 401
    page.wait_for_load_state()
    assert page.url.endswith("/login")
    assert page.locator("main [role=alert]").inner_text().strip() == FAILED_LOGIN
    assert page.input_value("main input[name=email]") == email, "the email is kept"
    assert page.input_value("main input[name=password]") == "", "the password is not"
    shoot(page, f"login-failed-{request.node.callspec.id}")
    browser_log.assert_clean()


def test_after_a_wrong_password_typing_goes_to_the_password(page, shoot, browser_log):
    browser_log.allow(r"status of 401")
    email = "newcomer@demo.invalid"  # unknown: the answer is the same, and no login's count grows
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_label("Password", exact=True).press("Enter")
    assert answer.value.status == 401
    page.wait_for_load_state()

    password = page.get_by_label("Password", exact=True)
    assert page.evaluate("document.activeElement.id") == "login-password"
    assert page.get_by_label("Email").input_value() == email
    alert = page.get_by_role("alert")
    assert alert.inner_text().strip() == FAILED_LOGIN
    for field in (page.get_by_label("Email"), password):
        assert field.get_attribute("aria-invalid") == "true"
        assert field.get_attribute("aria-describedby") == alert.get_attribute("id")
    # What the accessibility tree gives the focused field as its description is the message.
    described = page.evaluate(
        "document.getElementById(document.activeElement.getAttribute('aria-describedby'))"
        ".innerText.trim()"
    )
    assert described == FAILED_LOGIN
    shoot(page, "login-failed-focus")
    browser_log.assert_clean()


def test_show_password_reveals_and_hides_it(page, browser_log):
    page.goto("/login")
    assert page.evaluate("document.activeElement.id") == "login-email"  # a fresh form
    password = page.get_by_label("Password", exact=True)
    password.fill("typed-secret")
    show = page.get_by_label("Show password")
    show.check()
    assert password.get_attribute("type") == "text"
    assert password.input_value() == "typed-secret"
    show.uncheck()
    assert password.get_attribute("type") == "password"
    browser_log.assert_clean()
