"""Front-end libraries from the npm lockfile, served at versioned, long-cached URLs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("assets", __name__)

ONE_YEAR = 365 * 24 * 3600


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


@bp.get("/assets/vendor/<version>/<name>")
def vendor(version: str, name: str):
    """Serve a vendor file; the version in the URL makes it safe to cache for a year."""
    asset = VENDOR.get(name)
    if asset is None or version != vendor_version(name):
        abort(404)
    folder = node_modules() / asset.package
    response = send_from_directory(folder, asset.file, max_age=ONE_YEAR, mimetype="text/javascript")
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response


@bp.app_context_processor
def asset_urls():
    """Give templates `vendor_url(name)`."""
    from flask import url_for

    def vendor_url(name: str) -> str:
        return url_for("assets.vendor", version=vendor_version(name), name=name)

    return {"vendor_url": vendor_url}


@cache
def _file_digest(path: Path, mtime: float) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@bp.app_context_processor
def static_urls():
    """Give templates `static_url(filename)`: the app's own files, busted by content hash."""
    from flask import url_for

    def static_url(filename: str) -> str:
        path = Path(current_app.static_folder) / filename
        return url_for("static", filename=filename, v=_file_digest(path, path.stat().st_mtime))

    return {"static_url": static_url}
