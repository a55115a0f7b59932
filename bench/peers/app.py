"""The peer of bench/vs_dash.py: the customer usage view written as a typical Plotly Dash app.

    DASH_PEER_* settings (below) …  bench/peers/.venv/bin/gunicorn 'bench.peers.app:server'

A date range and a granularity (day or week) drive one callback that reads both upstream
simulators with `requests` through a requests-cache session (one SQLite file per server, as
the app's upstream cache) and returns six `plotly.graph_objects` figures: the five isnotai
metrics and one EvoVoice customer's AI minutes. Days are read once and summed into weeks in
Python, so a week view needs no upstream read once its days are cached. EvoVoice is read one
day per request, as the app does, with the app's default fan-out of 8 at a time.

It has what such an app usually has and no more: no sign-in, no KPI strip, no comparison
with a previous range, no error pages. It runs from its own environment (`make bench-compare`).
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import plotly.graph_objects as go
import requests_cache
from dash import Dash, Input, Output, dcc, html

ISNOTAI_URL = os.environ["DASH_PEER_ISNOTAI_URL"]
ISNOTAI_KEY = os.environ["DASH_PEER_ISNOTAI_KEY"]
EVOVOICE_URL = os.environ["DASH_PEER_EVOVOICE_URL"]
EVOVOICE_USER = os.environ["DASH_PEER_EVOVOICE_USER"]
EVOVOICE_PASSWORD = os.environ["DASH_PEER_EVOVOICE_PASSWORD"]
ACCOUNT = os.environ["DASH_PEER_ACCOUNT"]
CUSTOMER = os.environ["DASH_PEER_CUSTOMER"]
CACHE = os.environ.get("DASH_PEER_CACHE", "dash_peer_cache")
FANOUT = 8

METRICS = {
    "ApiCalls": "API calls",
    "Events": "Events",
    "Sessions": "Sessions",
    "StorageBytes": "Storage (bytes)",
    "BotAnalyses": "Bot analyses",
}
LEVELS = {"StorageBytes"}  # a level: a week shows its last day, not a sum
GRAPHS = [*METRICS, "AiMinutes"]

session = requests_cache.CachedSession(CACHE, backend="sqlite", expire_after=300)
_login = threading.Lock()


def signed_in() -> None:
    """Open an EvoVoice session (its `ss-id` cookie) once per worker."""
    with _login:
        if "ss-id" not in session.cookies:
            with session.cache_disabled():
                session.post(
                    f"{EVOVOICE_URL}/auth/credentials",
                    json={"username": EVOVOICE_USER, "password": EVOVOICE_PASSWORD},
                    timeout=20,
                ).raise_for_status()


def isnotai(start: date, end: date) -> dict[str, dict[date, int]]:
    """Return each metric's value per day."""
    answer = session.get(
        f"{ISNOTAI_URL}/v1/usage",
        params={"startDate": start.isoformat(), "endDate": end.isoformat()},
        headers={"Authorization": f"Bearer {ISNOTAI_KEY}"},
        timeout=20,
    )
    answer.raise_for_status()
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for record in answer.json()["data"]:
        day = date.fromisoformat(record["period"][:10])
        series[record["metricType"]][day] = int(record["value"])
    return series


def ai_minutes(day: date) -> int:
    """Return the customer's AI minutes on one day."""
    answer = session.get(
        f"{EVOVOICE_URL}/ai/usage",
        params={
            "startDate": day.isoformat(),
            "endDate": day.isoformat(),
            "accountId": ACCOUNT,
            "customerId": CUSTOMER,
        },
        timeout=20,
    )
    answer.raise_for_status()
    customers = answer.json().get("customerUsage", [])
    return sum(c["aiMinutes"] for c in customers if c["customerId"] == CUSTOMER)


def bucketed(values: dict[date, int], granularity: str, level: bool) -> tuple[list, list]:
    """Return x and y, per day or summed into weeks starting on Monday."""
    if granularity == "day":
        days = sorted(values)
        return days, [values[d] for d in days]
    weeks: dict[date, int] = {}
    for day in sorted(values):
        week = day - timedelta(days=day.weekday())
        weeks[week] = values[day] if level else weeks.get(week, 0) + values[day]
    return list(weeks), list(weeks.values())


def figure(title: str, x: list, y: list) -> go.Figure:
    """Return one bar chart."""
    fig = go.Figure(go.Bar(x=x, y=y, name=title))
    fig.update_layout(
        title=title,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        height=280,
        template="plotly_white",
    )
    return fig


app = Dash(__name__, title="Usage (Dash)", compress=True)
server = app.server
today = datetime.now(UTC).date()  # the simulators' and the app's days are UTC

app.layout = html.Div(
    [
        html.H1("Usage"),
        html.Div(
            [
                dcc.DatePickerRange(
                    id="range", start_date=today - timedelta(days=29), end_date=today
                ),
                dcc.RadioItems(id="granularity", options=["day", "week"], value="day", inline=True),
            ]
        ),
        *(dcc.Graph(id=f"graph-{name}") for name in GRAPHS),
    ]
)


@app.callback(
    [Output(f"graph-{name}", "figure") for name in GRAPHS],
    Input("range", "start_date"),
    Input("range", "end_date"),
    Input("granularity", "value"),
)
def update(start_date: str, end_date: str, granularity: str) -> list[go.Figure]:
    """Read the range's days and draw the six charts."""
    start, end = date.fromisoformat(start_date[:10]), date.fromisoformat(end_date[:10])
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    signed_in()
    with ThreadPoolExecutor(FANOUT) as pool:
        reading = pool.submit(isnotai, start, end)
        per_day_minutes = dict(zip(days, pool.map(ai_minutes, days), strict=True))
        metrics = reading.result()
    figures = [
        figure(label, *bucketed(metrics.get(name, {}), granularity, name in LEVELS))
        for name, label in METRICS.items()
    ]
    figures.append(figure("AI minutes", *bucketed(per_day_minutes, granularity, False)))
    return figures
