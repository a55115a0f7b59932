"""Every page through axe-core in Chromium: light and dark, desktop and phone.

A page fails on any violation axe rates serious or critical; the message names the rule,
the elements and the page. axe-core comes from the npm lockfile (a development dependency):
without it these tests skip locally and fail in CI, as the browser tests do without
Chromium. The page's CSP rightly refuses the injected script, so only these checks' browser
contexts bypass it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools import IN_CI
from tests.browser.widgets import mint_widget_paths

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
FAILING = ("serious", "critical")
# Moderate in axe, but each page is one document to a screen reader: held everywhere.
ALWAYS = ("landmark-one-main", "page-has-heading-one")

SCHEMES = ("light", "dark")
DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@dataclass(frozen=True)
class Checked:
    """One page to check: who signs in, where it is, and what shows it is ready."""

    who: str | None  # a demo login, or None for signed out
    path: str  # "{widget:KIND}" is replaced by a freshly minted widget URL
    charts: bool = False  # wait until every chart is drawn
    status: int = 200
    allow: str | None = None  # a console error the page is expected to report


PAGES = {
    "sign-in": Checked(None, "/login"),
    "usage": Checked("acme", "/usage", charts=True),
    "staff-usage": Checked("staff", "/usage?tenant=globex", charts=True),
    "staff-choose-tenant": Checked("staff", "/usage"),
    "staff-overview": Checked("staff", "/staff", charts=True),
    "staff-account": Checked("staff", "/staff?preset=30d&account=acct-northwind", charts=True),
    "staff-unknown-id": Checked("staff", "/staff?preset=30d&account=acct-n"),
    "staff-tenants": Checked("staff", "/staff/tenants"),
    "alerts": Checked("staff", "/alerts"),
    "alerts-new-rule": Checked("staff", "/alerts/new"),
    # A message's script, stopped by its frame's sandbox: Chromium says so in the console.
    "demo-mail": Checked(
        "staff", "/demo/mail", allow=r"Blocked script execution in '\S+/demo/mail/\d+/html'"
    ),
    "widget-ai-minutes": Checked(None, "{widget:ai-minutes}", charts=True),
    "widget-metrics": Checked(None, "{widget:metrics}", charts=True),
    "not-found": Checked(None, "/no-such-page", status=404),
    "refresh-by-get": Checked("acme", "/usage/refresh", status=405),
    "sign-out": Checked("acme", "/logout"),
}

# Every violation axe found, as plain data: its rule, impact, help and each element's target.
RUN_AXE = """
async () => {
  const results = await axe.run(document, { resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({
      target: n.target.join(" "),
      html: n.html.slice(0, 160),
      summary: (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 300),
    })),
  }));
}
"""


class Script(str):
    """axe-core's source, shown in a failure's traceback by its name only."""

    def __repr__(self) -> str:
        return "<axe-core script>"


@pytest.fixture(scope="session")
def axe_source() -> str:
    """Return axe-core's script; skip locally (never in CI) when npm has not installed it."""
    if not AXE.is_file():
        reason = f"axe-core is not installed ({AXE.relative_to(ROOT)} is missing: run npm ci)"
        if IN_CI:
            pytest.fail(f"CI must run the accessibility checks, but {reason}")
        pytest.skip(reason)
    return Script(AXE.read_text())


@pytest.fixture(scope="session")
def widget_paths(server) -> dict[str, str]:
    """Return each widget's path with an hour-long token for acme, minted by the CLI."""
    paths = mint_widget_paths(server)
    return paths


def serious(violations: list[dict]) -> list[dict]:
    """Return the violations that fail a page: serious or critical, or a rule held always."""
    return [v for v in violations if v["impact"] in FAILING or v["id"] in ALWAYS]


def describe(name: str, url: str, violations: list[dict]) -> str:
    """Return a failure message naming each rule, its elements and the page."""
    url = re.sub(r"token=[^&]+", "token=[redacted]", url)
    lines = [f"{name} ({url}): {len(violations)} serious or critical axe violation(s)"]
    for violation in violations:
        lines.append(f"  {violation['id']} [{violation['impact']}] {violation['help']}")
        lines.extend(
            f"    - {node['target']}: {node['html']}\n      {node['summary']}"
            for node in violation["nodes"]
        )
    return "\n".join(lines)


def run_axe(page, axe_source: str) -> list[dict]:
    """Inject axe-core into the page and return its violations."""
    page.add_script_tag(content=axe_source)
    return page.evaluate(RUN_AXE)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_accessibility_violations(
    name: str,
    scheme: str,
    device: str,
    axe_source: str,
    widget_paths: dict[str, str],
    open_page: Callable,
    login: Callable,
    charts,
    browser_log,
):
    checked = PAGES[name]
    page = open_page(color_scheme=scheme, bypass_csp=True, **DEVICES[device])
    if checked.who is not None:
        login(page, checked.who)
    path = checked.path
    if path.startswith("{widget:"):
        path = widget_paths[path.removeprefix("{widget:").removesuffix("}")]
    if checked.status >= 400:
        browser_log.allow(rf"status of {checked.status}")  # the page's own load
    if checked.allow:
        browser_log.allow(checked.allow)
    answer = page.goto(path)
    assert answer is not None and answer.status == checked.status, (path, answer and answer.status)
    if checked.charts:
        charts.wait(page)
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")

    found = serious(run_axe(page, axe_source))

    assert not found, describe(f"{name} {scheme} {device}", page.url, found)
    browser_log.assert_clean()
