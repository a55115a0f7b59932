"""Messages waiting to go out: written in the caller's transaction, sent later by the queue.

A delivery row is added in the same transaction as what caused it (an alert firing, a report
send), so a message is never lost and never written twice; the queue (jobs/) claims each row
before sending it, so two consumers never send it twice.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from core.extensions import db
from models import Delivery


def add_email(
    tenant_id: int,
    to: str,
    subject: str,
    text: str,
    html: str,
    *,
    firing_id: int | None = None,
    report_send_id: int | None = None,
) -> Delivery:
    """Add an email to the caller's transaction; the caller commits."""
    delivery = Delivery(
        uid=secrets.token_hex(16),
        tenant_id=tenant_id,
        firing_id=firing_id,
        report_send_id=report_send_id,
        channel="email",
        target=to,
        subject=subject,
        body_text=text,
        body_html=html,
    )
    db.session.add(delivery)
    return delivery


def add_webhook(
    tenant_id: int,
    url: str,
    payload: Mapping[str, Any],
    *,
    firing_id: int | None = None,
    report_send_id: int | None = None,
) -> Delivery:
    """Add a webhook POST to the caller's transaction; the body is fixed now, signed when sent.

    The body carries the delivery's id (`delivery`, also sent as X-Usage-Delivery), so the id a
    receiver drops repeats by is covered by the signature: a captured request replayed under
    another X-Usage-Delivery still says which delivery it is.
    """
    uid = secrets.token_hex(16)
    payload = {**payload, "delivery": uid}
    delivery = Delivery(
        uid=uid,
        tenant_id=tenant_id,
        firing_id=firing_id,
        report_send_id=report_send_id,
        channel="webhook",
        target=url,
        payload=json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False),
    )
    db.session.add(delivery)
    return delivery
