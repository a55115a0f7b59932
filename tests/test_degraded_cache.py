"""A cache file that is corrupt or cannot be written: pages read the upstreams, never a 500."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from simulators.data import isnotai_expected

CHATTR = shutil.which("chattr")


def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(os.urandom(64 * 1024))
    return path


def a_directory(tmp_path: Path) -> Path:
    path = tmp_path / "cache.sqlite"
    path.mkdir()
    return path


def under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "not-a-folder").write_text("")
    return tmp_path / "not-a-folder" / "cache.sqlite"


def make_read_only(path: Path) -> None:
    if os.geteuid() != 0:
        path.chmod(0o555 if path.is_dir() else 0o444)
        return
    # Root ignores permissions; the immutable flag still binds it.
    if not CHATTR or subprocess.run([CHATTR, "+i", str(path)], check=False).returncode:
        pytest.skip("running as root without chattr +i to make a file read-only")


def read_only_file(tmp_path: Path) -> Path:
    path = tmp_path / "read-only" / "cache.sqlite"
    path.parent.mkdir()
    db = sqlite3.connect(path)  # a cache file as the app leaves it, no longer writable
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, value BLOB, expires INTEGER)")
    db.commit()
    db.close()
    make_read_only(path)
    return path


def read_only_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "read-only"
    folder.mkdir()
    make_read_only(folder)
    return folder / "cache.sqlite"


def writable_again(tmp_path: Path) -> None:
    for path in (tmp_path / "read-only", tmp_path / "read-only" / "cache.sqlite"):
        if path.exists():
            if os.geteuid() == 0 and CHATTR:
                subprocess.run([CHATTR, "-i", str(path)], check=False)
            path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture(params=[garbage, a_directory, under_a_file, read_only_file, read_only_folder])
def app_config(request, app_config, tmp_path):
    """Break the cache file before the app starts."""
    path = request.param(tmp_path)
    yield {**app_config, "USAGE_CACHE_URL": f"sqlite:///{path}"}
    writable_again(tmp_path)


def test_pages_read_the_upstreams_and_readiness_says_degraded(
    client, make_tenant, make_user, login, sims, caplog
):
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_user("acme@example.com", tenant="acme")
    login(client, "acme@example.com")
    end = datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=6)
    calls = sum(isnotai_expected("acme", start, end)["ApiCalls"].values())
    with caplog.at_level(logging.ERROR, logger="clients.cached_http"):
        for metric in ("all", "ApiCalls"):
            response = client.get(f"/usage?start={start}&end={end}&metric={metric}")
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            assert f"{calls:,}" in response.get_data(as_text=True)
    opened = [r for r in caplog.records if "could not be opened" in r.getMessage()]
    assert len(opened) == 1  # logged once, not per read

    ready = client.get("/readyz")  # from loopback: the details are shown
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["cache"].startswith("degraded: ")
