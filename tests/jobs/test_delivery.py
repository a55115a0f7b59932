"""deliver() in this process against a real SMTP server and a real HTTP receiver on loopback."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from core.extensions import db
from jobs.delivery import deliver, deliver_due, due_ids, lease_for
from jobs.mail import NOT_CONFIGURED
from jobs.queue import queue_for
from jobs.webhooks import verify
from models import Tenant
from services.webhook_secrets import current_secret

from .conftest import LogLines, payload_of
from .servers import SmtpServer, loopback_certificate


def smtp_url(smtp) -> str:
    user, password = smtp.login
    return f"smtp://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{smtp.port}"


def secret_of(env, tenant_id: int) -> str:
    with env.app.app_context():
        tenant = db.session.get(Tenant, tenant_id)
        return current_secret(tenant, env.app.extensions["secret_box"])


def run(env, delivery_id: int, now: datetime | None = None):
    with env.app.app_context():
        return deliver(delivery_id, now)


# -- email --------------------------------------------------------------------------------


def test_an_email_arrives_with_text_and_html_parts_after_a_login(make_env, smtp):
    env = make_env(USAGE_SMTP_URL=smtp_url(smtp))
    acme = env.tenant("acme")
    row = env.email(acme, "ops@acme.example", subject="AI minutes above 10,000 — é")

    with LogLines() as logs:
        outcome = run(env, row.id)

    assert (outcome.status, outcome.channel, outcome.target) == ("sent", "email", row.target)
    assert smtp.logins == [(b"alerts@usage.example", b"p@ss:w/rd %20+")]
    [(mail_from, rcpt, message)] = smtp.messages
    assert (mail_from, rcpt) == ("alerts@usage.example", ["ops@acme.example"])
    assert message["From"] == "Usage alerts <alerts@usage.example>"
    assert message["Subject"] == "AI minutes above 10,000 — é"
    assert message["Message-ID"] == f"<{row.uid}@usage.example>"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().strip() == row.body_text
    assert message.get_body(("html",)).get_content().strip() == row.body_html
    saved = env.row(row.id)
    assert (saved.state, saved.attempts, saved.lease_until) == ("sent", 1, None)
    assert [a.status for a in env.attempts(row.id)] == ["sent"]
    assert f"delivery {row.id} (email ops@acme.example): sent" in logs.text
    assert "p@ss" not in logs.text and "p%40ss" not in logs.text


def test_a_wrong_smtp_password_fails_and_never_shows_the_password(make_env, smtp):
    wrong = f"smtp://{quote(smtp.login[0], safe='')}:s3cret-wrong@127.0.0.1:{smtp.port}"
    env = make_env(USAGE_SMTP_URL=wrong)
    row = env.email(env.tenant("acme"), "ops@acme.example")

    with LogLines() as logs:
        outcome = run(env, row.id)

    assert outcome.status == "failed"
    assert f"delivery {row.id} (email ops@acme.example): failed" in logs.text
    [attempt] = env.attempts(row.id)
    assert attempt.status == "SMTP 535"
    assert "USAGE_SMTP_URL" in attempt.error
    for text in (attempt.error, outcome.detail, env.row(row.id).last_error, logs.text):
        assert "s3cret-wrong" not in text
    assert smtp.messages == []


def _outward_address() -> str | None:
    # The address this machine would reach the network from (a UDP connect sends nothing).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_a_password_is_never_sent_in_clear_to_a_server_across_the_network(make_env):
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    server = SmtpServer(login=("alerts@usage.example", "s3cret-pass"), host=address)
    server.controller.start()
    try:
        env = make_env(
            USAGE_SMTP_URL=f"smtp://alerts%40usage.example:s3cret-pass@{address}:{server.port}"
        )
        row = env.email(env.tenant("acme"), "ops@acme.example")

        outcome = run(env, row.id)

        assert outcome.status == "failed"
        [attempt] = env.attempts(row.id)
        assert attempt.status == "refused: no TLS"
        assert "offers no STARTTLS: the password is not sent in clear" in attempt.error
        assert "s3cret-pass" not in attempt.error
        assert (server.logins, server.messages) == ([], [])
    finally:
        server.controller.stop()


def test_outside_demo_mode_mail_without_a_server_fails_and_says_so(make_env):
    env = make_env(USAGE_DEMO="off", USAGE_SMTP_URL="")
    row = env.email(env.tenant("acme"), "ops@acme.example")

    outcome = run(env, row.id)

    assert outcome.status == "failed"
    assert outcome.detail == NOT_CONFIGURED == "mail is not configured (USAGE_SMTP_URL)"
    assert env.row(row.id).state == "failed"


def test_demo_mode_without_a_url_mails_the_demo_sink_port(make_env):
    anonymous = SmtpServer()  # the demo's sink takes mail without a login
    anonymous.controller.start()
    try:
        env = make_env(USAGE_SMTP_URL="", USAGE_DEMO_SMTP_PORT=str(anonymous.port))
        row = env.email(env.tenant("acme"), "ops@acme.example")
        assert run(env, row.id).status == "sent"
        assert [m[1] for m in anonymous.messages] == [["ops@acme.example"]]
    finally:
        anonymous.controller.stop()


def test_starttls_is_used_when_offered_and_the_certificate_is_checked(
    make_env, tmp_path, monkeypatch
):
    cert_file, context = loopback_certificate(tmp_path)
    server = SmtpServer(starttls=context)  # takes mail only after STARTTLS
    server.controller.start()
    try:
        env = make_env(USAGE_SMTP_URL=f"smtp://127.0.0.1:{server.port}")
        acme = env.tenant("acme")
        untrusted = env.email(acme, "ops@acme.example")
        first = run(env, untrusted.id)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # now the certificate is trusted
        trusted = env.email(acme, "ops@acme.example")
        second = run(env, trusted.id)
    finally:
        server.controller.stop()

    assert first.status == "retry"
    assert [a.status for a in env.attempts(untrusted.id)] == ["TLS error"]
    assert "CERTIFICATE_VERIFY_FAILED" in env.attempts(untrusted.id)[0].error
    assert second.status == "sent"
    assert [m[2]["X-Usage-Delivery"] for m in server.messages] == [trusted.uid]


def test_smtps_speaks_tls_from_the_start(make_env, tmp_path, monkeypatch):
    cert_file, context = loopback_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    server = SmtpServer(implicit_tls=context)
    server.controller.start()
    try:
        env = make_env(USAGE_SMTP_URL=f"smtps://127.0.0.1:{server.port}")
        row = env.email(env.tenant("acme"), "ops@acme.example")
        outcome = run(env, row.id)
    finally:
        server.controller.stop()
    assert outcome.status == "sent"
    assert len(server.messages) == 1


def test_an_smtp_server_that_is_down_is_retried(make_env):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    env = make_env(USAGE_SMTP_URL=f"smtp://127.0.0.1:{closed.getsockname()[1]}")
    row = env.email(env.tenant("acme"), "ops@acme.example")
    try:
        outcome = run(env, row.id)
    finally:
        closed.close()
    assert outcome.status == "retry"
    assert [a.status for a in env.attempts(row.id)] == ["connection error"]
    assert env.row(row.id).state == "pending"


# -- webhooks -----------------------------------------------------------------------------


def test_a_webhook_is_signed_with_its_tenants_secret_and_not_anothers(make_env, receiver):
    env = make_env()
    acme, globex = env.tenant("acme"), env.tenant("globex")
    row = env.webhook(acme, receiver.url + "/hook", {"rule": 7, "value": 12345, "name": "é"})

    assert run(env, row.id).status == "sent"

    [got] = receiver.requests
    assert got.body == row.payload.encode()  # the stored bytes, exactly
    # The delivery's id is in the signed body too, so a replay cannot pass as another delivery.
    assert payload_of(got) == {"rule": 7, "value": 12345, "name": "é", "delivery": row.uid}
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Usage-Delivery"] == row.uid
    signature = got.headers["X-Usage-Signature"]
    assert verify(secret_of(env, acme), got.body, signature)
    assert not verify(secret_of(env, globex), got.body, signature)
    assert not verify(secret_of(env, acme), got.body + b" ", signature)


def test_a_5xx_is_retried_with_backoff_until_it_succeeds(make_env, receiver):
    env = make_env(USAGE_DELIVERY_BACKOFF="30,120")
    row = env.webhook(env.tenant("acme"), receiver.url)
    receiver.answers = [(500, {}), (503, {})]
    start = datetime.now(UTC)

    first = run(env, row.id, start)
    assert first.status == "retry" and "HTTP 500" in first.detail
    early = run(env, row.id, start + timedelta(seconds=29))
    assert early.status == "skipped" and "not due" in early.detail
    second = run(env, row.id, start + timedelta(seconds=31))
    assert second.status == "retry"
    saved = env.row(row.id)
    assert saved.next_attempt_at.replace(tzinfo=UTC) >= start + timedelta(seconds=31 + 120)
    third = run(env, row.id, start + timedelta(seconds=200))

    assert third.status == "sent"
    assert [a.status for a in env.attempts(row.id)] == ["HTTP 500", "HTTP 503", "sent"]
    assert receiver.count() == 3
    assert len({r.headers["X-Usage-Delivery"] for r in receiver.requests}) == 1


def test_retries_stop_after_the_give_up_time(make_env, receiver):
    env = make_env(USAGE_DELIVERY_GIVE_UP_HOURS="24")
    row = env.webhook(env.tenant("acme"), receiver.url)
    receiver.answers = [(502, {}), (502, {})]
    created = row.created_at.replace(tzinfo=UTC)

    assert run(env, row.id, created + timedelta(hours=23, minutes=59, seconds=59)).status == "retry"
    # The last try is at the give-up time itself, not past it.
    assert env.row(row.id).next_attempt_at.replace(tzinfo=UTC) == created + timedelta(hours=24)
    last = run(env, row.id, created + timedelta(hours=24))

    assert last.status == "failed"
    assert last.detail.startswith("gave up after 24 h: HTTP 502")
    assert env.row(row.id).state == "failed"


def test_a_4xx_fails_at_once_and_says_so(make_env, receiver):
    env = make_env()
    row = env.webhook(env.tenant("acme"), receiver.url)
    receiver.answers = [(410, {})]

    outcome = run(env, row.id)

    assert outcome.status == "failed"
    assert "4xx answer is not retried" in outcome.detail
    assert env.row(row.id).state == "failed"
    with env.app.app_context():
        assert deliver_due(datetime.now(UTC) + timedelta(hours=1)) == []


def test_a_redirect_is_not_followed(make_env, receiver):
    env = make_env()
    row = env.webhook(env.tenant("acme"), receiver.url + "/old")
    receiver.answers = [(307, {"Location": receiver.url + "/new"})]

    outcome = run(env, row.id)

    assert outcome.status == "failed"
    assert "redirects are not followed" in outcome.detail and "/new" in outcome.detail
    assert [r.path for r in receiver.requests] == ["/old"]
    assert [a.status for a in env.attempts(row.id)] == ["HTTP 307"]


def test_a_receiver_slower_than_the_timeout_is_retried(make_env, receiver):
    env = make_env(USAGE_WEBHOOK_TIMEOUT="0.5")
    row = env.webhook(env.tenant("acme"), receiver.url)
    receiver.hold.set()  # answers only when released, long after the timeout

    outcome = run(env, row.id)

    assert outcome.status == "retry"
    assert [a.status for a in env.attempts(row.id)] == ["timeout"]


def test_a_receiver_answering_a_byte_at_a_time_is_cut_before_the_lease_runs_out(make_env, receiver):
    # Each byte comes within the read timeout, so only a limit on the whole send ends it;
    # without one the send outlives its lease and another consumer sends the delivery again.
    env = make_env(USAGE_WEBHOOK_TIMEOUT="0.5")
    row = env.webhook(env.tenant("acme"), receiver.url)
    receiver.drip = 0.2  # the answer's 40 bytes would take 8 s

    outcome = run(env, row.id)

    assert outcome.status == "retry"
    attempts = env.attempts(row.id)
    assert [(a.status, a.error) for a in attempts] == [("timeout", "no whole answer within 1 s")]
    lease = lease_for("webhook", env.app.config["USAGE"])
    assert attempts[0].duration_ms < lease.total_seconds() * 1000
    after = env.row(row.id)
    assert (after.state, after.lease_until) == ("pending", None)


def _private_urls(port: int) -> list[str]:
    urls = [
        f"https://127.0.0.1:{port}/hook",
        f"https://127.1:{port}/hook",  # a name the text check cannot read; it resolves to loopback
        f"https://2130706433:{port}/hook",  # 127.0.0.1 as one number
    ]
    try:
        if socket.gethostbyname(socket.gethostname()).startswith(
            ("127.", "10.", "172.", "192.168.")
        ):
            urls.append(f"https://{socket.gethostname()}:{port}/hook")
    except OSError:
        pass
    return urls


def test_outside_demo_mode_private_addresses_are_refused_where_they_connect(make_env, receiver):
    env = make_env(USAGE_DEMO="off")
    acme = env.tenant("acme")
    rows = [env.webhook(acme, url) for url in _private_urls(receiver.port)]

    outcomes = [run(env, row.id) for row in rows]

    assert [o.status for o in outcomes] == ["failed"] * len(rows)
    for row in rows:
        [attempt] = env.attempts(row.id)
        assert attempt.status == "refused: private address", attempt.error
        assert "127.0.0.1" in attempt.error or "127." in attempt.error
    # Connected and checked, but not one byte of a request was sent.
    assert receiver.requests == []
    assert receiver.connections >= 1


def test_outside_demo_mode_plain_http_is_refused(make_env, receiver):
    env = make_env(USAGE_DEMO="off")
    row = env.webhook(env.tenant("acme"), receiver.url)

    outcome = run(env, row.id)

    assert outcome.status == "failed"
    assert [a.status for a in env.attempts(row.id)] == ["refused: not https"]
    assert receiver.connections == 0


def test_in_demo_mode_a_name_resolving_to_loopback_is_allowed(make_env, receiver):
    env = make_env()
    row = env.webhook(env.tenant("acme"), f"http://127.1:{receiver.port}/hook")
    assert run(env, row.id).status == "sent"
    assert receiver.count("/hook") == 1


# -- claims, leases, the queue --------------------------------------------------------------


def test_a_claimed_delivery_is_sent_once_however_often_it_is_asked(make_env, receiver):
    env = make_env()
    row = env.webhook(env.tenant("acme"), receiver.url)
    now = datetime.now(UTC)

    outcomes = [run(env, row.id, now) for _ in range(3)]

    assert [o.status for o in outcomes] == ["sent", "skipped", "skipped"]
    assert outcomes[1].detail == "already sent"
    assert receiver.count() == 1


def test_a_lease_held_by_a_dead_consumer_runs_out_and_the_delivery_is_sent(make_env, receiver):
    env = make_env()
    row = env.webhook(env.tenant("acme"), receiver.url)
    now = datetime.now(UTC)
    with env.app.app_context():
        # What a consumer killed mid-send leaves: its claim, and nothing sent or recorded.
        from sqlalchemy import update

        from models import Delivery

        db.session.execute(
            update(Delivery)
            .where(Delivery.id == row.id)
            .values(lease_until=now + timedelta(seconds=8), attempts=1)
        )
        db.session.commit()
        assert due_ids(now) == []
        held = deliver(row.id, now + timedelta(seconds=7))
        assert held.status == "skipped" and "another consumer holds it" in held.detail
        assert due_ids(now + timedelta(seconds=9)) == [row.id]
        outcomes = deliver_due(now + timedelta(seconds=9))

    assert [o.status for o in outcomes] == ["sent"]
    assert receiver.count() == 1
    assert env.row(row.id).attempts == 2


def test_a_committed_delivery_is_queued_and_a_rolled_back_one_is_not(make_env, receiver):
    env = make_env()
    acme = env.tenant("acme")
    with env.app.app_context():
        huey = queue_for(env.app).huey
        before = huey.pending_count()
        from services.deliveries import add_webhook

        add_webhook(acme, receiver.url, {"a": 1})
        db.session.flush()
        db.session.rollback()
        assert huey.pending_count() == before
    row = env.webhook(acme, receiver.url)
    pending = queue_for(env.app).huey.pending()
    assert [task.args for task in pending][-1:] == [(row.id,)]


def test_an_unreadable_message_is_not_left_pending(make_env, smtp):
    env = make_env(USAGE_SMTP_URL=smtp_url(smtp))
    row = env.email(env.tenant("acme"), "ops@acme.example", subject="two\nlines")
    outcome = run(env, row.id)
    assert outcome.status == "failed" and "cannot be built" in outcome.detail
    assert smtp.messages == []


def test_a_missing_delivery_is_skipped(make_env):
    env = make_env()
    assert run(env, 999).status == "skipped"


def test_the_tenant_keeps_one_secret(make_env):
    env = make_env()
    acme = env.tenant("acme")
    first = secret_of(env, acme)
    assert first.startswith("whsec_") and secret_of(env, acme) == first
    with env.app.app_context():
        stored = db.session.scalar(select(Tenant.webhook_secret_encrypted).where(Tenant.id == acme))
    assert stored and first not in stored


def test_claims_leases_and_slots_work_on_postgresql(make_env, receiver, postgres_url):
    from jobs.periodic import claim_slot

    env = make_env(USAGE_DATABASE_URL=postgres_url)
    row = env.webhook(env.tenant("acme"), receiver.url)
    receiver.answers = [(500, {})]
    now = datetime.now(UTC)

    assert run(env, row.id, now).status == "retry"
    assert run(env, row.id, now).status == "skipped"
    assert run(env, row.id, now + timedelta(seconds=2)).status == "sent"
    assert run(env, row.id, now + timedelta(seconds=3)).detail == "already sent"
    assert [a.status for a in env.attempts(row.id)] == ["HTTP 500", "sent"]
    with env.app.app_context():
        assert claim_slot("sweep", "2026-12-01T06:00")
        assert not claim_slot("sweep", "2026-12-01T06:00")
