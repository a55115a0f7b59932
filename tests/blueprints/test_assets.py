"""Static and vendor files: compressed once, at install or in gunicorn's master, and served
with one ETag per encoding."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import brotli
import pytest
import requests

from blueprints.assets import ROOT, STORE, CompressedFiles, served_files
from devtools.servers import demo_server

PLOTLY = ROOT / "node_modules/plotly.js-basic-dist-min/plotly-basic.min.js"
DECOMPRESS = {"br": brotli.decompress, "gzip": gzip.decompress}
SUFFIX = {"br": ".br", "gzip": ".gz"}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_install_command_writes_every_served_file_compressed(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    stale = store / f"{'0' * 64}.br"
    stale.write_bytes(b"a file no longer served")
    subprocess.run(
        [sys.executable, "-m", "blueprints.assets", str(store)], cwd=ROOT, check=True, timeout=300
    )
    files = served_files()
    assert PLOTLY in files and ROOT / "static/app.css" in files
    for path in files:
        for encoding, suffix in SUFFIX.items():
            stored = (store / f"{digest(path)}{suffix}").read_bytes()
            assert DECOMPRESS[encoding](stored) == path.read_bytes()
    assert not stale.exists()


def test_make_install_left_every_served_file_compressed():
    missing = [
        path.name
        for path in served_files()
        for suffix in SUFFIX.values()
        if not (STORE / f"{digest(path)}{suffix}").is_file()
    ]
    assert missing == [], "run `make install`"


def test_a_stored_variant_is_served_as_it_is(tmp_path):
    plain = PLOTLY.read_bytes()
    quick = brotli.compress(plain, quality=1)  # unlike the quality-11 bytes the app makes
    (tmp_path / f"{digest(PLOTLY)}.br").write_bytes(quick)
    loaded = CompressedFiles(tmp_path).load(PLOTLY)
    assert loaded.variants["br"] == quick
    assert gzip.decompress((tmp_path / f"{digest(PLOTLY)}.gz").read_bytes()) == plain


def test_a_store_that_cannot_be_written_still_serves(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    css = ROOT / "static/app.css"
    loaded = CompressedFiles(blocker / "store").load(css)
    for encoding, decompress in DECOMPRESS.items():
        assert decompress(loaded.variants[encoding]) == css.read_bytes()


def raw_get(url: str, **headers: str) -> tuple[requests.Response, bytes]:
    """GET url; return the response and its body as sent, still compressed."""
    response = requests.get(url, headers=headers, stream=True, timeout=60)
    return response, response.raw.read(decode_content=False)


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    with demo_server(tmp_path_factory.mktemp("gunicorn"), "gunicorn", workers=1) as server:
        yield server


def test_gunicorn_serves_plotly_compressed_as_asked(gunicorn):
    version = json.loads((PLOTLY.parent / "package.json").read_text())["version"]
    url = f"{gunicorn.base}/assets/vendor/{version}/plotly.js"
    plain = PLOTLY.read_bytes()
    etags = set()
    for encoding in ("br", "gzip", "identity"):
        response, body = raw_get(url, **{"Accept-Encoding": encoding})
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert "Accept-Encoding" in response.headers["Vary"]
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        if encoding == "identity":
            assert "Content-Encoding" not in response.headers and body == plain
        else:
            assert response.headers["Content-Encoding"] == encoding
            assert DECOMPRESS[encoding](body) == plain
        etags.add(response.headers["ETag"])
        again, empty = raw_get(
            url, **{"Accept-Encoding": encoding, "If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 304 and empty == b""
    assert len(etags) == 3


def test_gunicorn_serves_own_static_files_compressed(gunicorn):
    page = requests.get(f"{gunicorn.base}/login", timeout=30).text
    css = page.split('href="/static/app.css', 1)[1].split('"', 1)[0]
    response, body = raw_get(f"{gunicorn.base}/static/app.css{css}", **{"Accept-Encoding": "br"})
    assert response.headers["Content-Encoding"] == "br"
    assert brotli.decompress(body) == (ROOT / "static/app.css").read_bytes()
