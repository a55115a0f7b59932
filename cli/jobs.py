"""The queue's consumer (`flask --app app worker`) and tenants' webhook secrets."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from demo.mail_sink import start_sink
from jobs.delivery import parse_backoff
from jobs.mail import MailConfigError, smtp_server
from jobs.queue import QueueConfigError, queue_for
from services.webhook_secrets import UnreadableSecret, current_secret, rotate

from .admin import fail, find_tenant, tenants_cli

MAX_WORKERS = 64


@click.command("worker")
@click.option(
    "--workers", default="2", show_default=True, help="Threads sending deliveries and running jobs."
)
@with_appcontext
def worker_command(workers: str) -> None:
    """Consume the job queue: send deliveries, retry them, run the periodic jobs."""
    threads = int(workers) if workers.isdigit() else 0
    if not 1 <= threads <= MAX_WORKERS:
        raise fail(f"--workers must be a whole number from 1 to {MAX_WORKERS}; got {workers!r}")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.config["USAGE"]
    try:
        parse_backoff(settings.delivery_backoff)
        smtp_server(settings)
        queue = queue_for(app)
    except (ValueError, QueueConfigError, MailConfigError) as exc:
        raise fail(str(exc)) from None
    if settings.demo_enabled:
        # The demo's mail goes to this sink, and staff read it at /demo/mail.
        start_sink(app)
    consumer = queue.huey.create_consumer(
        workers=threads,
        worker_type="thread",
        periodic=True,
        scheduler_interval=1,  # scheduled retries leave within a second of their time
        max_delay=1.0,  # an idle SQLite queue is looked at every second
        check_worker_health=True,
    )
    click.echo(f"Worker: {threads} thread{'s' if threads > 1 else ''} on {queue.where}")
    consumer.run()


@tenants_cli.command("webhook-secret")
@click.argument("name")
@click.option("--rotate", "renew", is_flag=True, help="Replace the secret now; the old one stops.")
@click.option("--json", "as_json", is_flag=True, help='Print {"secret": …} on one line.')
def webhook_secret(name: str, renew: bool, as_json: bool) -> None:
    """Print the secret NAME's webhooks are signed with (X-Usage-Signature)."""
    tenant = find_tenant(name)
    box = current_app.extensions["secret_box"]
    try:
        secret = rotate(tenant, box) if renew else current_secret(tenant, box)
    except UnreadableSecret as exc:
        raise fail(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"tenant": tenant.name, "secret": secret}))
        return
    click.echo(f"secret  {secret}")
    if renew:
        click.echo("Webhooks are signed with this secret from now on; update the receivers.")
