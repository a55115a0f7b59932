"""The suite's apps are configured by the tests alone, not by a developer's shell or `.env`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from core.config import Settings

from ..conftest import build_app

ROOT = Path(__file__).resolve().parents[2]
INVALID = "http://evovoice.invalid"


def app_settings_in_environment() -> list[str]:
    return [n for n in os.environ if n.startswith("USAGE_") and not n.startswith("USAGE_TEST_")]


def test_no_app_setting_is_in_the_environment_during_the_session():
    assert app_settings_in_environment() == []
    assert os.environ.get("USAGE_TEST_KEPT", "kept") == "kept"


def test_a_shell_exporting_app_settings_does_not_reach_the_session():
    exported = {**os.environ, "USAGE_PROXY_HOPS": "3", "USAGE_TEST_KEPT": "kept"}
    inner = f"{__file__}::test_no_app_setting_is_in_the_environment_during_the_session"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", inner],
        cwd=ROOT,
        env=exported,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "1 passed" in run.stdout


def test_the_app_fixture_reads_neither_dotenv_nor_usage_variables(
    app_config, monkeypatch, tmp_path
):
    # A developer's checkout: a .env and exported variables pointing somewhere else.
    (tmp_path / ".env").write_text(
        "USAGE_DEMO=on\n"
        f"USAGE_EVOVOICE_URL={INVALID}\n"
        "USAGE_METRICS_TOKEN=from-dotenv\n"
        "USAGE_CACHE_TTL_TODAY=7\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USAGE_READ_TIMEOUT", "999")
    monkeypatch.setenv("USAGE_PROXY_HOPS", "3")
    # The bait works: settings read the ordinary way take all of it.
    bait = Settings()
    assert (bait.demo, bait.evovoice_url, bait.metrics_token) == ("on", INVALID, "from-dotenv")
    assert (bait.cache_ttl_today, bait.read_timeout, bait.proxy_hops) == (7, 999, 3)

    app = build_app(app_config)
    try:
        settings = app.config["USAGE"]
        assert settings.demo == "off"
        assert settings.evovoice_url == app_config["USAGE_EVOVOICE_URL"]
        assert settings.read_timeout == app_config["USAGE_READ_TIMEOUT"]
        # What the test configuration leaves out keeps its default.
        assert settings.metrics_token == ""
        assert (settings.cache_ttl_today, settings.proxy_hops) == (60, 0)
    finally:
        app.extensions["upstreams"].http.close()
    assert os.environ["USAGE_READ_TIMEOUT"] == "999"  # hidden while the app was made, not lost
    assert Path.cwd() == tmp_path
