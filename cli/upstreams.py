"""`flask --app app upstreams check`: what the configured upstreams do on each open point.

Prints one line per finding (or, with `--json`, one JSON document) and exits non-zero when
a probe failed. Credentials are never printed: not the EvoVoice password, not a tenant's key.
"""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from services.tenancy import scope_for
from services.upstream_check import FAIL, Report, UpstreamCheck
from upstreams import upstreams

from .admin import find_tenant

upstreams_cli = AppGroup("upstreams", help="Check what the configured upstream APIs answer.")


def _text(report: Report) -> str:
    lines = []
    for api in dict.fromkeys(f.api for f in report.findings):
        lines.append(api)
        for finding in (f for f in report.findings if f.api == api):
            took = f" ({finding.latency_ms} ms)" if finding.latency_ms is not None else ""
            lines.append(f"  {finding.point:<18} {finding.outcome:<8} {finding.found}{took}")
    failures = sum(f.outcome == FAIL for f in report.findings)
    lines.append(f"{failures} failed" if failures else "No failures.")
    return "\n".join(lines)


@upstreams_cli.command("check")
@click.option("--tenant", "tenant_name", help="Probe isnotai with this tenant's key and region.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def check(tenant_name: str | None, as_json: bool) -> None:
    """Probe both upstreams with the configured credentials; exit 1 if a probe failed."""
    box = current_app.extensions["secret_box"]
    scope = scope_for(find_tenant(tenant_name), box) if tenant_name else None
    settings = current_app.config["USAGE"]
    sources = upstreams()
    probe = UpstreamCheck(
        sources,
        sources.http.clock().date(),
        secrets=[settings.evovoice_username, settings.evovoice_password],
    )
    report = probe.run(scope, settings.evovoice_auth)
    click.echo(json.dumps(report.as_json(), indent=2) if as_json else _text(report))
    if report.failed:
        raise click.exceptions.Exit(1)
