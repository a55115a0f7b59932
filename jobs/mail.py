"""Email over SMTP: USAGE_SMTP_URL, STARTTLS when the server offers it, text and HTML parts.

smtp://user:pass@host:587 (STARTTLS when offered), smtps://…:465 (TLS from the start); the
user and password are URL-decoded. Demo mode without a URL mails the demo's own sink. The
password never appears in a log line, an error or an attempt row.
"""

from __future__ import annotations

import base64
import ipaddress
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import unquote, urlsplit

from core.config import Settings
from models import Delivery

from .sending import Result, one_line

SMTP_TIMEOUT = 30.0  # seconds per SMTP command
NOT_CONFIGURED = "mail is not configured (USAGE_SMTP_URL)"


class MailConfigError(ValueError):
    """USAGE_SMTP_URL cannot be read; the message never holds the password."""


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes, and the login, if any."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


def smtp_server(settings: Settings, sink_port: int | None = None) -> SmtpServer | None:
    """Return the server USAGE_SMTP_URL names (the demo's sink in demo mode), or None.

    `sink_port`: where this process's demo sink listens, when it chose a free port.
    """
    url = settings.smtp_url.strip()
    if not url:
        if settings.demo_enabled:
            return SmtpServer("127.0.0.1", sink_port or settings.demo_smtp_port, False)
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailConfigError(
            "USAGE_SMTP_URL must look like smtp://user:pass@host:587 or smtps://…"
        )
    try:
        given = parts.port
    except ValueError:
        raise MailConfigError("USAGE_SMTP_URL has an invalid port") from None
    implicit = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname,
        port=given or (465 if implicit else 587),
        implicit_tls=implicit,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def build_message(row: Delivery, mail_from: str) -> EmailMessage:
    """Return the delivery as a message: text, and HTML as its alternative when there is one."""
    message = EmailMessage()
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    message["From"] = mail_from
    message["To"] = row.target
    message["Subject"] = row.subject
    message["Date"] = formatdate(usegmt=True)
    # The same id on every try: a mail system that saw the message once can drop a repeat.
    message["Message-ID"] = f"<{row.uid}@{domain}>"
    message["X-Usage-Delivery"] = row.uid
    message.set_content(row.body_text or "")
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


def send_email(row: Delivery, settings: Settings, sink_port: int | None = None) -> Result:
    """Send one email delivery through one SMTP conversation."""
    try:
        server = smtp_server(settings, sink_port)
    except MailConfigError as exc:
        return Result.failed("not configured", str(exc))
    if server is None:
        return Result.failed("not configured", NOT_CONFIGURED)
    try:
        message = build_message(row, settings.mail_from)
    except (ValueError, TypeError) as exc:
        return Result.failed("unsendable", f"the message cannot be built: {one_line(str(exc))}")
    try:
        _converse(server, message)
    except CleartextLogin as exc:
        return Result.failed("refused: no TLS", str(exc))
    except smtplib.SMTPRecipientsRefused as exc:
        code, answer = next(iter(exc.recipients.values()), (550, b""))
        return _refused(server, code, answer)
    except smtplib.SMTPResponseException as exc:
        return _refused(server, exc.smtp_code, exc.smtp_error)
    except UnicodeEncodeError:  # smtplib sends user and password as ASCII only
        return Result.failed("not configured", "USAGE_SMTP_URL: user and password must be ASCII")
    except smtplib.SMTPNotSupportedError as exc:
        return Result.failed("SMTP unsupported", _scrub(f"{server}: {exc}", server))
    except TimeoutError:
        return Result.retry("timeout", f"{server} did not answer within {SMTP_TIMEOUT:g} s")
    except ssl.SSLError as exc:
        return Result.retry("TLS error", _scrub(f"{server}: {one_line(str(exc))}", server))
    except (OSError, smtplib.SMTPException) as exc:
        said = f"{server}: {type(exc).__name__}: {one_line(str(exc))}"
        return Result.retry("connection error", _scrub(said, server))
    return Result.sent(f"accepted by {server}")


def _converse(server: SmtpServer, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.implicit_tls:
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=SMTP_TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT)
    with client:
        client.ehlo()
        secure = server.implicit_tls
        if not secure and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
            secure = True
        if server.username:
            if not (secure or _loopback(server.host)):
                raise CleartextLogin(server)
            client.login(server.username, server.password or "")
        client.send_message(message)


class CleartextLogin(Exception):
    """The server offers no TLS, and the password would cross the network in clear."""

    def __init__(self, server: SmtpServer) -> None:
        super().__init__(
            f"{server} offers no STARTTLS: the password is not sent in clear; use a server "
            "that offers STARTTLS, or smtps://"
        )


def _loopback(host: str) -> bool:
    # A relay on this machine: the password never crosses a network.
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def _refused(server: SmtpServer, code: int, answer: bytes | str) -> Result:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    error = _scrub(f"{server} answered {code} {one_line(text)}", server)
    if code == 535 or code == 534:
        error += "; check the user and password in USAGE_SMTP_URL"
    # 4xx: the server asks to try later; 5xx: it refuses this message for good.
    if 400 <= code < 500:
        return Result.retry(f"SMTP {code}", error)
    return Result.failed(f"SMTP {code}", error)


def _scrub(text: str, server: SmtpServer) -> str:
    """Remove the password, in every form smtplib might send it, from error text."""
    password = server.password
    if not password:
        return text
    user = server.username or ""
    forms = {
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
    }
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
