"""Widget addresses for browser tests, with tokens minted by the app's own CLI."""

from __future__ import annotations

from urllib.parse import urlsplit

WIDGETS = ("ai-minutes", "metrics")


class WidgetPaths(dict):
    """Each widget's path with its token; a failure's traceback does not print the tokens."""

    def __repr__(self) -> str:
        return f"<widget paths with tokens: {', '.join(self)}>"


def mint_widget_paths(server, tenant: str = "acme", ttl: str = "1h") -> WidgetPaths:
    """Return each widget's path (and query, token included) for the tenant, as the
    operator's `flask embed-token` prints it, without the public origin."""
    paths = WidgetPaths()
    for kind in WIDGETS:
        url = server.flask("embed-token", tenant, "--widget", kind, "--ttl", ttl).strip()
        parts = urlsplit(url)
        paths[kind] = f"{parts.path}?{parts.query}"
    return paths
