"""Real consumers (`flask --app app worker`) on SQLite and on Redis storage.

Each test runs consumer processes against its own database and queue, delivering to a real
SMTP server and a real HTTP receiver on loopback.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import quote

from sqlalchemy import select

from core.extensions import db
from jobs.queue import queue_for
from jobs.webhooks import verify
from models import DemoMail, JobSlot, Tenant
from services.webhook_secrets import current_secret

from .servers import wait_for


def _smtp_url(smtp) -> str:
    user, password = smtp.login
    return f"smtp://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{smtp.port}"


def _sent(env, *ids: int):
    return lambda: all(env.row(i).state == "sent" for i in ids)


def test_a_consumer_sends_mail_and_signed_webhooks(queue_url, make_env, smtp, receiver):
    env = make_env(queue_url, USAGE_SMTP_URL=_smtp_url(smtp))
    acme = env.tenant("acme")
    worker = env.worker()
    mail = env.email(acme, "ops@acme.example")
    hook = env.webhook(acme, receiver.url + "/hook", {"rule": 1})

    wait_for(_sent(env, mail.id, hook.id), "both deliveries to be sent", log=worker.log)

    [(_, rcpt, message)] = smtp.messages
    assert rcpt == ["ops@acme.example"]
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("html",)).get_content().strip() == mail.body_html
    [got] = receiver.requests
    with env.app.app_context():
        secret = current_secret(db.session.get(Tenant, acme), env.app.extensions["secret_box"])
    assert verify(secret, got.body, got.headers["X-Usage-Signature"])
    log = worker.log()
    assert f"delivery {hook.id} (webhook {receiver.url}/hook): sent" in log
    for secret_text in (secret, smtp.login[1], quote(smtp.login[1], safe="")):
        assert secret_text not in log


def test_a_500_is_retried_by_the_consumer_and_then_succeeds(queue_url, make_env, receiver):
    env = make_env(queue_url, USAGE_DELIVERY_BACKOFF="1")
    receiver.answers = [(500, {})]
    worker = env.worker()
    hook = env.webhook(env.tenant("acme"), receiver.url)

    wait_for(_sent(env, hook.id), "the retry to succeed", log=worker.log)

    assert [a.status for a in env.attempts(hook.id)] == ["HTTP 500", "sent"]
    assert receiver.count() == 2
    assert {r.headers["X-Usage-Delivery"] for r in receiver.requests} == {hook.uid}


def _not_near_a_minute_boundary() -> None:
    # Both consumers' first periodic runs should fall in one minute's slot.
    second = datetime.now(UTC).second
    if second > 50:
        time.sleep(61 - second)


def test_two_consumers_never_send_one_delivery_twice(queue_url, make_env, receiver):
    env = make_env(queue_url)
    acme = env.tenant("acme")
    rows = [env.webhook(acme, f"{receiver.url}/{n}", {"n": n}) for n in range(40)]
    # Every delivery is on the queue three times over (its commit, then twice more), and the
    # consumers' sweeps add theirs: the claims must still let each out only once.
    queue = queue_for(env.app)
    for _ in range(2):
        for row in rows:
            queue.send(row.id)
    _not_near_a_minute_boundary()
    first, second = env.worker(workers=4), env.worker(workers=4)

    wait_for(_sent(env, *(r.id for r in rows)), "every delivery to be sent", log=env.logs)

    assert receiver.count() == 40
    assert Counter(r.headers["X-Usage-Delivery"] for r in receiver.requests) == {
        r.uid: 1 for r in rows
    }
    # Both consumers did some of the work.
    sent_by = [len(re.findall(r"\): sent, HTTP 200", w.log())) for w in (first, second)]
    assert sum(sent_by) == 40

    # Each consumer's scheduler queued the minute's sweep; one run per slot did the work.
    def sweeps() -> list[tuple[str, str]]:
        return re.findall(r"job sweep (\S+): (.*)", env.logs())

    wait_for(lambda: len(sweeps()) >= 2, "both consumers' sweeps", log=env.logs)
    runs = Counter(slot for slot, what in sweeps() if not what.startswith("skipped"))
    skips = Counter(slot for slot, what in sweeps() if what.startswith("skipped"))
    assert set(runs.values()) == {1}, sweeps()
    assert sum(skips.values()) >= 1, sweeps()
    with env.app.app_context():
        slots = db.session.scalars(select(JobSlot.slot).where(JobSlot.job == "sweep")).all()
    assert sorted(slots) == sorted(runs)


def test_a_consumer_killed_mid_delivery_has_it_redone_exactly_once(queue_url, make_env, receiver):
    env = make_env(queue_url, USAGE_WEBHOOK_TIMEOUT="2")  # a lease of 8 s
    receiver.hold.set()
    doomed = env.worker(name="doomed")
    hook = env.webhook(env.tenant("acme"), receiver.url + "/hook")
    wait_for(lambda: receiver.count() == 1, "the request to arrive", log=doomed.log)

    doomed.kill()  # while the receiver holds the request: nothing recorded, lease held
    receiver.hold.clear()
    receiver.release.set()
    assert env.row(hook.id).state == "pending"
    assert env.attempts(hook.id) == []
    survivor = env.worker(name="survivor")

    wait_for(_sent(env, hook.id), "the job to be redone", log=survivor.log)

    assert receiver.count() == 2
    assert {r.headers["X-Usage-Delivery"] for r in receiver.requests} == {hook.uid}
    assert [a.status for a in env.attempts(hook.id)] == ["sent"]
    assert env.row(hook.id).attempts == 2
    # Nothing more is queued for it: a consumer running it again finds it sent.
    with env.app.app_context():
        from jobs.delivery import deliver

        assert deliver(hook.id).detail == "already sent"
    assert receiver.count() == 2


def test_in_demo_mode_the_consumer_runs_the_sink_its_mail_goes_to(make_env):
    env = make_env(USAGE_SMTP_URL="", USAGE_DEMO_SMTP_PORT="0")  # the sink takes any free port
    worker = env.worker()
    mail = env.email(env.tenant("acme"), "ops@acme.example", subject="Seen at /demo/mail")

    wait_for(_sent(env, mail.id), "the mail to reach the demo sink", log=worker.log)

    with env.app.app_context():
        stored = db.session.scalars(select(DemoMail)).all()
    assert [(m.rcpt_to, m.subject) for m in stored] == [("ops@acme.example", "Seen at /demo/mail")]
    assert f"X-Usage-Delivery: {mail.uid}" in stored[0].raw
