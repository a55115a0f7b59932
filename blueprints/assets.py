"""The app's own static files and the front-end libraries from the npm lockfile, at
versioned URLs, compressed once (brotli and gzip) and cached by browsers for a year.

Compressing plotly.js at brotli 11 takes seconds, so it never happens on a request:
`make install` (`python -m blueprints.assets`) and the gunicorn master before it forks
(deploy/gunicorn.conf.py) write every variant into build/precompressed/, named by the
file's content hash; each process reads them when the app is created and compresses,
once and in memory, only what it finds missing there (a checkout without `make install`,
or a store it cannot write). Flask-Compress handles the dynamic pages.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import mimetypes
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import brotli
from flask import Blueprint, Response, abort, current_app, request, url_for
from flask.blueprints import BlueprintSetupState

bp = Blueprint("assets", __name__)
log = logging.getLogger(__name__)

ONE_YEAR = 365 * 24 * 3600
ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
STORE = ROOT / "build" / "precompressed"
# Preferred first when a client accepts both; each name is also the file suffix in STORE.
ENCODINGS = {"br": ".br", "gzip": ".gz"}


@dataclass(frozen=True)
class VendorAsset:
    """A file shipped in an npm package this app depends on."""

    package: str
    file: str


# The only third-party files the app serves; the basic plotly.js bundle covers bar and
# scatter charts, which are all the dashboard draws.
VENDOR = {
    "htmx.js": VendorAsset("htmx.org", "dist/htmx.min.js"),
    "plotly.js": VendorAsset("plotly.js-basic-dist-min", "plotly-basic.min.js"),
}


def node_modules() -> Path:
    """Return the folder npm installs into."""
    return Path(current_app.root_path) / "node_modules"


def served_files(root: Path = ROOT) -> list[Path]:
    """Return every file this blueprint serves from root: the vendor files and static/."""
    vendor = [root / "node_modules" / asset.package / asset.file for asset in VENDOR.values()]
    own = sorted(path for path in (root / "static").rglob("*") if path.is_file())
    return [path for path in vendor if path.is_file()] + own


@cache
def _package_version(root: Path, package: str) -> str | None:
    try:
        return json.loads((root / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def vendor_version(name: str) -> str:
    """Return the installed version of a vendor asset's package ('missing' if not installed)."""
    return _package_version(node_modules(), VENDOR[name].package) or "missing"


def compress(plain: bytes, encoding: str) -> bytes:
    """Compress at the slowest, smallest setting: it is paid once and saved on every download."""
    if encoding == "br":
        return brotli.compress(plain, quality=11)
    return gzip.compress(plain, compresslevel=9, mtime=0)


def _write_atomically(target: Path, data: bytes) -> None:
    # A reader in another process sees the whole file or none of it.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        # mkstemp's 0600 would hide the file from a server running as another user.
        os.fchmod(handle, 0o644)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


@dataclass
class _Encoded:
    """One file's bytes, plain and compressed, read once per modification."""

    mtime: float
    plain: bytes
    digest: str
    variants: dict[str, bytes]


class CompressedFiles:
    """Serve files with brotli or gzip chosen from Accept-Encoding, each compressed once.

    Variants come from `store` when it holds them and are added to it when it does not; a
    store that cannot be written costs one compression per process, never per request.
    """

    def __init__(self, store: Path = STORE) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._files: dict[Path, _Encoded] = {}

    def _variant(self, plain: bytes, digest: str, encoding: str) -> bytes:
        stored = self.store / f"{digest}{ENCODINGS[encoding]}"
        try:
            return stored.read_bytes()
        except OSError:
            pass
        data = compress(plain, encoding)
        try:
            self.store.mkdir(parents=True, exist_ok=True)
            _write_atomically(stored, data)
        except OSError as exc:
            log.warning("compressed %s kept in memory only: %s", stored.name, exc)
        return data

    def load(self, path: Path) -> _Encoded:
        """Return the file's bytes and every compressed variant, reading them once per change."""
        mtime = path.stat().st_mtime
        with self._lock:
            entry = self._files.get(path)
            if entry is None or entry.mtime != mtime:
                plain = path.read_bytes()
                digest = hashlib.sha256(plain).hexdigest()
                variants = {enc: self._variant(plain, digest, enc) for enc in ENCODINGS}
                entry = self._files[path] = _Encoded(mtime, plain, digest, variants)
            return entry

    def response(self, path: Path, *, immutable: bool) -> Response:
        """Return the file as a response, compressed when the client accepts it."""
        if not path.is_file():
            abort(404)
        entry = self.load(path)
        accepted = request.accept_encodings
        encoding = next((e for e in ENCODINGS if accepted[e]), None)
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if mimetype == "application/javascript":
            mimetype = "text/javascript"
        body = entry.variants[encoding] if encoding else entry.plain
        response = Response(body, mimetype=mimetype)
        if encoding:
            response.headers["Content-Encoding"] = encoding
        response.vary.add("Accept-Encoding")
        # One ETag per encoding: a cache must never answer a gzip client with brotli bytes.
        response.set_etag(f"{entry.digest[:20]}-{encoding or 'identity'}")
        response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}" + (
            ", immutable" if immutable else ""
        )
        return response.make_conditional(request)


FILES = CompressedFiles()


@bp.record_once
def _load_at_startup(state: BlueprintSetupState) -> None:
    # Once per process, when the app is created: a worker's first request finds every
    # variant in memory.
    for path in served_files(Path(state.app.root_path)):
        FILES.load(path)


def precompress(root: Path = ROOT, store: Path = STORE) -> list[Path]:
    """Write every served file's variants into store; drop variants of files gone since."""
    files = CompressedFiles(store)
    kept = {
        f"{files.load(path).digest}{suffix}"
        for path in served_files(root)
        for suffix in ENCODINGS.values()
    }
    for old in store.glob("*"):
        if old.name not in kept:
            try:
                old.unlink()
            except OSError as exc:  # a store this user may read but not change
                log.warning("left %s in place: %s", old, exc)
    return sorted(store / name for name in kept)


@bp.get("/assets/vendor/<version>/<name>")
def vendor(version: str, name: str):
    """Serve a vendor file; the version in the URL makes it safe to cache for a year."""
    asset = VENDOR.get(name)
    if asset is None or version != vendor_version(name):
        abort(404)
    return FILES.response(node_modules() / asset.package / asset.file, immutable=True)


@bp.get("/static/<path:filename>")
def static_file(filename: str):
    """Serve the app's own file; its URL carries a content hash (`?v=`) to bust caches."""
    path = (STATIC / filename).resolve()
    if STATIC not in path.parents:
        abort(404)
    return FILES.response(path, immutable=bool(request.args.get("v")))


@cache
def _file_digest(path: Path, mtime: float) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@bp.app_context_processor
def asset_urls():
    """Give templates `vendor_url(name)` and `static_url(filename)`."""

    def vendor_url(name: str) -> str:
        return url_for("assets.vendor", version=vendor_version(name), name=name)

    def static_url(filename: str) -> str:
        path = STATIC / filename
        return url_for(
            "assets.static_file", filename=filename, v=_file_digest(path, path.stat().st_mtime)
        )

    return {"vendor_url": vendor_url, "static_url": static_url}


if __name__ == "__main__":
    # `python -m blueprints.assets [STORE]`, run by `make install` and the Docker build.
    written = precompress(store=Path(sys.argv[1]) if len(sys.argv) > 1 else STORE)
    print(f"{len(written)} precompressed files in {written[0].parent if written else STORE}")
