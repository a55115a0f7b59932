"""Hold the deterministic demo dataset of both simulated APIs and the oracles tests compute with.

Every number the simulators serve comes from a function here, so a test can compute the
expected answer without asking the simulator. Nothing here reads the clock on import.

isnotai values are seeded by sha256 of (integration name, metric, day): a per-integration base,
a weekly pattern and slow growth since 2019. StorageBytes is a level (bytes stored at the end
of the day), never a flow, unless the simulator is switched to report it as bytes written per
day. With `big=True` every value is INT64_OFFSET (2^53) larger, beyond what a float holds exactly.

EvoVoice usage is whole seconds per (account, customer, day), served as float. The named
customers are seeded by sha256; the synthetic scale-test customers (`extra_customers`) use
`rate(customer) * weight(day)`, so a range total is one multiplication per customer.
EvoVoice has usage from EVOVOICE_FIRST_DAY to today only; the oracle takes inclusive ranges
(the simulator turns an exclusive `endDate` into one when switched to read it so).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

# --- shared date helpers ---------------------------------------------------------------


def utc_today() -> date:
    """Return today's date in UTC."""
    return datetime.now(UTC).date()


def parse_day(text: str) -> date:
    """Parse an ISO-8601 date or date-time into a date, taking a date-time's UTC date."""
    try:
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # year 1 at a negative offset overflows
        raise ValueError(f"not an ISO-8601 date: {text!r}") from exc
    return moment.date()


def days_between(start: date, end: date) -> list[date]:
    """Return every day from start to end, both inclusive."""
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def _unit(*parts: object) -> float:
    """Map the parts to a deterministic float in [0, 1)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# --- isnotai ---------------------------------------------------------------------------

METRICS = ("ApiCalls", "Events", "Sessions", "StorageBytes", "BotAnalyses")
LEVEL_METRICS = frozenset({"StorageBytes"})  # summing a level across days is meaningless
EXTRA_METRIC = "WebhookDeliveries"  # an unknown metric type the API may start sending
TIER_WINDOW_DAYS = {"free": 7, "pro": 30, "enterprise": 2557}  # enterprise: 7 years
TIER_RATE_PER_MINUTE = {"free": 60, "pro": 600, "enterprise": 6000}

INT64_OFFSET = 2**53  # added to every value by isnotai_values="big": a float would round it

_MB = 1024 * 1024
_FLOW_BASE = {  # daily count range of the per-integration base, before growth
    "ApiCalls": (1_500, 5_000),
    "Events": (100, 450),
    "Sessions": (15, 150),
    "BotAnalyses": (5, 30),
    EXTRA_METRIC: (40, 250),
}
_STORAGE_BASE = (200 * _MB, 2_000 * _MB)
_WEEKLY = (1.0, 1.06, 1.1, 1.05, 0.94, 0.52, 0.43)  # Monday first: weekends are quiet
_GROWTH_EPOCH = date(2019, 1, 1)
_GROWTH_DAYS = 3_000  # +100% every 3,000 days, so seven years stay within one order


@dataclass(frozen=True)
class DemoIntegration:
    """Describe one demo isnotai integration and its API key."""

    name: str
    key: str
    region: str
    tier: str


def demo_key(name: str) -> str:
    """Derive the deterministic 47-character demo API key of an integration."""
    digest = hashlib.sha256(name.encode()).digest()
    return "aik_v1_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")[:40]


ISNOTAI_INTEGRATIONS = [
    DemoIntegration("acme", demo_key("acme"), "us", "pro"),
    DemoIntegration("globex", demo_key("globex"), "eu", "enterprise"),
    DemoIntegration("initech", demo_key("initech"), "us", "free"),
]


def isnotai_integration(name: str) -> DemoIntegration:
    """Return the demo integration with this name."""
    for integration in ISNOTAI_INTEGRATIONS:
        if integration.name == name:
            return integration
    raise KeyError(name)


def canonical_metric(metric: str) -> str:
    """Return the canonical spelling of a metric name given in any case."""
    for known in (*METRICS, EXTRA_METRIC):
        if known.lower() == metric.lower():
            return known
    raise KeyError(metric)


def isnotai_daily(name: str, metric: str, day: date, big: bool = False) -> int:
    """Return the value the simulator serves for this integration, metric and day."""
    return _daily(name, canonical_metric(metric), day) + (INT64_OFFSET if big else 0)


def _daily(name: str, metric: str, day: date) -> int:
    growth = 1 + max((day - _GROWTH_EPOCH).days, 0) / _GROWTH_DAYS
    noise = _unit("isnotai", name, metric, day.isoformat())
    if metric in LEVEL_METRICS:
        low, high = _STORAGE_BASE
        base = low + (high - low) * _unit("isnotai-base", name, metric)
        return int(base * growth * (0.99 + 0.02 * noise))
    low, high = _FLOW_BASE[metric]
    base = low + (high - low) * _unit("isnotai-base", name, metric)
    return int(base * growth * _WEEKLY[day.weekday()] * (0.85 + 0.3 * noise))


def isnotai_served_days(tier: str, start: date, end: date, today: date) -> list[date]:
    """Return the days of [start, end] that have data: inside the tier window, not after today."""
    first = today - timedelta(days=TIER_WINDOW_DAYS[tier] - 1)
    low, high = max(start, first), min(end, today)
    return days_between(low, high) if low <= high else []


def isnotai_expected(
    name: str,
    start: date,
    end: date,
    today: date | None = None,
    metrics: tuple[str, ...] = METRICS,
    big: bool = False,
) -> dict[str, dict[date, int]]:
    """Return metric -> day -> value as served for [start, end] under the tier window."""
    tier = isnotai_integration(name).tier
    days = isnotai_served_days(tier, start, end, today or utc_today())
    return {
        metric: {day: isnotai_daily(name, metric, day, big) for day in days} for metric in metrics
    }


# --- EvoVoice --------------------------------------------------------------------------

EVOVOICE_SERVICE_USER = ("usage-dashboard@demo.invalid", "demo-service-password")
EVOVOICE_NO_ROLE_USER = ("viewer@demo.invalid", "demo-viewer-password")
EVOVOICE_ADMIN_ROLE = "SystemAdministrator"
EVOVOICE_USERS = {  # username -> (password, roles)
    EVOVOICE_SERVICE_USER[0]: (EVOVOICE_SERVICE_USER[1], frozenset({EVOVOICE_ADMIN_ROLE})),
    EVOVOICE_NO_ROLE_USER[0]: (EVOVOICE_NO_ROLE_USER[1], frozenset()),
}
EVOVOICE_FIRST_DAY = date(2020, 1, 1)

# Ids are chosen by other people: these exercise escaping in HTML, JS, URLs, CSV and JSON.
EVOVOICE_ACCOUNTS: dict[str, list[str]] = {
    "acct-northwind": ["cust-alpha", "cust-bravo", "cust-charlie", "cust-delta"],
    "acct-</script><script>alert(1)</script>": ["<b>bold</b>", "cust-xss-2", "cust-\u2028sep"],
    'acct-o\'brien & "sons"': ['cust-o\'reilly & "co"', "cust/with?query#frag%20"],
    "zürich-東京-Ωmega": ["kunde-müller", "顧客-山田", "cust-Ωmega", "cust-4", "cust-5", "cust-6"],
    "acct-quiet": ["cust-idle", "cust-sparse"],
}
_ZERO_SHARE = {  # share of days without usage; others draw theirs from 0-30 %
    ("acct-quiet", "cust-idle"): 1.0,
    ("acct-quiet", "cust-sparse"): 0.85,
}
_SYNTHETIC_PREFIX = "cust-"
_MASK64 = 2**64 - 1


def _mix(value: int) -> int:
    """Scramble an integer (splitmix64 finaliser): cheap deterministic hashing."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _named_seconds(account_id: str, customer_id: str, day: date) -> int:
    """Return a named customer's whole seconds on a day."""
    zero_share = _ZERO_SHARE.get(
        (account_id, customer_id), 0.3 * _unit("evo-zero", account_id, customer_id)
    )
    if _unit("evo-day-zero", account_id, customer_id, day.isoformat()) < zero_share:
        return 0
    base = 300 + 2_400 * _unit("evo-base", account_id, customer_id)
    noise = _unit("evo-day", account_id, customer_id, day.isoformat())
    return int(base * _WEEKLY[day.weekday()] * (0.5 + noise))


def synthetic_customer_id(index: int) -> str:
    """Return the id of synthetic customer number index (1-based)."""
    return f"{_SYNTHETIC_PREFIX}{index:06d}"


def _synthetic_index(customer_id: str) -> int | None:
    """Return the index of a synthetic customer id, or None for any other id."""
    digits = customer_id.removeprefix(_SYNTHETIC_PREFIX)
    if len(customer_id) == len(_SYNTHETIC_PREFIX) + 6 and digits.isdigit():
        return int(digits)
    return None


def _synthetic_rate(index: int) -> int:
    """Return a synthetic customer's seconds per unit of day weight (0 for one in ten)."""
    mixed = _mix(index)
    return 0 if mixed % 10 == 0 else 1 + (mixed >> 8) % 40


def _day_weight(day: date) -> int:
    """Return the shared day weight of synthetic customers (0-90; 0 on some days)."""
    mixed = _mix(day.toordinal() ^ 0x5EED)
    return 0 if mixed % 13 == 0 else round((1 + (mixed >> 8) % 90) * _WEEKLY[day.weekday()])


@lru_cache(maxsize=4)
def _synthetic_customers(count: int) -> dict[str, tuple[tuple[str, int], ...]]:
    """Return account -> ((customer id, rate), ...) for the first count synthetic customers."""
    accounts = list(EVOVOICE_ACCOUNTS)
    spread: dict[str, list[tuple[str, int]]] = {account: [] for account in accounts}
    for index in range(1, count + 1):
        account = accounts[(index - 1) % len(accounts)]
        spread[account].append((synthetic_customer_id(index), _synthetic_rate(index)))
    return {account: tuple(customers) for account, customers in spread.items()}


def _seconds_int(account_id: str, customer_id: str, day: date) -> int:
    """Return whole seconds for a customer of an account on a day (0 if not its customer)."""
    if customer_id in EVOVOICE_ACCOUNTS.get(account_id, ()):
        return _named_seconds(account_id, customer_id, day)
    index = _synthetic_index(customer_id)
    accounts = list(EVOVOICE_ACCOUNTS)
    if index and accounts[(index - 1) % len(accounts)] == account_id:
        return _synthetic_rate(index) * _day_weight(day)
    return 0


def evovoice_seconds(account_id: str, customer_id: str, day: date) -> float:
    """Return the AI seconds of a customer on a day, ignoring the data range and today."""
    return float(_seconds_int(account_id, customer_id, day))


def ai_minutes(seconds: float) -> int:
    """Round seconds to whole minutes, half up, as upstream does once per call."""
    return int((seconds + 30) // 60)


def evovoice_served_days(start: date, end: date, today: date, quiet_days: int = 0) -> list[date]:
    """Return the days of [start, end] (end inclusive) that can have usage.

    `quiet_days`: nothing is used anywhere in that many days up to today.
    """
    low, high = max(start, EVOVOICE_FIRST_DAY), min(end, today - timedelta(days=quiet_days))
    return days_between(low, high) if low <= high else []


def _customer_totals(
    account_id: str, days: list[date], extra_customers: int
) -> list[tuple[str, int]]:
    """Return (customer id, whole seconds over days) for every customer of an account."""
    totals = [
        (customer, sum(_named_seconds(account_id, customer, day) for day in days))
        for customer in EVOVOICE_ACCOUNTS[account_id]
    ]
    if extra_customers:
        weight = sum(_day_weight(day) for day in days)
        synthetic = _synthetic_customers(extra_customers)[account_id]
        totals.extend((customer, rate * weight) for customer, rate in synthetic)
    return totals


def evovoice_expected(
    start: date,
    end: date,
    account_id: str | None = None,
    customer_id: str | None = None,
    extra_customers: int = 0,
    today: date | None = None,
    *,
    idle: str = "zeros",
    zero_customers: str = "omitted",
    quiet_days: int = 0,
) -> dict:
    """Return exactly the body the EvoVoice simulator answers for the days [start, end].

    `idle` and `zero_customers` are the simulator's switches of the same names: "omitted"
    idle lists only accounts with usage and leaves empty lists out (an idle range is `{}`);
    "listed" zero customers lists customers without usage with 0 minutes.
    """
    days = evovoice_served_days(start, end, today or utc_today(), quiet_days)
    accounts = [account_id] if account_id is not None else list(EVOVOICE_ACCOUNTS)
    account_usage: list[dict] = []
    customer_usage: list[dict] = []
    for account in accounts:
        if account not in EVOVOICE_ACCOUNTS:
            continue
        totals = _customer_totals(account, days, extra_customers)
        if customer_id is not None:
            totals = [(customer, total) for customer, total in totals if customer == customer_id]
            if not totals:
                continue  # the filtered customer is not in this account: list it not at all
        account_seconds = sum(seconds for _, seconds in totals)
        if idle == "omitted" and not account_seconds:
            continue
        account_usage.append({"accountId": account, "aiMinutes": ai_minutes(account_seconds)})
        customer_usage.extend(
            {"accountId": account, "customerId": customer, "aiMinutes": ai_minutes(seconds)}
            for customer, seconds in totals
            if seconds or zero_customers == "listed"
        )
    body = {"accountUsage": account_usage, "customerUsage": customer_usage}
    if idle == "omitted":
        return {name: records for name, records in body.items() if records}
    return body


def evovoice_minutes(
    start: date,
    end: date,
    account_id: str | None = None,
    customer_id: str | None = None,
    **switches,
) -> int | None:
    """Return the minutes the dashboard must show for a scope over [start, end].

    A customer (or account) EvoVoice lists no record for has no number (None), which is
    not 0; every account together is the sum of the accounts listed.
    """
    body = evovoice_expected(start, end, account_id, customer_id, **switches)
    if customer_id is not None:
        found = [c["aiMinutes"] for c in body.get("customerUsage", ())]
    else:
        found = [a["aiMinutes"] for a in body.get("accountUsage", ())]
        if account_id is None:
            return sum(found)
    return sum(found) if found else None
