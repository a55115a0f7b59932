"""Real servers for tests and benchmarks: the app under `flask run` or gunicorn, on loopback.

with demo_server(folder) as server:      # `flask setup` + `flask run`, demo mode
    requests.get(server.base + "/usage")
    server.flask("embed-token", "acme")   # the CLI against the same database
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class ServerFailed(RuntimeError):
    """A server did not start, or a command against it failed; the message has its log."""


def free_port() -> int:
    """Return a loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_environment(**settings: str) -> dict[str, str]:
    """Return this process's environment without any USAGE_* of the shell, plus settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("USAGE_")}
    env.update(settings)
    return env


@dataclass
class Server:
    """A running app server and the environment it runs in."""

    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen

    @property
    def base(self) -> str:
        """Return the server's origin."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def host_base(self) -> str:
        """Return the demo embed host's origin: the same port on `localhost`."""
        return f"http://localhost:{self.port}"

    def flask(self, *args: str, stdin: str | None = None) -> str:
        """Run `flask --app app ARGS…` in the server's environment; return its stdout."""
        return run_flask(self.env, *args, stdin=stdin)

    def log_tail(self, lines: int = 40) -> str:
        """Return the end of the server's log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def run_flask(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run `flask --app app ARGS…`; raise ServerFailed with its stderr if it fails."""
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise ServerFailed(f"flask {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


@contextmanager
def serving(
    command: Sequence[str], env: dict[str, str], port: int, log: Path, seconds: float = 60
) -> Iterator[Server]:
    """Start a server command, wait until /healthz answers, and stop it afterwards."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(c) for c in command], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(port, env, log, process)
    try:
        deadline = time.monotonic() + seconds
        while True:
            if process.poll() is not None:
                raise ServerFailed(
                    f"the server exited ({process.returncode}):\n{server.log_tail()}"
                )
            try:
                requests.get(f"{server.base}/healthz", timeout=5)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise ServerFailed(
                        f"the server did not come up:\n{server.log_tail()}"
                    ) from None
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def demo_environment(folder: Path, port: int) -> dict[str, str]:
    """Return a demo-mode environment with its own database and cache in `folder`."""
    return clean_environment(
        USAGE_DEMO="on",
        USAGE_DATABASE_URL=f"sqlite:///{folder / 'db.sqlite'}",
        USAGE_CACHE_URL=f"sqlite:///{folder / 'cache.sqlite'}",
        USAGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        PYTHONUNBUFFERED="1",
    )


@contextmanager
def demo_server(folder: Path, server: str = "flask", workers: int = 2) -> Iterator[Server]:
    """Prepare a demo database and serve the app with `flask run` or a multi-worker gunicorn."""
    port = free_port()
    env = demo_environment(folder, port)
    run_flask(env, "setup")
    command = {
        "flask": [BIN / "flask", "--app", "app", "run", "--port", str(port)],
        "gunicorn": [BIN / "gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"],
    }[server]
    env = {**env, "USAGE_BIND": f"127.0.0.1:{port}", "USAGE_WORKERS": str(workers)}
    with serving(command, env, port, folder / "server.log") as running:
        yield running
