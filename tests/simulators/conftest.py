"""The simulators on their own: today frozen, faults and settings reset around each test."""

from __future__ import annotations

from datetime import date

import pytest
import requests

from simulators import SimulatorState, start_simulators

TODAY = date(2026, 6, 10)  # frozen so window and default-range tests never straddle midnight


@pytest.fixture(scope="package")
def sims():
    running = start_simulators(host="127.0.0.1", port=0, state=SimulatorState(today=TODAY))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh(sims):
    sims.state.reset()
    yield
    sims.state.reset()


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session
