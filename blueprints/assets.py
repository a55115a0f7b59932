"""The app's own static files and the front-end libraries from the npm lockfile, at
versioned URLs, compressed once (brotli and gzip) and cached by browsers for a year.

Flask-Compress handles the dynamic pages; it would re-compress these large, fixed files on
every request, so they are compressed here once per process instead.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import brotli
from flask import Blueprint, Response, abort, current_app, request, url_for

bp = Blueprint("assets", __name__)

ONE_YEAR = 365 * 24 * 3600
STATIC = Path(__file__).resolve().parent.parent / "static"


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


@cache
def _package_version(root: Path, package: str) -> str | None:
    try:
        return json.loads((root / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def vendor_version(name: str) -> str:
    """Return the installed version of a vendor asset's package ('missing' if not installed)."""
    return _package_version(node_modules(), VENDOR[name].package) or "missing"


@dataclass
class _Encoded:
    """One file's bytes, plain and compressed, read once per modification."""

    mtime: float
    plain: bytes
    etag: str
    variants: dict[str, bytes] = field(default_factory=dict)


class CompressedFiles:
    """Serve files with brotli or gzip chosen from Accept-Encoding, compressing each once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[Path, _Encoded] = {}

    def _load(self, path: Path) -> _Encoded:
        mtime = path.stat().st_mtime
        with self._lock:
            entry = self._files.get(path)
            if entry is None or entry.mtime != mtime:
                plain = path.read_bytes()
                etag = hashlib.sha256(plain).hexdigest()[:20]
                entry = self._files[path] = _Encoded(mtime, plain, etag)
            return entry

    def _variant(self, entry: _Encoded, encoding: str) -> bytes:
        with self._lock:
            if encoding not in entry.variants:
                entry.variants[encoding] = (
                    brotli.compress(entry.plain, quality=11)
                    if encoding == "br"
                    else gzip.compress(entry.plain, compresslevel=9, mtime=0)
                )
            return entry.variants[encoding]

    def response(self, path: Path, *, immutable: bool) -> Response:
        """Return the file as a response, compressed when the client accepts it."""
        if not path.is_file():
            abort(404)
        entry = self._load(path)
        accepted = request.accept_encodings
        encoding = next((e for e in ("br", "gzip") if accepted[e]), None)
        etag = f"{entry.etag}-{encoding or 'identity'}"
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if mimetype == "application/javascript":
            mimetype = "text/javascript"
        body = self._variant(entry, encoding) if encoding else entry.plain
        response = Response(body, mimetype=mimetype)
        if encoding:
            response.headers["Content-Encoding"] = encoding
        response.vary.add("Accept-Encoding")
        response.set_etag(etag)
        response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}" + (
            ", immutable" if immutable else ""
        )
        return response.make_conditional(request)


FILES = CompressedFiles()


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
