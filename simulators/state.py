"""Hold the simulators' mutable state: settings, faults, request log, sessions, rate windows.

One SimulatorState is shared by every request thread of the server, so every mutable
collection is guarded by one lock. Settings are plain validated attributes: a test may
assign `state.isnotai_totals = "none"` directly or send `PUT /_sim/settings`.

Faults form a queue: the first added fault matching a request fires first; one with
`times=N` is consumed by the next N matching requests; `times=None` stays until cleared.
A fault added for target "isnotai" is one entry shared by both regions (one counter).
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import date, datetime

from simulators.data import parse_day, utc_today

TARGET_GROUPS = {
    "isnotai-us": frozenset({"isnotai-us"}),
    "isnotai-eu": frozenset({"isnotai-eu"}),
    "isnotai": frozenset({"isnotai-us", "isnotai-eu"}),
    "evovoice": frozenset({"evovoice"}),
}
FAULT_KINDS = (
    "400",
    "500",
    "502",
    "503",
    "timeout",
    "429",
    "malformed",
    "wrong-shape",
    "html",
    "403",
    "404",
    "401",
    "oversized",
    "deep-nesting",
)
DEFAULT_HANG_SECONDS = 30.0
RATE_WINDOW_SECONDS = 60.0
CALL_LOG_LIMIT = 10_000  # the demo runs for days: keep the log bounded
SESSION_LIMIT = 10_000  # logins without logouts must not grow memory forever


@dataclass
class Fault:
    """Describe one injected failure and how many more requests it applies to."""

    kind: str
    targets: frozenset[str]
    remaining: int | None
    retry_after: int | None = None
    hang_seconds: float | None = None
    message: str | None = None  # a 400's text, as the upstream would write it
    field: str | None = None  # the parameter a 400 names

    def hang_for(self) -> float:
        """Return how long to hold the request before answering."""
        if self.hang_seconds is not None:
            return float(self.hang_seconds)
        return DEFAULT_HANG_SECONDS if self.kind == "timeout" else 0.0

    def to_dict(self) -> dict:
        """Return a JSON-ready description."""
        return {**asdict(self), "targets": sorted(self.targets)}


def _choice(*options: str):
    """Build a validator accepting one of options."""

    def check(name: str, value: object) -> str:
        if value not in options:
            raise ValueError(f"{name} must be one of {', '.join(options)}; got {value!r}")
        return value

    return check


def _flag(name: str, value: object) -> bool:
    """Accept a bool."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false; got {value!r}")
    return value


def _count(name: str, value: object) -> int:
    """Accept a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
    return value


def _day(name: str, value: object) -> date | None:
    """Accept a date, an ISO date string or None (the real UTC today)."""
    if isinstance(value, datetime):
        return value.date()
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_day(value)
    raise ValueError(f"{name} must be an ISO date or null; got {value!r}")


def _optional_number(name: str, value: object, types, minimum: float):
    """Accept None or a number of types that is at least minimum."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, types) or value < minimum:
        raise ValueError(f"{name} must be a number >= {minimum} or null; got {value!r}")
    return value


class _Setting:
    """Store a validated setting on the instance."""

    def __init__(self, default: object, check) -> None:
        self.default = default
        self.check = check

    def __set_name__(self, owner: type, name: str) -> None:
        self.public = name
        self.private = "_" + name

    def __get__(self, obj, objtype=None):
        return self if obj is None else getattr(obj, self.private)

    def __set__(self, obj, value) -> None:
        setattr(obj, self.private, self.check(self.public, value))


class SimulatorState:
    """Share switches and records between the simulators and the tests driving them."""

    latency_ms = _Setting(0, _count)
    rate_limits = _Setting(True, _flag)
    extra_customers = _Setting(0, _count)
    today = _Setting(None, _day)  # None: the real UTC date; a date freezes "today"
    isnotai_period_format = _Setting(
        "dotnet", _choice("dotnet", "date", "zulu", "naive", "fractional")
    )
    isnotai_metric_case = _Setting(
        "canonical",
        _choice("canonical", "lower", "upper", "snake", "upper_snake", "kebab", "words"),
    )
    isnotai_totals = _Setting("camel", _choice("camel", "canonical", "none", "unknown"))
    isnotai_extra_metric = _Setting(False, _flag)
    isnotai_granularity = _Setting("day", _choice("day", "month", "hour"))
    isnotai_month_label = _Setting("month", _choice("month", "first-day"))
    isnotai_period_zone = _Setting("utc", _choice("utc", "+02:00", "-08:00"))
    isnotai_date_params = _Setting(
        "lenient", _choice("lenient", "strict", "strict-unnamed", "instant", "instant-exclusive")
    )
    isnotai_window = _Setting("trim", _choice("trim", "empty"))
    isnotai_values = _Setting("number", _choice("number", "big", "string", "big-string"))
    isnotai_storage = _Setting("level", _choice("level", "flow"))

    # EvoVoice's open points (simulators/evovoice.py says what each means); defaults as before.
    evovoice_end_date = _Setting("inclusive", _choice("inclusive", "exclusive"))
    evovoice_verbs = _Setting("all", _choice("all", "post-404", "post-405"))
    evovoice_idle = _Setting("zeros", _choice("zeros", "omitted"))
    evovoice_zero_customers = _Setting("omitted", _choice("omitted", "listed"))
    evovoice_auth = _Setting("sessions", _choice("sessions", "basic-only"))
    evovoice_session_uses = _Setting(0, _count)  # 0: sessions never expire
    evovoice_quiet_days = _Setting(0, _count)  # no usage anywhere in the last N days

    SETTINGS = (
        "latency_ms",
        "rate_limits",
        "extra_customers",
        "today",
        "isnotai_period_format",
        "isnotai_metric_case",
        "isnotai_totals",
        "isnotai_extra_metric",
        "isnotai_granularity",
        "isnotai_month_label",
        "isnotai_period_zone",
        "isnotai_date_params",
        "isnotai_window",
        "isnotai_values",
        "isnotai_storage",
        "evovoice_end_date",
        "evovoice_verbs",
        "evovoice_idle",
        "evovoice_zero_customers",
        "evovoice_auth",
        "evovoice_session_uses",
        "evovoice_quiet_days",
    )

    def __init__(self, **settings: object) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._faults: list[Fault] = []
        self._calls: deque[dict] = deque(maxlen=CALL_LOG_LIMIT)
        self._sessions: dict[str, str] = {}
        self._session_uses: dict[str, int] = {}
        self._windows: dict[str, deque[float]] = {}
        defaults = {name: getattr(type(self), name).default for name in self.SETTINGS}
        self._initial = {**defaults, **self._validated(settings)}
        self.update(**self._initial)

    # --- settings ------------------------------------------------------------------

    def _validated(self, changes: dict) -> dict:
        """Return the changes checked by each setting's validator, or raise ValueError."""
        unknown = set(changes) - set(self.SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return {
            name: getattr(type(self), name).check(name, value) for name, value in changes.items()
        }

    def update(self, **changes: object) -> None:
        """Apply a partial settings update, all or nothing."""
        for name, value in self._validated(changes).items():
            setattr(self, name, value)

    def settings(self) -> dict:
        """Return the current settings, JSON-ready."""
        current = {name: getattr(self, name) for name in self.SETTINGS}
        if current["today"] is not None:
            current["today"] = current["today"].isoformat()
        return current

    def current_day(self) -> date:
        """Return the simulated today: the frozen date if set, else the UTC date."""
        return self.today or utc_today()

    def reset(self) -> None:
        """Clear faults, calls, sessions and rate windows; restore the initial settings."""
        self.clear_faults()
        with self._lock:
            self._calls.clear()
            self._sessions.clear()
            self._session_uses.clear()
            self._windows.clear()
        self.update(**self._initial)

    # --- faults --------------------------------------------------------------------

    def add_fault(
        self,
        target: str,
        kind: str,
        times: int | None = None,
        retry_after: int | None = None,
        hang_seconds: float | None = None,
        message: str | None = None,
        field: str | None = None,
    ) -> Fault:
        """Queue a fault for a target ("isnotai" means both regions)."""
        kind = str(kind)
        if target not in TARGET_GROUPS:
            raise ValueError(f"target must be one of {', '.join(TARGET_GROUPS)}; got {target!r}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}; got {kind!r}")
        times = _optional_number("times", times, int, minimum=1)
        retry_after = _optional_number("retry_after", retry_after, int, minimum=0)
        hang_seconds = _optional_number("hang_seconds", hang_seconds, (int, float), minimum=0)
        for name, text in (("message", message), ("field", field)):
            if text is not None and not isinstance(text, str):
                raise ValueError(f"{name} must be text or null; got {text!r}")
        fault = Fault(kind, TARGET_GROUPS[target], times, retry_after, hang_seconds, message, field)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take_fault(self, target: str) -> Fault | None:
        """Consume one use of the first fault matching target and return a copy of it."""
        with self._lock:
            for fault in self._faults:
                if target in fault.targets:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return Fault(**asdict(fault))
        return None

    def faults(self) -> list[dict]:
        """Return the queued faults, JSON-ready."""
        with self._lock:
            return [fault.to_dict() for fault in self._faults]

    def clear_faults(self) -> None:
        """Remove every fault and release requests that are hanging or sleeping."""
        with self._lock:
            self._faults.clear()
            released, self._release = self._release, threading.Event()
        released.set()

    def pause(self, seconds: float) -> None:
        """Sleep up to seconds, waking early when faults are cleared or the state reset."""
        if seconds > 0:
            with self._lock:
                release = self._release
            release.wait(seconds)

    def release_waiters(self) -> None:
        """Wake every sleeping request without changing faults (used at shutdown)."""
        with self._lock:
            released, self._release = self._release, threading.Event()
        released.set()

    # --- request log ---------------------------------------------------------------

    def log_call(self, entry: dict) -> None:
        """Record one API request."""
        with self._lock:
            self._calls.append(entry)

    def calls(self, target: str | None = None, path: str | None = None) -> list[dict]:
        """Return logged API requests, oldest first, optionally filtered by target and path."""
        with self._lock:
            entries = list(self._calls)
        return [
            dict(entry)
            for entry in entries
            if (target is None or entry["target"] == target)
            and (path is None or entry["path"] == path)
        ]

    def clear_calls(self) -> None:
        """Forget every logged request."""
        with self._lock:
            self._calls.clear()

    # --- EvoVoice sessions ---------------------------------------------------------

    def open_session(self, username: str) -> str:
        """Create a session for username and return its id."""
        session_id = secrets.token_urlsafe(15)
        with self._lock:
            if len(self._sessions) >= SESSION_LIMIT:
                oldest = next(iter(self._sessions))
                self._sessions.pop(oldest)
                self._session_uses.pop(oldest, None)
            self._sessions[session_id] = username
        return session_id

    def session_ids(self) -> list[str]:
        """Return the ids of every live session (tests look for them where none may be)."""
        with self._lock:
            return list(self._sessions)

    def session_user(self, session_id: str | None) -> str | None:
        """Return the username of a live session, or None."""
        with self._lock:
            return self._sessions.get(session_id or "")

    def use_session(self, session_id: str | None) -> str | None:
        """Return the username of a live session, counting one use of it.

        With `evovoice_session_uses` set, a session answers that many calls, then is gone.
        """
        with self._lock:
            username = self._sessions.get(session_id or "")
            if username is None or not self.evovoice_session_uses:
                return username
            used = self._session_uses.get(session_id, 0) + 1
            if used > self.evovoice_session_uses:
                del self._sessions[session_id]
                self._session_uses.pop(session_id, None)
                return None
            self._session_uses[session_id] = used
            return username

    def close_session(self, session_id: str | None) -> None:
        """End one session if it exists."""
        with self._lock:
            self._sessions.pop(session_id or "", None)
            self._session_uses.pop(session_id or "", None)

    def expire_evovoice_sessions(self) -> None:
        """Invalidate every EvoVoice session cookie, as a server restart would."""
        with self._lock:
            self._sessions.clear()
            self._session_uses.clear()

    # --- isnotai rate limiting -----------------------------------------------------

    def admit(self, key: str, per_minute: int) -> int | None:
        """Count a request in key's sliding window; return Retry-After seconds if over limit."""
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - RATE_WINDOW_SECONDS:
                window.popleft()
            if len(window) >= per_minute:
                return max(1, math.ceil(window[0] + RATE_WINDOW_SECONDS - now))
            window.append(now)
        return None
