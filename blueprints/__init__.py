"""Blueprints, one module each."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to the app."""
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

    modules = (alerts, assets, auth, demo_mail, embed, embed_demo, errors, home, ops, staff, usage)
    for module in modules:
        app.register_blueprint(module.bp)
    register_filters(app)
    app.jinja_env.globals["metric_labels"] = METRIC_LABELS
