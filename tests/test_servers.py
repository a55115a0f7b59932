"""Demo mode under real servers: `flask run` and a multi-worker gunicorn, each process
starting its own simulators after the fork."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_env(tmp_path):
    env = {
        **os.environ,
        "USAGE_DEMO": "on",
        "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
    }
    setup = subprocess.run(
        [BIN / "flask", "--app", "app", "setup"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert setup.returncode == 0, setup.stderr
    assert "acme@demo.invalid" in setup.stdout
    return env


def wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


def read_usage(base: str) -> None:
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    session.post(
        f"{base}/login",
        data={"email": "acme@demo.invalid", "password": "demo-acme", "csrf_token": token},
        timeout=10,
    )
    page = session.get(f"{base}/usage?preset=7d", timeout=30)
    assert page.status_code == 200
    assert "chart-ApiCalls-data" in page.text and "chart-ai-minutes-data" in page.text


@pytest.mark.parametrize("server", ["flask", "gunicorn"])
def test_demo_mode_serves_real_pages(demo_env, server):
    port = free_port()
    command = {
        "flask": [BIN / "flask", "--app", "app", "run", "--port", str(port)],
        "gunicorn": [
            BIN / "gunicorn",
            "-w",
            "2",
            "--threads",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "app:create_app()",
        ],
    }[server]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=demo_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/healthz", process)
        for _ in range(4):  # spread over the workers
            read_usage(base)
    finally:
        process.terminate()
        process.wait(timeout=10)
