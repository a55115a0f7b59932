"""Writing benchmark sections into bench/RESULTS.md, each replacing only its own."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    """Describe when and where figures were made."""
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `{platform.platform()}`, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


def write_section(heading: str, body: str) -> None:
    """Put `## heading` and its body into RESULTS.md, replacing that section if present."""
    title = f"## {heading}"
    text = f"{title}\n\n{body.strip()}\n"
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    start = old.find(title + "\n")
    if start == -1:
        RESULTS.write_text(old.rstrip("\n") + "\n\n" + text)
        return
    following = old.find("\n## ", start + len(title))
    rest = old[following + 1 :] if following != -1 else ""
    RESULTS.write_text(old[:start] + text + ("\n" + rest if rest else ""))
