"""Command-line commands registered on the app (`flask --app app …`)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from demo.seed import DEMO_LOGINS, host_origin, seed_demo

from .admin import tenants_cli, users_cli
from .alerts import alerts_cli
from .embed import embed_token
from .jobs import worker_command
from .reports import reports_cli
from .upstreams import upstreams_cli


def register_cli(app: Flask) -> None:
    """Attach the app's commands."""
    app.cli.add_command(setup_command)
    app.cli.add_command(tenants_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(embed_token)
    app.cli.add_command(upstreams_cli)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(reports_cli)
    app.cli.add_command(worker_command)


@click.command("setup")
@with_appcontext
def setup_command() -> None:
    """Bring the database schema up to date; in demo mode, add the demo tenants and logins."""
    upgrade()
    settings = current_app.config["USAGE"]
    if settings.demo_enabled and not settings.demo_seeds_database:
        click.echo(
            "Demo mode: simulated upstreams, but no demo tenants or logins were added: "
            "USAGE_DATABASE_URL names a database the demo did not create "
            "(USAGE_DEMO=on adds them there)."
        )
    elif settings.demo_enabled:
        left_alone = seed_demo()
        click.echo("Demo mode: simulated upstreams, demo tenants and these logins:")
        for email, password, what in DEMO_LOGINS:
            if email.split("@")[0] not in left_alone:
                click.echo(f"  {email:<28} {password:<20} {what}")
        for name in left_alone:
            click.echo(f"Tenant {name} is not the demo's: it was left alone, with no demo login.")
        origin = host_origin(settings.public_url)
        click.echo(f"Embedded widgets, framed from another origin: {origin}/embed-demo")
    else:
        click.echo("Database is up to date.")
