"""Demo mode: the upstream simulators on loopback, started once per process on first use."""

from __future__ import annotations

import atexit
import os
import threading


class DemoUpstreams:
    """Start the simulators lazily so no server thread exists before a WSGI server forks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = None
        self._pid: int | None = None

    def running(self):
        """Return this process's running simulators, starting them if needed."""
        pid = os.getpid()
        if self._running is None or self._pid != pid:
            with self._lock:
                if self._running is None or self._pid != pid:
                    from simulators import start_simulators

                    self._running = start_simulators(host="127.0.0.1", port=0)
                    self._pid = pid
                    atexit.register(self._running.stop)
        return self._running

    def isnotai_urls(self) -> dict[str, str]:
        """Return the simulated isnotai base URL per region."""
        sims = self.running()
        return {"us": sims.isnotai_us_url, "eu": sims.isnotai_eu_url}

    def evovoice_url(self) -> str:
        """Return the simulated EvoVoice base URL."""
        return self.running().evovoice_url
