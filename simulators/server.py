"""Combine both simulated APIs and the `/_sim/` control endpoints; serve them in a thread.

Prefixes: `/isnotai/us`, `/isnotai/eu`, `/evovoice`. Control endpoints (never logged, no
latency, no faults):

- `GET /_sim/calls[?target=&path=]` lists logged API requests; `DELETE` clears them.
- `GET /_sim/faults` lists queued faults; `POST` adds one
  (`{"target", "kind", "times", "retry_after", "hang_seconds", "message", "field"}`;
  `message` and `field` shape a `400`); `DELETE` clears all.
- `GET /_sim/settings` shows the settings; `PUT` applies a partial update.
- `DELETE /_sim/sessions` expires every EvoVoice session.
- `POST /_sim/reset` clears faults, calls, sessions and rate windows; restores settings.

Invalid control input answers 400 `{"error": "..."}`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Self

from flask import Blueprint, Flask, Response, jsonify, request

from simulators.evovoice import create_evovoice_blueprint
from simulators.isnotai import create_isnotai_blueprint
from simulators.keepalive import KeepAliveRequestHandler, KeepAliveServer
from simulators.state import SimulatorState


class QuietRequestHandler(KeepAliveRequestHandler):
    """Handle requests without writing an access-log line for each."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the access log: the embedding app's log should not fill with loopback calls."""


def _control_blueprint(state: SimulatorState) -> Blueprint:
    """Build the `/_sim/` endpoints that drive the state over HTTP."""
    control = Blueprint("sim_control", __name__, url_prefix="/_sim")

    @control.errorhandler(ValueError)
    @control.errorhandler(TypeError)
    def invalid(exc: Exception) -> tuple[Response, int]:
        return jsonify(error=str(exc)), 400

    def payload() -> dict:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise TypeError("expected a JSON object body")
        return body

    @control.get("/calls")
    def list_calls() -> Response:
        return jsonify(state.calls(request.args.get("target"), request.args.get("path")))

    @control.delete("/calls")
    def clear_calls() -> tuple[str, int]:
        state.clear_calls()
        return "", 204

    @control.get("/faults")
    def list_faults() -> Response:
        return jsonify(state.faults())

    @control.post("/faults")
    def add_fault() -> tuple[Response, int]:
        body = payload()
        fault = state.add_fault(
            body.get("target", ""),
            body.get("kind", ""),
            times=body.get("times"),
            retry_after=body.get("retry_after"),
            hang_seconds=body.get("hang_seconds"),
            message=body.get("message"),
            field=body.get("field"),
        )
        return jsonify(fault.to_dict()), 201

    @control.delete("/faults")
    def clear_faults() -> tuple[str, int]:
        state.clear_faults()
        return "", 204

    @control.get("/settings")
    def show_settings() -> Response:
        return jsonify(state.settings())

    @control.put("/settings")
    def update_settings() -> Response:
        state.update(**payload())
        return jsonify(state.settings())

    @control.delete("/sessions")
    def expire_sessions() -> tuple[str, int]:
        state.expire_evovoice_sessions()
        return "", 204

    @control.post("/reset")
    def reset() -> tuple[str, int]:
        state.reset()
        return "", 204

    return control


def build_wsgi_app(state: SimulatorState | None = None) -> Flask:
    """Build one WSGI app serving both isnotai regions, EvoVoice and the control endpoints."""
    state = SimulatorState() if state is None else state
    app = Flask(__name__)
    app.json.sort_keys = False
    app.register_blueprint(create_isnotai_blueprint("us", state))
    app.register_blueprint(create_isnotai_blueprint("eu", state))
    app.register_blueprint(create_evovoice_blueprint(state))
    app.register_blueprint(_control_blueprint(state))
    app.extensions["simulator_state"] = state
    return app


@dataclass
class RunningSimulators:
    """Hold a running simulator server, its thread and its state."""

    server: KeepAliveServer
    thread: threading.Thread
    state: SimulatorState
    host: str

    @property
    def port(self) -> int:
        """Return the bound port (useful when started with port 0)."""
        return self.server.server_port

    @property
    def base_url(self) -> str:
        """Return the server's root URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def isnotai_us_url(self) -> str:
        """Return the base URL of the US isnotai region."""
        return self.base_url + "/isnotai/us"

    @property
    def isnotai_eu_url(self) -> str:
        """Return the base URL of the EU isnotai region."""
        return self.base_url + "/isnotai/eu"

    @property
    def evovoice_url(self) -> str:
        """Return the base URL of EvoVoice."""
        return self.base_url + "/evovoice"

    def stop(self) -> None:
        """Release hanging requests, shut the server down and join its thread."""
        if not self.thread.is_alive():
            return
        self.state.release_waiters()
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self.thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_simulators(
    host: str = "127.0.0.1",
    port: int = 0,
    state: SimulatorState | None = None,
    *,
    quiet: bool = True,
) -> RunningSimulators:
    """Start the simulators on a threaded keep-alive server in a daemon thread; return once
    accepting."""
    state = SimulatorState() if state is None else state
    handler = QuietRequestHandler if quiet else KeepAliveRequestHandler
    # The server binds and listens before returning, so callers can connect at once.
    server = KeepAliveServer(host, port, build_wsgi_app(state), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="simulators", daemon=True
    )
    thread.start()
    return RunningSimulators(server=server, thread=thread, state=state, host=host)
