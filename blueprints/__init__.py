"""Blueprints, one module each."""

from flask import Flask
from werkzeug.routing import IntegerConverter


class RowId(IntegerConverter):
    """A database row's id in a URL: a larger number is no row (404), not an overflow (500)."""

    def __init__(self, map, *args, **kwargs) -> None:
        super().__init__(map, *args, min=1, max=2**63 - 1, **kwargs)


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to the app."""
    from presenters.alerts import shown_url
    from presenters.formatting import register_filters
    from presenters.usage import METRIC_LABELS

    from . import (
        alerts,
        assets,
        auth,
        demo_mail,
        embed,
        embed_demo,
        errors,
        home,
        ops,
        staff,
        usage,
    )

    app.url_map.converters["id"] = RowId
    modules = (alerts, assets, auth, demo_mail, embed, embed_demo, errors, home, ops, staff, usage)
    for module in modules:
        app.register_blueprint(module.bp)
    register_filters(app)
    app.add_template_filter(shown_url)
    app.jinja_env.globals["metric_labels"] = METRIC_LABELS
