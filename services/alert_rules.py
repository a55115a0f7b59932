"""What an alert rule or a report schedule may say: one set of checks for the CLI and the pages.

Every refusal is a `RuleError` naming the field, so a page puts the message beside it and
the CLI prints it on one line.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import delete

from clients.isnotai import METRICS
from core.extensions import db
from models import AlertFiring, AlertRule

AI_MINUTES = "ai-minutes"
SOURCES = (AI_MINUTES, *METRICS)
WINDOWS = ("month", "7d", "day")
CONDITIONS = ("above", "projected-above", "spike")
EVERY = ("week", "month")
SPIKE_MAX = 1000
# Thresholds are counts and bytes; int64, as the upstreams' numbers.
THRESHOLD_MAX = 2**63 - 1
EMAILS_MAX = 20

# A practical address check (what mail servers accept), not RFC 5322's whole grammar.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


T = TypeVar("T")


class RuleError(ValueError):
    """A value a rule or schedule cannot take; `field` names the form field or CLI option."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class RuleErrors(RuleError):
    """Every refusal of one rule, in the form's order; it reads as the first of them."""

    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__(errors[0].field, errors[0].message)
        self.errors = errors


@dataclass(frozen=True)
class RuleInput:
    """An alert rule as checked, before it is stored."""

    source: str
    window: str
    condition: str
    threshold: int
    emails: tuple[str, ...]
    webhook_url: str | None


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def parse_source(text: str) -> str:
    """Return `ai-minutes` or the isnotai metric's API name for any spelling of it."""
    wanted = _letters(text or "")
    for source in SOURCES:
        if _letters(source) == wanted:
            return source
    raise RuleError("source", f"Unknown source {text!r}: use {', '.join(SOURCES)}.")


def parse_choice(field: str, text: str, choices: Iterable[str]) -> str:
    """Return `text` when it is one of `choices`; otherwise a `RuleError` listing them."""
    options = tuple(choices)
    if text in options:
        return text
    return _refuse(field, f"Unknown {field} {text!r}: use {', '.join(options)}.")


def _refuse(field: str, message: str) -> str:
    raise RuleError(field, message)


def parse_threshold(condition: str, text: str | int) -> int:
    """Return a positive integer threshold, or a spike percentage from 1 to 1000."""
    field = "spike" if condition == "spike" else condition
    raw = str(text).strip().replace(",", "").replace("_", "")
    if not raw.isdigit() or not raw.isascii():
        what = (
            "a whole percentage from 1 to 1000"
            if condition == "spike"
            else "a whole number above 0"
        )
        raise RuleError(field, f"The threshold must be {what}; got {str(text)[:40]!r}.")
    value = int(raw)
    if condition == "spike" and not 1 <= value <= SPIKE_MAX:
        raise RuleError(field, f"A spike is a percentage from 1 to {SPIKE_MAX}; got {value}.")
    if not 1 <= value <= THRESHOLD_MAX:
        if value < 1:
            raise RuleError(field, f"The threshold must be a whole number above 0; got {value}.")
        raise RuleError(field, f"The threshold must be at most {THRESHOLD_MAX:,}; got {value:,}.")
    return value


def parse_emails(values: Iterable[str], *, required: bool = False) -> tuple[str, ...]:
    """Return the addresses, each checked, without repeats; commas and spaces also separate."""
    found: list[str] = []
    for value in values:
        for address in re.split(r"[\s,;]+", value or ""):
            if not address:
                continue
            if len(address) > 254 or not _EMAIL.match(address):
                raise RuleError("email", f"{address[:80]!r} is not an email address.")
            if address.lower() not in (a.lower() for a in found):
                found.append(address)
    if len(found) > EMAILS_MAX:
        raise RuleError("email", f"At most {EMAILS_MAX} addresses.")
    if required and not found:
        raise RuleError("email", "Give at least one email address.")
    return tuple(found)


def parse_webhook_url(text: str | None, *, demo: bool) -> str | None:
    """Return an https URL (http and loopback hosts only in demo mode), or None when empty.

    This checks what the URL says; the sender checks again where it actually connects, so a
    name that resolves to a private address is refused there too.
    """
    url = (text or "").strip()
    if not url:
        return None
    if len(url) > 2000 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise RuleError("webhook", "The webhook URL is too long or holds spaces.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise RuleError("webhook", "The webhook URL cannot be read.") from None
    allowed = ("https", "http") if demo else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise RuleError(
            "webhook",
            "A webhook URL must start with https:// and name a host"
            + (" (http:// too in demo mode)." if demo else "."),
        )
    if parts.username or parts.password:
        raise RuleError("webhook", "A webhook URL cannot carry a user name or password.")
    if not demo and is_private_host(parts.hostname):
        raise RuleError(
            "webhook", "Webhooks are never sent to loopback, link-local or private addresses."
        )
    return url


def canonical_host(host: str) -> str:
    """Return the host as DNS and sockets read it: IDNA-mapped ("①②⑦。0。0。1" → "127.0.0.1")."""
    name = host.strip("[]").rstrip(".")
    if ":" in name:  # an IPv6 literal
        return name.lower()
    try:
        return name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise RuleError("webhook", "The webhook URL's host name cannot be read.") from None


def is_private_host(host: str) -> bool:
    """Tell whether `host` is an address (or `localhost`) webhooks must not reach.

    Addresses in every form a resolver takes are read: `127.1`, `2130706433`, `0x7f.1`.
    """
    name = canonical_host(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(name)
    except ValueError:
        try:  # the legacy numeric forms inet_aton reads, as getaddrinfo would
            address = ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return False
    return is_private_address(address)


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64, IPv4-compatible and
# IPv4-translated (SIIT).
_EMBEDS_IPV4 = tuple(
    ipaddress.ip_network(net) for net in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")
)
# Local-use NAT64 (RFC 8215): a network's own translator, never a public address.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def is_private_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Tell whether an address is loopback, link-local, private or otherwise not public.

    An IPv6 address that carries an IPv4 one (mapped, 6to4, NAT64, IPv4-compatible) is judged
    by the IPv4 address too.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and any(address in net for net in _EMBEDS_IPV4):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and is_private_address(embedded):
            return True
        if address in _LOCAL_NAT64:
            return True
    return not address.is_global or address.is_multicast


def parse_rule(
    *,
    source: str,
    window: str,
    condition: str,
    threshold: str | int,
    emails: Iterable[str],
    webhook_url: str | None,
    demo: bool,
    levels: frozenset[str] = frozenset(),
) -> RuleInput:
    """Check every part of a rule; a rule must tell someone (an email or a webhook).

    Every refusal is gathered (`RuleErrors`), so a form says what is wrong with each field
    at once; the CLI says the first.

    `levels`: the sources read as levels (storage, unless isnotai reports it as a flow),
    which have no month projection.
    """
    errors: list[RuleError] = []

    def check(parse: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return parse(*args, **kwargs)
        except RuleError as exc:
            errors.append(exc)
            return None

    checked_source = check(parse_source, source)
    checked_window = check(parse_choice, "window", window, WINDOWS)
    checked_condition = check(parse_choice, "condition", condition, CONDITIONS)
    checked_threshold = check(parse_threshold, checked_condition or "above", threshold)
    checked_emails = check(parse_emails, emails)
    hook = check(parse_webhook_url, webhook_url, demo=demo)
    if checked_emails == () and hook is None and not errors:
        errors.append(RuleError("email", "Give an email address or a webhook URL to tell."))
    if checked_condition == "projected-above" and checked_window not in (None, "month"):
        errors.append(
            RuleError("window", "A projection is of the calendar month: choose the window month.")
        )
    if checked_condition == "spike" and checked_window not in (None, "day"):
        errors.append(
            RuleError("window", "A spike compares the last full day: choose the window day.")
        )
    if checked_condition == "projected-above" and checked_source in levels:
        errors.append(
            RuleError(
                "condition",
                f"{checked_source} is a level (what is stored), with no month projection: "
                "choose the condition above.",
            )
        )
    if errors:
        raise RuleErrors(errors)
    assert checked_source and checked_window and checked_condition and checked_threshold
    return RuleInput(
        checked_source,
        checked_window,
        checked_condition,
        checked_threshold,
        checked_emails or (),
        hook,
    )


def save_rule(tenant_id: int, checked: RuleInput, rule: AlertRule | None = None) -> AlertRule:
    """Add a rule to a tenant, or change one, in the caller's transaction (the caller commits).

    A rule that now watches something else starts afresh: what its last evaluation found and
    the windows it fired in were about the old rule, so it may fire again in this window (what
    it sent stays in the delivery log). Changing only whom it tells keeps both.
    """
    watches = (checked.source, checked.window, checked.condition, checked.threshold)
    afresh = True
    if rule is None:
        rule = AlertRule(tenant_id=tenant_id)
        db.session.add(rule)
    elif watches != (rule.source, rule.window, rule.condition, rule.threshold):
        db.session.execute(delete(AlertFiring).where(AlertFiring.rule_id == rule.id))
    else:
        afresh = False  # the same watch: keep the last evaluation
    rule.source = checked.source
    rule.window = checked.window
    rule.condition = checked.condition
    rule.threshold = checked.threshold
    rule.emails = "\n".join(checked.emails)
    rule.webhook_url = checked.webhook_url
    if afresh:
        rule.evaluated_at = rule.last_value = rule.last_error = None
    return rule


def parse_schedule(*, every: str, emails: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """Check a report schedule: week or month, and at least one address."""
    return parse_choice("every", every, EVERY), parse_emails(emails, required=True)
