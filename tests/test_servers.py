"""Demo mode under real servers: `flask run` and a multi-worker gunicorn, each process
starting its own simulators after the fork."""

from __future__ import annotations

import re

import pytest
import requests

from devtools.servers import demo_server


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


@pytest.mark.parametrize("kind", ["flask", "gunicorn"])
def test_demo_mode_serves_real_pages(tmp_path, kind):
    with demo_server(tmp_path, kind) as server:
        for _ in range(4):  # spread over the workers
            read_usage(server.base)
        assert "acme@demo.invalid" in server.flask("users", "list")
