"""`flask tenants …` and `flask users …`: happy paths, database state, one-line refusals."""

from __future__ import annotations

import json

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from app import create_app
from core.extensions import db
from models import EmbedKey, Tenant, User

KEY = "aik_v1_" + "Ab3_-" * 7 + "Q" + "Xy3Q"  # 40 characters after the prefix
OTHER_KEY = "aik_v1_" + "z" * 36 + "9Zz9"
assert len(KEY) == len(OTHER_KEY) == 47


def run(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def assert_ok(result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)


def assert_refused(result, *fragments: str) -> str:
    """Assert a non-zero exit with exactly one `Error: …` line on stderr and no traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def tenant(app, name: str) -> Tenant | None:
    with app.app_context():
        found = db.session.scalar(select(Tenant).where(Tenant.name == name))
        if found is not None:
            db.session.expunge(found)
        return found


def user(app, email: str) -> User | None:
    with app.app_context():
        found = db.session.scalar(select(User).where(User.email == email))
        if found is not None:
            db.session.expunge(found)
        return found


def embed_keys(app, name: str) -> list[EmbedKey]:
    with app.app_context():
        rows = db.session.scalars(select(EmbedKey).join(Tenant).where(Tenant.name == name)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def count(app, model) -> int:
    with app.app_context():
        return len(db.session.scalars(select(model)).all())


def add_tenant(app, name: str = "acme", *extra: str) -> None:
    assert_ok(run(app, "tenants", "add", name, *extra))


def add_user(app, email: str, *extra: str, password: str = "correct horse") -> None:
    result = run(app, "users", "add", email, *extra, "--password-stdin", input=password + "\n")
    assert_ok(result)


# --- tenants ---------------------------------------------------------------------------


def test_tenants_add_with_every_option_stores_the_key_encrypted(app):
    result = run(
        app,
        *("tenants", "add", "acme.prod-1_x", "--isnotai-key", KEY, "--region", "eu"),
        *("--evovoice-account", "acct <1>", "--evovoice-customer", "cust-9"),
    )
    assert_ok(result)
    assert KEY not in result.output

    stored = tenant(app, "acme.prod-1_x")
    assert stored.isnotai_region == "eu"
    assert stored.isnotai_key_last4 == "Xy3Q"
    assert stored.isnotai_key_encrypted and KEY not in stored.isnotai_key_encrypted
    assert app.extensions["secret_box"].decrypt(stored.isnotai_key_encrypted) == KEY
    assert (stored.evovoice_account_id, stored.evovoice_customer_id) == ("acct <1>", "cust-9")


def test_tenants_add_with_nothing_but_a_name(app):
    add_tenant(app, "bare")
    stored = tenant(app, "bare")
    assert not stored.has_isnotai and not stored.has_evovoice
    assert stored.isnotai_key_encrypted is None and stored.isnotai_key_last4 is None


def test_tenants_add_creates_its_embed_signing_key_encrypted(app):
    add_tenant(app, "acme")
    add_tenant(app, "globex")
    (acme,), (globex,) = embed_keys(app, "acme"), embed_keys(app, "globex")
    assert acme.expires_at is None and acme.kid != globex.kid
    box = app.extensions["secret_box"]
    secret = box.decrypt(acme.secret_encrypted)
    assert len(secret) >= 43 and secret not in acme.secret_encrypted  # 32 random bytes
    assert secret != box.decrypt(globex.secret_encrypted)


def test_tenants_add_with_account_only(app):
    add_tenant(app, "whole", "--evovoice-account", "acct-1")
    stored = tenant(app, "whole")
    assert (stored.evovoice_account_id, stored.evovoice_customer_id) == ("acct-1", None)


def test_tenants_list_masks_the_key(app):
    add_tenant(app, "acme", "--isnotai-key", KEY, "--region", "us", "--evovoice-account", "A1")
    add_tenant(app, "globex", "--evovoice-account", "A2", "--evovoice-customer", "C2")
    add_user(app, "a@acme.example", "--role", "customer", "--tenant", "acme")

    result = run(app, "tenants", "list")
    assert_ok(result)
    assert KEY not in result.output
    assert KEY[7:-4] not in result.output
    acme = next(line for line in result.output.splitlines() if line.startswith("acme"))
    assert acme.split() == ["acme", "aik_v1_…Xy3Q", "us", "A1", "-", "1"]
    globex = next(line for line in result.output.splitlines() if line.startswith("globex"))
    assert globex.split() == ["globex", "-", "-", "A2", "C2", "0"]


def test_tenants_list_escapes_control_characters(app):
    add_tenant(app, "term", "--evovoice-account", "evil\x1b[2Jid")
    result = run(app, "tenants", "list")
    assert_ok(result)
    assert "\x1b" not in result.output
    assert "evil\\x1b[2Jid" in result.output


def test_tenants_list_when_empty(app):
    result = run(app, "tenants", "list")
    assert_ok(result)
    assert "No tenants" in result.output


def test_tenants_remove_removes_its_users_only(app):
    add_tenant(app, "acme")
    add_tenant(app, "globex")
    add_user(app, "a1@acme.example", "--role", "customer", "--tenant", "acme")
    add_user(app, "a2@acme.example", "--role", "customer", "--tenant", "acme")
    add_user(app, "g@globex.example", "--role", "customer", "--tenant", "globex")
    add_user(app, "staff@example.com", "--role", "staff")

    result = run(app, "tenants", "remove", "acme")
    assert_ok(result)
    assert "2 users" in result.output
    assert tenant(app, "acme") is None
    assert user(app, "a1@acme.example") is None and user(app, "a2@acme.example") is None
    assert user(app, "g@globex.example") is not None
    assert user(app, "staff@example.com") is not None
    assert tenant(app, "globex") is not None
    assert count(app, EmbedKey) == 1 and embed_keys(app, "globex")


def test_tenants_remove_unknown(app):
    assert_refused(run(app, "tenants", "remove", "nope"), "no tenant named 'nope'")


def test_tenants_add_duplicate_name(app):
    add_tenant(app, "acme")
    assert_refused(run(app, "tenants", "add", "acme"), "already exists")
    assert count(app, Tenant) == 1


@pytest.mark.parametrize(
    "name", ["", "a b", "a/b", "a?b", "a&b=c", "ünï", "x" * 101, "acme\n", "<b>"]
)
def test_tenants_add_refuses_bad_names(app, name):
    assert_refused(run(app, "tenants", "add", name), "tenant name")
    assert count(app, Tenant) == 0


def test_tenants_add_accepts_the_longest_name(app):
    add_tenant(app, "x" * 100)
    assert tenant(app, "x" * 100) is not None


@pytest.mark.parametrize(
    "key",
    [
        KEY[:-1],  # 39 characters
        KEY + "A",  # 41 characters
        KEY.replace("aik_v1_", "aik_v2_"),
        KEY.replace("aik_v1_", "AIK_V1_"),
        KEY[:-1] + "!",
        KEY[:-1] + "=",
        KEY + "\n",
        " " + KEY,
        "",
    ],
)
def test_tenants_add_refuses_malformed_keys_without_echoing_them(app, key):
    line = assert_refused(
        run(app, "tenants", "add", "acme", "--isnotai-key", key, "--region", "us"), "malformed"
    )
    if key.strip():
        assert key.strip() not in line
        assert key.strip()[7:-4] not in line
    assert count(app, Tenant) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--isnotai-key", KEY], "--isnotai-key and --region go together"),
        (["--region", "us"], "--isnotai-key and --region go together"),
        (["--isnotai-key", KEY, "--region", "de"], "--region must be us or eu"),
        (["--isnotai-key", KEY, "--region", "US"], "--region must be us or eu"),
        (["--evovoice-customer", "C1"], "--evovoice-customer needs --evovoice-account"),
        (["--evovoice-account", ""], "--evovoice-account must be"),
        (["--evovoice-account", "x" * 201], "--evovoice-account must be"),
        (["--evovoice-account", "A", "--evovoice-customer", ""], "--evovoice-customer must be"),
    ],
)
def test_tenants_add_refuses_inconsistent_options(app, args, message):
    result = run(app, "tenants", "add", "acme", *args)
    line = assert_refused(result, message)
    assert KEY not in line
    assert count(app, Tenant) == 0


# --- key rotation ----------------------------------------------------------------------


@pytest.fixture
def make_app(app_config):
    """Create apps on one database with chosen USAGE_ENCRYPTION_KEYS; close them afterwards."""
    made = []

    def make(keys: str):
        application = create_app({**app_config, "USAGE_ENCRYPTION_KEYS": keys})
        made.append(application)
        return application

    yield make
    for application in made:
        application.extensions["upstreams"].http.close()


def test_rotate_keys_reencrypts_under_the_first_key(make_app):
    old = make_app("old")
    with old.app_context():
        upgrade()
    add_tenant(old, "acme", "--isnotai-key", KEY, "--region", "us")
    add_tenant(old, "globex", "--isnotai-key", OTHER_KEY, "--region", "eu")
    add_tenant(old, "bare")
    before = tenant(old, "acme").isnotai_key_encrypted

    both = make_app("new,old")
    result = run(both, "tenants", "rotate-keys")
    assert_ok(result)
    assert "Rotated 2 stored isnotai keys" in result.output
    assert KEY not in result.output and OTHER_KEY not in result.output

    new = make_app("new")
    box = new.extensions["secret_box"]
    assert tenant(new, "acme").isnotai_key_encrypted != before
    assert box.decrypt(tenant(new, "acme").isnotai_key_encrypted) == KEY
    assert box.decrypt(tenant(new, "globex").isnotai_key_encrypted) == OTHER_KEY
    assert tenant(new, "bare").isnotai_key_encrypted is None
    with pytest.raises(ValueError):
        make_app("old").extensions["secret_box"].decrypt(tenant(new, "acme").isnotai_key_encrypted)


def test_rotate_keys_refuses_when_a_key_cannot_be_opened_and_changes_nothing(make_app):
    old = make_app("old")
    with old.app_context():
        upgrade()
    add_tenant(old, "acme", "--isnotai-key", KEY, "--region", "us")
    other = make_app("other")
    add_tenant(other, "zeta", "--isnotai-key", OTHER_KEY, "--region", "us")
    before = {name: tenant(old, name).isnotai_key_encrypted for name in ("acme", "zeta")}

    line = assert_refused(run(make_app("new,old"), "tenants", "rotate-keys"), "'zeta'")
    assert "nothing was rotated" in line
    after = {name: tenant(old, name).isnotai_key_encrypted for name in ("acme", "zeta")}
    assert after == before


def test_rotate_keys_reencrypts_embed_signing_keys(make_app):
    old = make_app("old")
    with old.app_context():
        upgrade()
    add_tenant(old, "acme")
    before = json.loads(run(old, "tenants", "embed-secret", "acme", "--json").output)

    result = run(make_app("new,old"), "tenants", "rotate-keys")
    assert_ok(result)
    assert "and 1 embed signing key." in result.output and before["secret"] not in result.output

    after = run(make_app("new"), "tenants", "embed-secret", "acme", "--json")
    assert_ok(after)
    assert json.loads(after.output) == before


def test_rotate_keys_refuses_an_embed_key_it_cannot_open(make_app):
    old = make_app("old")
    with old.app_context():
        upgrade()
    add_tenant(old, "acme", "--isnotai-key", KEY, "--region", "us")
    add_tenant(make_app("other"), "zeta")
    before = tenant(old, "acme").isnotai_key_encrypted

    line = assert_refused(run(make_app("new,old"), "tenants", "rotate-keys"), "'zeta'")
    assert "nothing was rotated" in line
    assert tenant(old, "acme").isnotai_key_encrypted == before


def test_rotate_keys_with_no_keys(app):
    result = run(app, "tenants", "rotate-keys")
    assert_ok(result)
    assert "Rotated 0 stored isnotai keys" in result.output


# --- users -----------------------------------------------------------------------------


def test_users_add_customer_from_stdin(app):
    add_tenant(app, "acme")
    result = run(
        app,
        *("users", "add", "  Alice@Example.COM ", "--role", "customer", "--tenant", "acme"),
        "--password-stdin",
        input="s3cret pass \nsecond line\n",
    )
    assert_ok(result)
    stored = user(app, "alice@example.com")
    assert stored.role == "customer"
    assert stored.tenant_id == tenant(app, "acme").id
    assert stored.password_hash.startswith("scrypt:")
    assert stored.check_password("s3cret pass ")  # only the newline is stripped
    assert not stored.check_password("s3cret pass")


def test_users_add_password_stdin_strips_crlf(app):
    add_user(app, "crlf@example.com", "--role", "staff", password="windows-pass\r")
    assert user(app, "crlf@example.com").check_password("windows-pass")


def test_users_add_staff_from_a_confirmed_prompt(app):
    result = run(
        app, "users", "add", "boss@example.com", "--role", "staff", input="hunter2-long\n" * 2
    )
    assert_ok(result)
    assert "hunter2-long" not in result.output  # the prompt does not echo
    stored = user(app, "boss@example.com")
    assert stored.role == "staff" and stored.tenant_id is None
    assert stored.check_password("hunter2-long")


def test_users_add_prompt_mismatch_adds_nobody(app):
    result = run(
        app, "users", "add", "boss@example.com", "--role", "staff", input="first-pass\nother-pass\n"
    )
    assert result.exit_code != 0
    assert user(app, "boss@example.com") is None


def test_users_list(app):
    add_tenant(app, "acme")
    add_user(app, "c@acme.example", "--role", "customer", "--tenant", "acme")
    add_user(app, "s@example.com", "--role", "staff")
    result = run(app, "users", "list")
    assert_ok(result)
    lines = result.output.splitlines()
    assert ["c@acme.example", "customer", "acme"] in [line.split() for line in lines]
    assert ["s@example.com", "staff", "-"] in [line.split() for line in lines]
    assert "scrypt" not in result.output


def test_users_list_when_empty(app):
    result = run(app, "users", "list")
    assert_ok(result)
    assert "No users" in result.output


def test_users_remove(app):
    add_user(app, "gone@example.com", "--role", "staff")
    add_user(app, "kept@example.com", "--role", "staff")
    assert_ok(run(app, "users", "remove", "Gone@Example.com"))
    assert user(app, "gone@example.com") is None
    assert user(app, "kept@example.com") is not None


def test_users_set_password_from_stdin_gives_a_new_session_identity(app):
    add_user(app, "s@example.com", "--role", "staff", password="old-password")
    identity = user(app, "s@example.com").session_id
    result = run(
        app, "users", "set-password", "S@example.com", "--password-stdin", input="new-password\n"
    )
    assert_ok(result)
    stored = user(app, "s@example.com")
    assert stored.check_password("new-password") and not stored.check_password("old-password")
    assert stored.session_id != identity and len(stored.session_id) >= 43


def test_users_set_password_from_prompt(app):
    add_user(app, "s@example.com", "--role", "staff", password="old-password")
    result = run(app, "users", "set-password", "s@example.com", input="prompted-pw\n" * 2)
    assert_ok(result)
    assert user(app, "s@example.com").check_password("prompted-pw")


def test_set_password_ends_existing_sessions(app):
    add_user(app, "s@example.com", "--role", "staff", password="old-password")
    client = app.test_client()
    form = {"email": "s@example.com", "password": "old-password", "remember": "1"}
    assert client.post("/login", data=form).status_code == 302
    remember = client.get_cookie("remember_token").value
    assert not client.get("/").headers.get("Location", "").startswith("/login")
    run(app, "users", "set-password", "s@example.com", "--password-stdin", input="new-password\n")
    assert client.get("/").headers["Location"].startswith("/login")
    replay = app.test_client()
    replay.set_cookie("remember_token", remember)
    assert replay.get("/").headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "a@b",
        "a b@example.com",
        "@example.com",
        "a@@example.com",
        "a@example..com",
        "a@-example.com",
        "",
        "a" * 250 + "@example.com",
        "a\n@example.com",
    ],
)
def test_users_add_refuses_invalid_emails(app, email):
    result = run(
        app, "users", "add", email, "--role", "staff", "--password-stdin", input="long-enough\n"
    )
    assert_refused(result, "not a valid email address")
    assert count(app, User) == 0


def test_users_add_refuses_duplicate_email_in_any_case(app):
    add_user(app, "dup@example.com", "--role", "staff")
    result = run(
        app,
        *("users", "add", " DUP@example.com", "--role", "staff", "--password-stdin"),
        input="long-enough\n",
    )
    assert_refused(result, "already exists")
    assert count(app, User) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "customer", "--tenant", "nope"], "no tenant named 'nope'"),
        (["--role", "customer"], "a customer needs --tenant"),
        (["--role", "staff", "--tenant", "acme"], "do not give --tenant"),
        (["--role", "admin"], "--role must be customer or staff"),
        ([], "--role must be customer or staff"),
    ],
)
def test_users_add_refuses_bad_roles_and_tenants(app, args, message):
    add_tenant(app, "acme")
    result = run(
        app, "users", "add", "x@example.com", *args, "--password-stdin", input="long-enough\n"
    )
    assert_refused(result, message)
    assert count(app, User) == 0


@pytest.mark.parametrize(
    ("password", "message"),
    [("", "empty"), ("\n", "empty"), ("short7!", "shorter than 8"), ("1234567\n", "shorter")],
)
def test_users_add_refuses_weak_passwords_from_stdin(app, password, message):
    result = run(
        app,
        *("users", "add", "x@example.com", "--role", "staff", "--password-stdin"),
        input=password,
    )
    assert_refused(result, message)
    assert count(app, User) == 0


@pytest.mark.parametrize(("typed", "message"), [("", "empty"), ("short", "shorter than 8")])
def test_users_add_refuses_weak_passwords_from_the_prompt(app, typed, message):
    result = run(app, "users", "add", "x@example.com", "--role", "staff", input=f"{typed}\n" * 2)
    assert_refused(result, message)
    assert count(app, User) == 0


def test_users_set_password_refuses_a_short_one_and_keeps_the_old(app):
    add_user(app, "s@example.com", "--role", "staff", password="old-password")
    identity = user(app, "s@example.com").session_id
    result = run(app, "users", "set-password", "s@example.com", "--password-stdin", input="x\n")
    assert_refused(result, "shorter than 8")
    stored = user(app, "s@example.com")
    assert stored.check_password("old-password") and stored.session_id == identity


@pytest.mark.parametrize("command", [["remove"], ["set-password", "--password-stdin"]])
def test_unknown_users_are_refused(app, command):
    result = run(app, "users", command[0], "ghost@example.com", *command[1:], input="long-enough\n")
    assert_refused(result, "no user with email 'ghost@example.com'")
