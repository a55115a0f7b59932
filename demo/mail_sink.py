"""The demo's SMTP sink: an aiosmtpd server on loopback that keeps every message for /demo/mail.

In demo mode, with no USAGE_SMTP_URL, mail goes to 127.0.0.1:USAGE_DEMO_SMTP_PORT; the sink
stores each message as a DemoMail row, so staff read what was sent without a mail server.
"""

from __future__ import annotations

import email
import email.policy
import logging
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask

from core.extensions import db
from models import DemoMail

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# Alert and report mails are a few kB; anything near this is not one of ours.
MAX_BYTES = 4 * 1024 * 1024


class _Sink:
    """An aiosmtpd handler that stores each message it accepts."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store the message as received; SMTP's answer says it was accepted."""
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self.app.app_context():
            db.session.add(
                DemoMail(
                    mail_from=envelope.mail_from or "",
                    rcpt_to="\n".join(envelope.rcpt_tos),
                    subject=str(message.get("Subject", ""))[:1000],
                    raw=raw.decode("utf-8", "replace"),
                )
            )
            db.session.commit()
            db.session.remove()
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's threaded server, which also learns its port when asked for any free one."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def start_sink(app: Flask) -> Controller | None:
    """Start the sink in demo mode on 127.0.0.1:demo_smtp_port; return it, or None.

    Outside demo mode nothing starts. A port already taken is logged once and the app goes
    on without the sink (another process, say `make run`'s worker, may be the sink already).
    The port it listens on is `app.extensions["demo_smtp_port"]` (the setting's, unless 0).
    """
    settings = app.config["USAGE"]
    if not settings.demo_enabled:
        return None
    # aiosmtpd logs every SMTP command at INFO; the sink keeps the messages themselves.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = _Controller(
        _Sink(app), hostname=HOST, port=settings.demo_smtp_port, data_size_limit=MAX_BYTES
    )
    try:
        controller.start()
    except OSError as exc:
        log.warning(
            "demo mail sink not started: %s:%s cannot be listened on (%s)",
            HOST,
            settings.demo_smtp_port,
            exc.strerror or exc,
        )
        controller.loop.close()
        return None
    app.extensions["demo_mail_sink"] = controller
    app.extensions["demo_smtp_port"] = controller.port
    log.info("demo mail sink listening on %s:%s (see /demo/mail)", HOST, controller.port)
    return controller
