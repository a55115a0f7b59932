"""Simulate the isnotai and EvoVoice usage APIs on loopback for demo mode and tests.

    from simulators import SimulatorState, start_simulators

    sims = start_simulators(host="127.0.0.1", port=0, state=SimulatorState())
    sims.isnotai_us_url, sims.isnotai_eu_url, sims.evovoice_url
    sims.state.add_fault("isnotai-us", "503", times=1)
    sims.stop()

Demo data and the oracles tests compute expected answers with live in `simulators.data`;
each API module's docstring lists the behaviour it picked where the upstream docs are open.
"""

from simulators.server import RunningSimulators, build_wsgi_app, start_simulators
from simulators.state import SimulatorState

__all__ = ["RunningSimulators", "SimulatorState", "build_wsgi_app", "start_simulators"]
