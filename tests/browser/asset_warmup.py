"""Fetch a page's scripts and stylesheets once before Chromium does.

The app compresses each static and vendor file with brotli (quality 11) on its first request
per process; for plotly.js that takes seconds, longer on a loaded machine, which a test's
first page would otherwise spend inside its page-load deadline.
"""

from __future__ import annotations

import re

import requests

ASSET = re.compile(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="(/[^"]+)"')


def warm_assets(base: str, path: str) -> list[str]:
    """Fetch, brotli-encoded as Chromium asks, every script and stylesheet of base+path."""
    page = requests.get(f"{base}{path}", timeout=60)
    page.raise_for_status()
    assets = sorted(set(ASSET.findall(page.text)))
    for asset in assets:
        answer = requests.get(f"{base}{asset}", headers={"Accept-Encoding": "br"}, timeout=120)
        answer.raise_for_status()
    return assets
