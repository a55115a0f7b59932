"""`services.tenancy`: what a login or an embed token may read, decided without a request."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.extensions import db
from core.secrets_box import SecretBox
from models import RevokedEmbedToken, Tenant
from services.embed_tokens import EmbedGrant, TokenRefused
from services.tenancy import (
    ScopeRefused,
    check_widget,
    narrowed_scope,
    require_staff,
    scope_for,
    token_tenant,
    viewed_tenant,
    widget_scope,
)

BOX = SecretBox(["tenancy-test-key"])
NOW = datetime(2026, 3, 10, tzinfo=UTC)


@dataclass
class Login:
    is_staff: bool = False
    tenant: Tenant | None = None


def tenant(name="acme", *, key="isnotai-key", account="acct-1", customer=None) -> Tenant:
    return Tenant(
        name=name,
        isnotai_key_encrypted=BOX.encrypt(key) if key else None,
        isnotai_region="eu" if key else None,
        evovoice_account_id=account,
        evovoice_customer_id=customer,
    )


def grant(name="acme", **claims) -> EmbedGrant:
    return EmbedGrant(name, NOW, NOW + timedelta(minutes=5), **claims)


@pytest.fixture
def stored(app, make_tenant):
    """Store acme and globex; yield inside an app context."""
    make_tenant("acme", account="acct-northwind")
    make_tenant("globex", account="acct-contoso")
    with app.app_context():
        yield {t.name: t for t in db.session.scalars(select(Tenant))}


# -- a login ---------------------------------------------------------------------------------


def test_the_scope_holds_the_decrypted_key_and_the_evovoice_scope():
    scope = scope_for(tenant(customer="cust-9"), BOX)
    assert (scope.name, scope.isnotai_key, scope.isnotai_region) == ("acme", "isnotai-key", "eu")
    assert (scope.account_id, scope.customer_id, scope.problem) == ("acct-1", "cust-9", None)


def test_an_undecryptable_key_is_a_problem_not_a_key():
    scope = scope_for(tenant(), SecretBox(["another-key"]))
    assert scope.isnotai_key is None
    assert "cannot be decrypted" in scope.problem
    assert scope.account_id == "acct-1"


def test_a_customer_is_forced_to_its_own_tenant_whatever_it_names(stored):
    own = stored["acme"]
    customer = Login(is_staff=False, tenant=own)
    assert viewed_tenant(customer, "globex") is own
    assert viewed_tenant(customer, "") is own
    assert viewed_tenant(customer, "no-such-tenant") is own


def test_a_customer_login_without_a_tenant_is_refused():
    with pytest.raises(ScopeRefused) as refused:
        viewed_tenant(Login(is_staff=False, tenant=None), "acme")
    assert refused.value.status == 403
    assert "belongs to no tenant" in refused.value.message


def test_staff_may_view_any_tenant_by_name(stored):
    staff = Login(is_staff=True)
    assert viewed_tenant(staff, "globex") is stored["globex"]
    assert viewed_tenant(staff, "  acme  ") is stored["acme"]


def test_staff_naming_no_tenant_get_none_to_choose_from(stored):
    assert viewed_tenant(Login(is_staff=True), "   ") is None


def test_an_unknown_tenant_is_refused(stored):
    with pytest.raises(ScopeRefused) as refused:
        viewed_tenant(Login(is_staff=True), "x" * 300)
    assert refused.value.status == 404
    assert refused.value.message == f"There is no tenant named {'x' * 100!r}."


def test_only_staff_pass_the_staff_check():
    require_staff(Login(is_staff=True))
    with pytest.raises(ScopeRefused) as refused:
        require_staff(Login(is_staff=False, tenant=tenant()))
    assert (refused.value.status, refused.value.message) == (403, "This page is for staff only.")


# -- an embed token --------------------------------------------------------------------------


def test_a_tokens_customer_id_narrows_an_account_to_one_customer():
    scope = narrowed_scope(tenant(), grant(customer_id="cust-7"), BOX)
    assert (scope.account_id, scope.customer_id) == ("acct-1", "cust-7")
    assert scope == replace(scope_for(tenant(), BOX), customer_id="cust-7")


def test_a_tokens_customer_id_never_moves_a_narrowed_tenant():
    narrowed = tenant(customer="cust-1")
    assert narrowed_scope(narrowed, grant(customer_id="cust-1"), BOX).customer_id == "cust-1"
    with pytest.raises(TokenRefused) as refused:
        narrowed_scope(narrowed, grant(customer_id="cust-2"), BOX)
    assert refused.value.status == 403


def test_a_tokens_customer_id_without_an_account_widens_nothing():
    scope = narrowed_scope(tenant(account=None), grant(customer_id="cust-7"), BOX)
    assert (scope.account_id, scope.customer_id) == (None, None)


def test_a_token_without_customer_id_gets_the_tenants_scope():
    assert narrowed_scope(tenant(customer="c"), grant(), BOX) == scope_for(
        tenant(customer="c"), BOX
    )


def test_the_metrics_widget_gets_no_evovoice_scope():
    scope = widget_scope(tenant(customer="cust-1"), grant(), "metrics", BOX)
    assert (scope.isnotai_key, scope.isnotai_region) == ("isnotai-key", "eu")
    assert (scope.account_id, scope.customer_id) == (None, None)


def test_the_metrics_widget_keeps_the_reason_its_key_is_unreadable():
    scope = widget_scope(tenant(), grant(), "metrics", SecretBox(["another-key"]))
    assert scope.isnotai_key is None and "cannot be decrypted" in scope.problem


def test_the_ai_minutes_widget_gets_no_isnotai_scope():
    scope = widget_scope(tenant(), grant(customer_id="cust-7"), "ai-minutes", BOX)
    assert (scope.isnotai_key, scope.isnotai_region, scope.problem) == (None, None, None)
    assert (scope.account_id, scope.customer_id) == ("acct-1", "cust-7")


def test_a_token_for_another_widget_is_refused():
    check_widget(grant(widget="metrics"), "metrics")
    check_widget(grant(), "ai-minutes")
    for check in (
        lambda: check_widget(grant(widget="metrics"), "ai-minutes"),
        lambda: widget_scope(tenant(), grant(widget="ai-minutes"), "metrics", BOX),
    ):
        with pytest.raises(TokenRefused, match="different widget"):
            check()


def test_a_token_opens_its_own_tenant(stored):
    assert token_tenant(grant("globex", jti="j-1")) is stored["globex"]


def test_a_token_of_a_removed_tenant_is_refused(stored):
    with pytest.raises(TokenRefused, match="names no tenant"):
        token_tenant(grant("initech"))


def test_a_revoked_token_is_refused_for_its_tenant_only(stored):
    db.session.add(RevokedEmbedToken(tenant_id=stored["acme"].id, jti="j-1"))
    db.session.commit()
    with pytest.raises(TokenRefused, match="revoked") as refused:
        token_tenant(grant("acme", jti="j-1"))
    assert refused.value.status == 403
    assert token_tenant(grant("globex", jti="j-1")) is stored["globex"]
