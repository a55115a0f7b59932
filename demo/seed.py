"""Demo tenants and logins, matching the simulators' data; the demo host page's origin."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from models import Tenant, User
from services.embed_keys import add_key

# (email, password, what the login shows) — demo data, printed by `flask setup`.
DEMO_LOGINS = (
    ("staff@demo.invalid", "demo-staff", "staff: every account and tenant"),
    ("acme@demo.invalid", "demo-acme", "customer of acme (isnotai US Pro, whole EvoVoice account)"),
    (
        "globex@demo.invalid",
        "demo-globex",
        "customer of globex (isnotai EU Enterprise, one customer)",
    ),
    ("initech@demo.invalid", "demo-initech", "customer of initech (isnotai US Free, hostile ids)"),
)


def demo_tenants() -> list[dict]:
    """Return the demo tenants' fields, from the simulators' data."""
    from simulators.data import EVOVOICE_ACCOUNTS, isnotai_integration

    northwind, hostile, _, unicode_account, _ = list(EVOVOICE_ACCOUNTS)
    return [
        {
            "name": "acme",
            "integration": isnotai_integration("acme"),
            "account": northwind,
            "customer": None,
        },
        {
            "name": "globex",
            "integration": isnotai_integration("globex"),
            "account": unicode_account,
            "customer": EVOVOICE_ACCOUNTS[unicode_account][0],
        },
        {
            "name": "initech",
            "integration": isnotai_integration("initech"),
            "account": hostile,
            "customer": None,
        },
    ]


def host_origin(public_url: str) -> str:
    """Return the demo host page's origin: the public URL's port on `localhost`."""
    parts = urlsplit(public_url)
    return f"{parts.scheme}://localhost:{parts.port or 80}"


def demo_embed_origin() -> str:
    """Return the origin of the demo page that frames acme's widgets."""
    return host_origin(current_app.config["USAGE"].public_url)


def seed_demo() -> list[str]:
    """Add the demo tenants and logins that are missing; return the real tenants left alone.

    A tenant with a demo tenant's name that is not the demo's (other EvoVoice scope or isnotai
    key) is somebody's real tenant: it gets no demo login.
    """
    try:
        return _seed()
    except IntegrityError:
        # Another server seeded at the same moment: what is missing now, add.
        db.session.rollback()
        return _seed()


def _seed() -> list[str]:
    box = current_app.extensions["secret_box"]
    tenants: dict[str, Tenant] = {}
    left_alone = []
    for spec in demo_tenants():
        tenant = db.session.scalar(select(Tenant).where(Tenant.name == spec["name"]))
        if tenant is None:
            key = spec["integration"].key
            tenant = Tenant(
                name=spec["name"],
                isnotai_key_encrypted=box.encrypt(key),
                isnotai_key_last4=key[-4:],
                isnotai_region=spec["integration"].region,
                evovoice_account_id=spec["account"],
                evovoice_customer_id=spec["customer"],
                embed_origins=demo_embed_origin() if spec["name"] == "acme" else "",
            )
            db.session.add(tenant)
            add_key(tenant, box)  # its widget signing key
        elif not _is_the_demo_tenant(tenant, spec):
            left_alone.append(tenant.name)
            continue
        tenants[spec["name"]] = tenant
    for email, password, _ in DEMO_LOGINS:
        name = email.split("@")[0]
        if name in left_alone:
            continue
        if db.session.scalar(select(User).where(User.email == email)) is not None:
            continue
        user = User(
            email=email,
            role="staff" if name == "staff" else "customer",
            tenant=tenants.get(name),
        )
        user.set_password(password)
        db.session.add(user)
    db.session.commit()
    return left_alone


def the_demo_tenant(name: str) -> Tenant | None:
    """Return the demo's own tenant of that name, never a real tenant that shares the name."""
    settings = current_app.config["USAGE"]
    if not settings.demo_seeds_database:
        return None
    tenant = db.session.scalar(select(Tenant).where(Tenant.name == name))
    spec = next((s for s in demo_tenants() if s["name"] == name), None)
    if tenant is None or spec is None or not _is_the_demo_tenant(tenant, spec):
        return None
    return tenant


def _is_the_demo_tenant(tenant: Tenant, spec: dict) -> bool:
    integration = spec["integration"]
    if (
        tenant.evovoice_account_id != spec["account"]
        or tenant.evovoice_customer_id != spec["customer"]
        or tenant.isnotai_region != integration.region
        or not tenant.isnotai_key_encrypted
    ):
        return False
    try:
        key = current_app.extensions["secret_box"].decrypt(tenant.isnotai_key_encrypted)
    except ValueError:
        return False
    return key == integration.key
