"""Email over SMTP: plain, STARTTLS or SSL, with login; HTML and plain-text parts; Chinese headers encoded."""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

from duban.outbox import Outgoing, SendError

TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to reach the mail server, read from `smtp://user:pass@host:587?starttls=1&from=...`."""

    host: str
    port: int
    security: str  # plain, starttls, ssl
    user: str = ""
    password: str = ""
    sender: str = ""
    from_name: str = ""
    timeout: float = 30.0
    verify: bool = True


def parse_smtp_url(url: str, setting: str = "smtp_url") -> SmtpConfig:
    """Read an SMTP URL; a ValueError names the setting and what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"{setting}: unknown scheme '{parts.scheme}' in '{_hide(url)}' (use smtp:// or smtps://)")
    if not parts.hostname:
        raise ValueError(f"{setting}: no host in '{_hide(url)}' (write smtp://user:pass@host:587?from=...)")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"starttls", "from", "name", "timeout", "verify"})
    if unknown:
        raise ValueError(f"{setting}: unknown option(s) {', '.join(unknown)} "
                         f"(use starttls, from, name, timeout, verify)")
    try:
        port = parts.port
        timeout = float(query.get("timeout", 30))
    except ValueError as error:
        raise ValueError(f"{setting}: {error} in '{_hide(url)}'") from None
    starttls = query.get("starttls", "").lower() in TRUE
    security = "ssl" if parts.scheme == "smtps" else "starttls" if starttls else "plain"
    user = unquote(parts.username or "")
    sender = query.get("from") or (user if "@" in user else "")
    if not sender or "@" not in sender:
        raise ValueError(f"{setting}: say who the mail is from: add ?from=duban@your.gov.cn to '{_hide(url)}'")
    return SmtpConfig(
        host=parts.hostname, port=port or (465 if security == "ssl" else 25), security=security, user=user,
        password=unquote(parts.password or ""), sender=sender, from_name=query.get("name", ""), timeout=timeout,
        verify=query.get("verify", "1").lower() in TRUE,
    )


def _hide(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def message_id(key: str) -> str:
    """A Message-ID stable per notification, so a resent copy can be recognised as the same message."""
    return f"<{hashlib.sha1(key.encode()).hexdigest()[:24]}@duban.local>"


def build_message(row: Outgoing, *, sender: str, now: datetime, from_name: str = "") -> EmailMessage:
    """The message for one notification: Chinese subject and names encoded, text and HTML alternatives."""
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = row.subject
    message["From"] = Address(display_name=from_name or row.data.get("from_name", ""), addr_spec=sender)
    message["To"] = Address(display_name=row.data.get("name", ""), addr_spec=row.address)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(row.key)
    message["X-Duban-Key"] = row.key
    # base64 named outright: left to itself, the email package tries quoted-printable too and keeps the shorter
    message.set_content(row.body_text or row.subject, charset="utf-8", cte="base64")
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html", charset="utf-8", cte="base64")
    return message


def _permanent(error: smtplib.SMTPException) -> bool:
    code = getattr(error, "smtp_code", 0) or 0
    return isinstance(error, smtplib.SMTPRecipientsRefused) or 500 <= code < 600


class SmtpSender:
    """One SMTP connection per batch; each message sent on it."""

    channel = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.where = f"{'smtps' if config.security == 'ssl' else 'smtp'}://{config.host}:{config.port}"
        self._client: smtplib.SMTP | None = None

    @classmethod
    def from_url(cls, url: str, setting: str = "smtp_url") -> SmtpSender:
        """A sender for an smtp:// or smtps:// URL."""
        return cls(parse_smtp_url(url, setting))

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.config.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def open(self) -> None:
        """Connect, say hello, upgrade to TLS if asked, log in if a user is given."""
        c = self.config
        try:
            if c.security == "ssl":
                client = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context())
            else:
                client = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            client.ehlo()
            if c.security == "starttls":
                client.starttls(context=self._context())
                client.ehlo()
            if c.user:
                client.login(c.user, c.password)
        except smtplib.SMTPAuthenticationError as error:
            raise SendError(f"{self.where}: login refused ({error.smtp_code})") from None
        except (OSError, smtplib.SMTPException) as error:
            raise SendError(f"{self.where}: cannot connect: {error}") from None
        self._client = client

    def send(self, row: Outgoing, now: datetime) -> None:
        """Send one message on the open connection (reconnecting once if the server hung up)."""
        message = build_message(row, sender=self.config.sender, now=now, from_name=self.config.from_name)
        for attempt in (1, 2):
            if self._client is None:
                self.open()
            try:
                self._client.send_message(message, from_addr=self.config.sender, to_addrs=[row.address])
                return
            except smtplib.SMTPServerDisconnected as error:
                self._client = None
                if attempt == 2:
                    raise SendError(f"{self.where}: disconnected: {error}") from None
            except smtplib.SMTPException as error:
                self._reset()
                raise SendError(f"{self.where}: {error}", permanent=_permanent(error)) from None
            except OSError as error:
                self._client = None
                raise SendError(f"{self.where}: {error}") from None

    def _reset(self) -> None:
        try:
            if self._client is not None:
                self._client.rset()
        except (OSError, smtplib.SMTPException):
            self._client = None

    def close(self) -> None:
        """Say goodbye."""
        if self._client is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._client.quit()
            self._client = None
