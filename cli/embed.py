"""Embed commands: signing keys, framing origins, revocation, and ready-made widget URLs."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from clients.isnotai import canonical_metric
from core.extensions import db
from core.secrets_box import SecretBox
from models import RevokedEmbedToken, Tenant
from services.embed_keys import UnreadableKey, current_key, rotate_key
from services.embed_tokens import WIDGETS, SigningKey, mint, parse_duration, parse_ttl

from .admin import fail, find_tenant, tenants_cli

_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$")


def normalize_origin(text: str) -> str:
    """Return `scheme://host[:port]`, refusing paths, credentials and other schemes."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise fail(f"{text!r} is not an origin like https://app.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise fail(f"{text!r} has more than an origin (no path, query or credentials)")
    try:
        port_number = parts.port
    except ValueError:  # urlsplit reads the port only when asked, and refuses it then
        raise fail(f"{text!r} has an invalid port (1 to 65535)") from None
    if not _HOST.match(parts.netloc.rsplit(":", 1)[0] if port_number else parts.netloc):
        raise fail(f"{text!r} has an invalid host")
    port = f":{port_number}" if port_number else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


@tenants_cli.command("embed-secret")
@click.argument("name")
@click.option(
    "--rotate", is_flag=True, help="Make a new key; the previous one stays valid for --grace."
)
@click.option(
    "--grace",
    help="How long the previous key keeps working after --rotate, e.g. 24h or 0.  [default: 24h]",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"kid": …, "secret": …} on one line.')
def embed_secret(name: str, rotate: bool, grace: str | None, as_json: bool) -> None:
    """Print the key id and secret NAME's backend signs widget tokens with."""
    tenant = find_tenant(name)
    if grace is not None and not rotate:
        raise fail("--grace goes with --rotate")
    try:
        overlap = parse_duration(grace or "24h")
    except ValueError as exc:
        raise fail(f"--grace: {exc}") from None
    box = current_app.extensions["secret_box"]
    retires = None
    try:
        if rotate:
            key, retires = _rotate(tenant, box, overlap)
        else:
            key = current_key(tenant, box)
    except UnreadableKey as exc:
        raise fail(str(exc)) from None
    if as_json:
        click.echo(json.dumps({"kid": key.kid, "secret": key.secret}))
        return
    click.echo(f"kid     {key.kid}")
    click.echo(f"secret  {key.secret}")
    if retires is not None:
        click.echo(
            f"The previous key works until {retires:%Y-%m-%d %H:%M:%S} UTC; "
            "deploy the new one before then."
            if overlap
            else "Tokens signed with the previous key are refused from now on."
        )


def _rotate(tenant: Tenant, box: SecretBox, grace: timedelta) -> tuple[SigningKey, datetime]:
    try:
        return rotate_key(tenant, box, grace=grace)
    except IntegrityError:
        db.session.rollback()
        raise fail(
            f"{tenant.name}: its key was being rotated at the same moment; try again"
        ) from None


@tenants_cli.command("set-embed-origins")
@click.argument("name")
@click.argument("origins", nargs=-1)
def set_embed_origins(name: str, origins: tuple[str, ...]) -> None:
    """Set the origins allowed to frame NAME's widgets (none: no site may frame them)."""
    tenant = find_tenant(name)
    cleaned = list(dict.fromkeys(normalize_origin(o) for o in origins))
    tenant.embed_origins = " ".join(cleaned)
    db.session.commit()
    click.echo(f"{name}: widgets may be framed by {', '.join(cleaned) or 'no site'}.")


@tenants_cli.command("revoke-embeds")
@click.argument("name")
@click.option("--jti", help="Revoke only the token with this id.")
def revoke_embeds(name: str, jti: str | None) -> None:
    """Invalidate every embed token NAME was issued before now (or one, with --jti).

    Without --jti the tenant's signing key is replaced at once, so every token signed until
    now is refused, whatever times it claims; its backend needs the new key.
    """
    tenant = find_tenant(name)
    if jti is not None:
        if not jti.strip() or len(jti) > 200:
            raise fail("--jti must be 1 to 200 characters")
        db.session.add(RevokedEmbedToken(tenant_id=tenant.id, jti=jti))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
        click.echo(f"{name}: token {jti!r} is revoked.")
        return
    _rotate(tenant, current_app.extensions["secret_box"], timedelta(0))
    click.echo(
        f"{name}: every embed token issued until now is revoked. Its signing key is replaced: "
        f"give its backend the new one (flask --app app tenants embed-secret {name})."
    )


@click.command("embed-token")
@click.argument("name")
@click.option("--widget", type=click.Choice(WIDGETS), default="metrics", show_default=True)
@click.option("--metric", help="Lock the metrics widget to one metric.")
@click.option("--customer", help="Narrow the tenant's EvoVoice account to one customer.")
@click.option("--ttl", default="15m", show_default=True, help="Lifetime, e.g. 15m or 1h.")
@click.option("--jti", help="A token id, so this one token can be revoked.")
@with_appcontext
def embed_token(
    name: str, widget: str, metric: str | None, customer: str | None, ttl: str, jti: str | None
) -> None:
    """Print a ready iframe URL for one of NAME's widgets."""
    settings = current_app.config["USAGE"]
    tenant = find_tenant(name)
    try:
        lifetime = parse_ttl(ttl)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if lifetime > timedelta(seconds=settings.embed_max_ttl):
        raise fail(f"--ttl is longer than USAGE_EMBED_MAX_TTL ({settings.embed_max_ttl} s)")
    if metric is not None and canonical_metric(metric) is None:
        raise fail(f"--metric {metric!r} is not one of the five metrics")
    if customer is not None and tenant.evovoice_customer_id not in (None, customer):
        raise fail("--customer may only narrow the tenant's scope, and it names another customer")
    try:
        key = current_key(tenant, current_app.extensions["secret_box"])
    except UnreadableKey as exc:
        raise fail(str(exc)) from None
    token = mint(
        key,
        ttl=lifetime,
        jti=jti,
        widget=widget,
        metric=canonical_metric(metric) if metric else None,
        customer_id=customer,
    )
    path = "/embed/ai-minutes" if widget == "ai-minutes" else "/embed/metrics"
    click.echo(f"{settings.public_url.rstrip('/')}{path}?{urlencode({'token': token})}")
