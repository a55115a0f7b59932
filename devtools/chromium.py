"""Debian's Chromium for browser tests and benchmarks (never a browser Playwright downloads)."""

import os

CHROMIUM = os.environ.get("USAGE_TEST_CHROMIUM", "/usr/bin/chromium")
# Headless on a machine whose only network is loopback and the package registries.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
