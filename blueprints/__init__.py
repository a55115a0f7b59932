"""Blueprints, one module each."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to the app."""
    from . import assets, auth, home

    for module in (assets, auth, home):
        app.register_blueprint(module.bp)
