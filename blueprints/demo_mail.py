"""/demo/mail: what the demo's SMTP sink received, for staff, in demo mode only."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from flask import Blueprint, abort, current_app, g, make_response, render_template
from sqlalchemy import select

from core.extensions import db
from core.web_security import talisman
from models import DemoMail

from .staff import staff_only

bp = Blueprint("demo_mail", __name__, url_prefix="/demo/mail")

# The newest messages listed; the sink keeps the rest.
PAGE_SIZE = 30
# A message's HTML is shown in a sandboxed frame of this app: no script, form, plugin, font or
# remote image runs or loads; only its inline styles and data: images apply.
MESSAGE_POLICY = {
    "default-src": "'none'",
    "style-src": "'unsafe-inline'",
    "img-src": "data:",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'self'",
    "sandbox": "",
}


@bp.before_request
def demo_staff_only():
    """Outside demo mode there is no such page (404); in it, only staff may read it."""
    if not current_app.config["USAGE"].demo_enabled:
        abort(404)
    return staff_only()


def _parsed(mail: DemoMail) -> EmailMessage:
    message = email.message_from_string(mail.raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # policy.default makes EmailMessage
    return message


def _part(message: EmailMessage, kind: str) -> str | None:
    """Return the message's text or HTML part, decoded, or None when it has none."""
    part = message.get_body(preferencelist=(kind,))
    if part is None:
        return None
    try:
        return str(part.get_content())
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None


@bp.get("")
def page():
    """List the received messages, newest first, each with its text and its HTML."""
    mails = db.session.scalars(select(DemoMail).order_by(DemoMail.id.desc()).limit(PAGE_SIZE))
    shown = []
    for mail in mails:
        message = _parsed(mail)
        shown.append(
            {
                "mail": mail,
                "to": mail.rcpt_to.splitlines(),
                "text": _part(message, "plain"),
                "has_html": _part(message, "html") is not None,
            }
        )
    return render_template("demo_mail/page.html", mails=shown)


@bp.get("/<id:mail_id>/html")
@talisman(frame_options="SAMEORIGIN", content_security_policy=MESSAGE_POLICY)
def html(mail_id: int):
    """Serve one message's HTML part, to be framed by /demo/mail under its own strict policy."""
    mail = db.get_or_404(DemoMail, mail_id)
    body = _part(_parsed(mail), "html")
    if body is None:
        abort(404, "This message has no HTML part.")
    g.framed_by_self = True
    response = make_response(body)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
