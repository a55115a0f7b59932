"""/alerts and /demo/mail in Chromium: a rule added through the form on a laptop and a phone,
a refusal shown beside its field, and a mail sent through the demo's SMTP sink read by staff."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from tests.conftest import build_app

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}

# Cells of the tables that reach past the screen.
OFF_SCREEN = """() => Array.from(document.querySelectorAll('table.stacks th, table.stacks td'))
  .filter(c => c.checkVisibility())
  .filter(c => { const r = c.getBoundingClientRect(); return r.left < 0 || r.right > innerWidth; })
  .map(c => c.textContent.trim())"""


@pytest.fixture(scope="module")
def server_app(server) -> Iterator:
    """An app on the demo server's database, to send it mail through a real SMTP sink."""
    application = build_app(
        {
            "USAGE_DEMO": "on",
            "USAGE_DEMO_SMTP_PORT": 0,
            "USAGE_DATABASE_URL": server.env["USAGE_DATABASE_URL"],
            "USAGE_CACHE_URL": server.env["USAGE_CACHE_URL"],
        }
    )
    yield application
    application.extensions["upstreams"].http.close()


@pytest.mark.parametrize(
    ("device", "tenant"), [("desktop", "globex"), ("phone", "initech")], ids=["desktop", "phone"]
)
def test_staff_add_a_rule_through_the_form(open_page, login, shoot, browser_log, device, tenant):
    page = open_page(**(PHONE if device == "phone" else DESKTOP))
    login(page, "staff")
    page.goto("/alerts")
    page.get_by_role("link", name="New rule").click()
    page.wait_for_url("**/alerts/new")

    # First a threshold of 0: refused beside its field, the rest of the form kept.
    browser_log.allow(r"status of 400")  # the form's own answer; Chromium logs it
    page.get_by_label("Tenant").select_option(tenant)
    page.get_by_label("Source").select_option(label="API calls")
    page.get_by_label("Window").select_option("7d")
    page.get_by_label("Condition").select_option("above")
    page.get_by_label("Threshold").fill("0")
    page.get_by_label("Email to").fill(f"ops@{tenant}.example")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Add rule").click()
    assert answer.value.status == 400
    page.wait_for_load_state()
    threshold = page.get_by_label("Threshold")
    assert threshold.get_attribute("aria-invalid") == "true"
    error = page.locator("#threshold-error")
    assert "whole number above 0" in error.inner_text()
    # The message sits right under its field, on screen with it.
    field_box, error_box = threshold.bounding_box(), error.bounding_box()
    assert field_box and error_box and 0 <= error_box["y"] - field_box["y"] < 120
    assert page.get_by_label("Email to").input_value() == f"ops@{tenant}.example"
    assert page.get_by_label("Tenant").input_value() == tenant
    shoot(page, f"alerts-refused-{device}")

    threshold.fill("25,000")
    page.get_by_role("button", name="Add rule").click()
    page.wait_for_url(f"**/alerts?tenant={tenant}")
    assert "Added rule" in page.locator("main [role=alert]").inner_text()
    row = page.locator("#rules tbody tr", has_text="API calls above 25,000 in the last 7 days")
    assert row.count() == 1
    assert "not evaluated yet" in row.inner_text()
    assert f"ops@{tenant}.example" in row.inner_text()
    if device == "phone":
        assert page.evaluate(OFF_SCREEN) == []
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")

    # Disable it with its row's button: no JavaScript involved, a POST with its CSRF token.
    row.get_by_role("button", name="Disable").click()
    page.wait_for_url(f"**/alerts?tenant={tenant}")
    row = page.locator("#rules tbody tr", has_text="API calls above 25,000 in the last 7 days")
    assert "Disabled" in row.inner_text()
    shoot(page, f"alerts-{device}")
    browser_log.assert_clean()


STYLED = """<html><body>
<h1 id="headline" style="color: rgb(180, 35, 24)">AI minutes above 10,000 this month</h1>
<p>72 % reached.</p>
<script>document.body.insertAdjacentHTML("beforeend", "<p id='ran'>ran</p>")</script>
</body></html>"""


def test_staff_read_mail_the_sink_received(server_app, open_page, login, shoot, browser_log):
    from demo.mail_sink import start_sink

    sink = start_sink(server_app)
    assert sink is not None
    try:
        message = EmailMessage()
        message["From"] = "usage@localhost"
        message["To"] = "ops@acme.example"
        message["Subject"] = "acme: AI minutes above 10,000 this month"
        message.set_content("AI minutes above 10,000 this month: 72 % reached.")
        message.add_alternative(STYLED, subtype="html")
        with smtplib.SMTP("127.0.0.1", server_app.extensions["demo_smtp_port"], timeout=10) as s:
            s.send_message(message)
    finally:
        sink.stop()

    # Chromium says so when the frame's sandbox stops the message's script: as it should.
    browser_log.allow(r"Blocked script execution in '\S+/demo/mail/\d+/html'")
    page = open_page(**DESKTOP)
    login(page, "staff")
    page.goto("/demo/mail")
    article = page.locator("article.demo-mail").first
    assert article.locator("h2").inner_text() == "acme: AI minutes above 10,000 this month"
    assert "ops@acme.example" in article.inner_text()
    assert "72 % reached." in article.locator(".mail-text pre").inner_text()

    frame = article.frame_locator("iframe.mail-html")
    headline = frame.locator("#headline")
    headline.wait_for()
    assert headline.evaluate("h => getComputedStyle(h).color") == "rgb(180, 35, 24)"
    assert frame.locator("#ran").count() == 0, "the message's script never runs"
    assert page.title().startswith("Staff · Demo mail")
    shoot(page, "demo-mail")
    browser_log.assert_clean()
