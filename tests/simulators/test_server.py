"""The simulators' HTTP server: connections kept alive, and no write held back by Nagle."""

from __future__ import annotations

import socket


def test_keep_alive_calls_share_one_connection_with_nodelay(sims, http):
    seen: list[tuple[int, int]] = []
    api = sims.server.app

    def observe(environ, start_response):
        connection = environ["werkzeug.socket"]
        nodelay = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        seen.append((nodelay, environ["REMOTE_PORT"]))
        return api(environ, start_response)

    sims.server.app = observe
    try:
        for _ in range(50):
            assert http.get(f"{sims.isnotai_us_url}/health", timeout=10).status_code == 200
    finally:
        sims.server.app = api
    assert len(seen) == 50
    assert all(nodelay for nodelay, _ in seen)
    assert len({port for _, port in seen}) == 1


def test_an_unread_request_body_does_not_become_the_next_request(sims, http):
    ports: list[int] = []
    api = sims.server.app

    def observe(environ, start_response):
        ports.append(environ["REMOTE_PORT"])
        return api(environ, start_response)

    sims.server.app = observe
    try:
        # An unknown path is answered before anything reads the body.
        refused = http.post(f"{sims.isnotai_us_url}/nowhere", data=b"x" * 100_000, timeout=10)
        health = http.get(f"{sims.isnotai_us_url}/health", timeout=10)
    finally:
        sims.server.app = api
    assert refused.status_code == 404
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert len(ports) == 2 and ports[0] == ports[1]
