"""Administration commands: `flask --app app tenants …` and `flask --app app users …`.

Every refusal is one line on standard error (`Error: …`) and a non-zero exit. Stored isnotai
keys are never printed, only masked.
"""

from __future__ import annotations

import re
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from models import ROLES, EmbedKey, RevokedEmbedToken, Tenant, User
from services.embed_keys import UnreadableKey, add_key, reencrypt_keys
from services.webhook_secrets import UnreadableSecret, reencrypt_secrets

TENANT_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
ISNOTAI_KEY = re.compile(r"aik_v1_[A-Za-z0-9_-]{40}")
REGIONS = ("us", "eu")
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
MAX_EMAIL = 254
MAX_EVOVOICE_ID = 200
MIN_PASSWORD = 8

tenants_cli = AppGroup("tenants", help="Add, list, remove tenants; rotate stored keys.")
users_cli = AppGroup("users", help="Add, list, remove users; set passwords.")


def fail(message: str) -> click.ClickException:
    """Return the one-line refusal that click prints as `Error: message`."""
    return click.ClickException(message)


def printable(text: str | None) -> str:
    """Show stored text with control characters escaped, so it cannot drive the terminal."""
    if not text:
        return "-"
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def normalize_email(email: str) -> str:
    """Return the stored form of an email: stripped and lower-cased."""
    return email.strip().lower()


def find_tenant(name: str) -> Tenant:
    """Return the tenant of that name or refuse."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise fail(f"no tenant named {name!r}")
    return tenant


def find_user(email: str) -> User:
    """Return the user with that email or refuse."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise fail(f"no user with email {normalize_email(email)!r}")
    return user


def commit(what: str) -> None:
    """Commit, turning a unique-constraint race into a one-line refusal."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise fail(f"{what} already exists") from None


def read_password(from_stdin: bool) -> str:
    """Read a new password from a hidden, confirmed prompt or the first line of stdin."""
    if from_stdin:
        password = sys.stdin.readline()
        password = password.removesuffix("\n").removesuffix("\r")
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt=True, default="", show_default=False
        )
    if not password:
        raise fail("the password is empty")
    if len(password) < MIN_PASSWORD:
        raise fail(f"the password is shorter than {MIN_PASSWORD} characters")
    return password


password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of a prompt.",
)


# --- tenants ---------------------------------------------------------------------------


@tenants_cli.command("add")
@click.argument("name")
@click.option("--isnotai-key", metavar="KEY", help="The tenant's isnotai API key (aik_v1_…).")
@click.option("--region", metavar="us|eu", help="The isnotai region of that key.")
@click.option("--evovoice-account", metavar="ID", help="The tenant's EvoVoice account id.")
@click.option("--evovoice-customer", metavar="ID", help="Limit the tenant to one customer.")
def add_tenant(
    name: str,
    isnotai_key: str | None,
    region: str | None,
    evovoice_account: str | None,
    evovoice_customer: str | None,
) -> None:
    """Add a tenant, with an optional isnotai integration and EvoVoice scope."""
    if not TENANT_NAME.fullmatch(name):
        raise fail("a tenant name is 1-100 letters, digits, '-', '_' or '.'")
    if (isnotai_key is None) != (region is None):
        raise fail("--isnotai-key and --region go together")
    if region is not None and region not in REGIONS:
        raise fail("--region must be us or eu")
    if isnotai_key is not None and not ISNOTAI_KEY.fullmatch(isnotai_key):
        # Never echo the key: a near miss is still a secret.
        raise fail("the isnotai key is malformed (expected aik_v1_ and 40 characters)")
    if evovoice_customer is not None and evovoice_account is None:
        raise fail("--evovoice-customer needs --evovoice-account")
    for option, value in (
        ("--evovoice-account", evovoice_account),
        ("--evovoice-customer", evovoice_customer),
    ):
        if value is not None and not 1 <= len(value) <= MAX_EVOVOICE_ID:
            raise fail(f"{option} must be 1-{MAX_EVOVOICE_ID} characters")
    if db.session.scalar(select(Tenant.id).where(Tenant.name == name)) is not None:
        raise fail(f"a tenant named {name!r} already exists")

    tenant = Tenant(
        name=name, evovoice_account_id=evovoice_account, evovoice_customer_id=evovoice_customer
    )
    if isnotai_key is not None:
        tenant.isnotai_key_encrypted = current_app.extensions["secret_box"].encrypt(isnotai_key)
        tenant.isnotai_key_last4 = isnotai_key[-4:]
        tenant.isnotai_region = region
    db.session.add(tenant)
    add_key(tenant, current_app.extensions["secret_box"])  # its widget signing key
    commit(f"a tenant named {name!r}")
    click.echo(f"Added tenant {name}.")


@tenants_cli.command("list")
def list_tenants() -> None:
    """List tenants with their masked isnotai key, region and EvoVoice scope."""
    counts = dict(
        db.session.execute(select(User.tenant_id, func.count()).group_by(User.tenant_id)).all()
    )
    tenants = db.session.scalars(select(Tenant).order_by(Tenant.name)).all()
    if not tenants:
        click.echo("No tenants.")
        return
    rows = [("NAME", "ISNOTAI KEY", "REGION", "EVOVOICE ACCOUNT", "EVOVOICE CUSTOMER", "USERS")]
    rows += [
        (
            t.name,
            t.isnotai_key_masked or "-",
            t.isnotai_region or "-",
            printable(t.evovoice_account_id),
            printable(t.evovoice_customer_id),
            str(counts.get(t.id, 0)),
        )
        for t in tenants
    ]
    _echo_table(rows)


@tenants_cli.command("remove")
@click.argument("name")
def remove_tenant(name: str) -> None:
    """Remove a tenant and its users."""
    tenant = find_tenant(name)
    # Explicit, because SQLite enforces the ON DELETE CASCADE only with foreign_keys=ON.
    removed = db.session.execute(delete(User).where(User.tenant_id == tenant.id)).rowcount
    for model in (EmbedKey, RevokedEmbedToken):  # a later tenant of that name starts clean
        db.session.execute(delete(model).where(model.tenant_id == tenant.id))
    db.session.delete(tenant)
    db.session.commit()
    click.echo(f"Removed tenant {name} and {removed} user{'' if removed == 1 else 's'}.")


@tenants_cli.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored key and secret under the first USAGE_ENCRYPTION_KEYS key."""
    box = current_app.extensions["secret_box"]
    tenants = db.session.scalars(
        select(Tenant).where(Tenant.isnotai_key_encrypted.is_not(None)).order_by(Tenant.name)
    ).all()
    for tenant in tenants:
        try:
            tenant.isnotai_key_encrypted = box.rotate(tenant.isnotai_key_encrypted)
        except ValueError:
            db.session.rollback()
            raise fail(
                f"tenant {tenant.name!r}: its isnotai key opens with none of the configured "
                "USAGE_ENCRYPTION_KEYS; nothing was rotated"
            ) from None
    try:
        signing = reencrypt_keys(box)
        hooks = reencrypt_secrets(box)
    except (UnreadableKey, UnreadableSecret) as exc:
        db.session.rollback()
        raise fail(f"{exc}; nothing was rotated") from None
    db.session.commit()
    click.echo(
        f"Rotated {len(tenants)} stored isnotai key{'' if len(tenants) == 1 else 's'} "
        f"and {signing} embed signing key{'' if signing == 1 else 's'}."
    )
    click.echo(f"Rotated {hooks} webhook secret{'' if hooks == 1 else 's'}.")


# --- users -----------------------------------------------------------------------------


@users_cli.command("add")
@click.argument("email")
@click.option("--role", metavar="customer|staff", help="customer (needs --tenant) or staff.")
@click.option("--tenant", "tenant_name", metavar="NAME", help="The customer's tenant.")
@password_stdin_option
def add_user(email: str, role: str | None, tenant_name: str | None, password_stdin: bool) -> None:
    """Add a login; the password comes from a hidden prompt or --password-stdin."""
    email = normalize_email(email)
    if len(email) > MAX_EMAIL or not EMAIL.fullmatch(email):
        raise fail(f"{email!r} is not a valid email address")
    if role not in ROLES:
        raise fail("--role must be customer or staff")
    if role == "staff" and tenant_name is not None:
        raise fail("staff see every tenant; do not give --tenant")
    if role == "customer" and tenant_name is None:
        raise fail("a customer needs --tenant")
    tenant = find_tenant(tenant_name) if tenant_name is not None else None
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise fail(f"a user with email {email!r} already exists")
    password = read_password(password_stdin)

    user = User(email=email, role=role, tenant=tenant)
    user.set_password(password)
    db.session.add(user)
    commit(f"a user with email {email!r}")
    where = f" of tenant {tenant.name}" if tenant else ""
    click.echo(f"Added {role} {email}{where}.")


@users_cli.command("list")
def list_users() -> None:
    """List logins with their role and tenant."""
    users = db.session.execute(
        select(User.email, User.role, Tenant.name)
        .outerjoin(Tenant, User.tenant_id == Tenant.id)
        .order_by(User.email)
    ).all()
    if not users:
        click.echo("No users.")
        return
    _echo_table([("EMAIL", "ROLE", "TENANT")] + [(e, r, t or "-") for e, r, t in users])


@users_cli.command("remove")
@click.argument("email")
def remove_user(email: str) -> None:
    """Remove a login."""
    user = find_user(email)
    db.session.delete(user)
    db.session.commit()
    click.echo(f"Removed user {user.email}.")


@users_cli.command("set-password")
@click.argument("email")
@password_stdin_option
def set_password(email: str, password_stdin: bool) -> None:
    """Set a login's password and sign it out everywhere."""
    user = find_user(email)
    user.set_password(read_password(password_stdin))  # old cookies stop working
    db.session.commit()
    click.echo(f"Password of {user.email} changed; its existing sessions are signed out.")


def _echo_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
