"""Alert rules and reports in words: one wording for pages, messages and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from .formatting import human_bytes, thousands
from .usage import METRIC_LABELS, METRIC_NOUNS

if TYPE_CHECKING:
    from models import AlertRule

WINDOW_WORDS = {"month": "this month", "7d": "in the last 7 days", "day": "in the last full day"}


def source_label(source: str) -> str:
    """Name a rule's source as the pages do: "AI minutes", "API calls", "Storage"."""
    return "AI minutes" if source == "ai-minutes" else METRIC_LABELS.get(source, source)


def source_noun(source: str) -> str:
    """Name a rule's source inside a sentence: "AI minutes", "API calls", "storage"."""
    return "AI minutes" if source == "ai-minutes" else METRIC_NOUNS.get(source, source)


def amount(source: str, value: float | int) -> str:
    """Format a value of `source`: bytes for storage, a count otherwise."""
    if source == "StorageBytes":
        return human_bytes(round(value))
    return thousands(round(value) if isinstance(value, float) else value)


def shown_url(url: str) -> str:
    """Return a URL without its query and fragment, which often hold a receiver's token."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    hidden = "?…" if parts.query or parts.fragment else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")) + hidden


def describe(rule: AlertRule) -> str:
    """Say what a rule watches: "AI minutes above 10,000 this month"."""
    label = source_label(rule.source)
    if rule.condition == "spike":
        return f"{label}: a day more than {rule.threshold} % above its 28-day average"
    if rule.condition == "projected-above":
        return f"{label} on pace for more than {amount(rule.source, rule.threshold)} this month"
    return f"{label} above {amount(rule.source, rule.threshold)} {WINDOW_WORDS[rule.window]}"


def progress(rule: AlertRule) -> str:
    """Say how far the last evaluation found the rule: "72 % reached", or why there is none."""
    if rule.last_error:
        return f"could not be evaluated: {rule.last_error}"
    if rule.last_value is None:
        return "not evaluated yet"
    if rule.condition == "spike":
        return f"last full day {rule.last_value:+.0f} % against its 28-day average"
    share = 100 * rule.last_value / rule.threshold
    return f"{share:,.0f} % reached"
