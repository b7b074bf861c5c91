"""Email over SMTP: plain, STARTTLS or SSL, with login; HTML and plain-text parts; Chinese headers encoded."""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
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


FINAL_RCPT = ("5.1.", "5.2.1")  # enhanced codes that are about the address itself: no such mailbox, bad domain


def classify(error: smtplib.SMTPException, where: str) -> SendError:
    """What an SMTP refusal means for the row. 4xx: try again later. A 5xx to the recipient: final when its
    enhanced code names the address (5.1.x, 5.2.1), else decided by the batch (`refused`: final only if the server
    accepts a later message). A 5xx to MAIL FROM or to the message itself is about the sender or the server
    (a throttling provider answers 550/554 to everything): tried again later, within the retry budget."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, answer = next(iter(error.recipients.values()), (0, b""))
        text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
        message = f"{where}: recipient refused: {code} {text}"
        if 500 <= code < 600:
            return SendError(message, permanent=text.startswith(FINAL_RCPT), refused=True)
        return SendError(message, unreachable=code == 421)
    code = getattr(error, "smtp_code", 0) or 0
    gone = isinstance(error, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPHeloError,
                              smtplib.SMTPAuthenticationError))
    return SendError(f"{where}: {error}", unreachable=gone or code == 421)


class _Watchdog:
    """Cuts a connection that outlives its time: however slowly or never the server answers, one call ends."""

    def __init__(self, seconds: float, sock: Callable[[], socket.socket | None]) -> None:
        self.fired = False
        self._sock = sock
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def _cut(self) -> None:
        self.fired = True
        target = self._sock()
        if target is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(target, socket.SHUT_RDWR)  # the plain socket's: safe under a TLS layer too

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


class SmtpSender:
    """One SMTP connection per batch; each message sent on it, each call (connect or send) cut at `send_timeout`."""

    channel = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.where = f"{'smtps' if config.security == 'ssl' else 'smtp'}://{config.host}:{config.port}"
        self.send_timeout = config.timeout
        self._client: smtplib.SMTP | None = None
        self._connecting: smtplib.SMTP | None = None

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

    def _socket(self) -> socket.socket | None:
        client = self._connecting or self._client
        return getattr(client, "sock", None)

    def _timed_out(self) -> SendError:
        self._drop()
        return SendError(f"{self.where}: no answer within {self.send_timeout:g} s", unreachable=True)

    def open(self) -> None:
        """Connect, say hello, upgrade to TLS if asked, log in if a user is given (all within `send_timeout`)."""
        with _Watchdog(self.send_timeout, self._socket) as watchdog:
            try:
                self._connect()
            except (OSError, smtplib.SMTPException) as error:
                self._connecting = None
                if watchdog.fired:
                    raise self._timed_out() from None
                if isinstance(error, smtplib.SMTPAuthenticationError):
                    raise SendError(f"{self.where}: login refused ({error.smtp_code})", unreachable=True) from None
                raise SendError(f"{self.where}: cannot connect: {error}", unreachable=True) from None

    def _connect(self) -> None:
        c = self.config
        if c.security == "ssl":
            client = smtplib.SMTP_SSL(timeout=self.send_timeout, context=self._context())
        else:
            client = smtplib.SMTP(timeout=self.send_timeout)
        # Connected here rather than by the constructor, so the watchdog can reach the socket during the greeting;
        # smtplib names the TLS server from `_host`, which only its constructor sets.
        client._host = c.host
        self._connecting = client
        code, greeting = client.connect(c.host, c.port)
        if code != 220:
            client.close()
            raise smtplib.SMTPConnectError(code, greeting)
        client.ehlo()
        if c.security == "starttls":
            client.starttls(context=self._context())
            client.ehlo()
        if c.user:
            client.login(c.user, c.password)
        self._client, self._connecting = client, None

    def send(self, row: Outgoing, now: datetime) -> None:
        """Send one message on the open connection (reconnecting once if the server hung up), within
        `send_timeout` in all."""
        message = build_message(row, sender=self.config.sender, now=now, from_name=self.config.from_name)
        with _Watchdog(self.send_timeout, self._socket) as watchdog:
            try:
                self._deliver(message, row.address)
            except smtplib.SMTPException as error:
                if watchdog.fired:
                    raise self._timed_out() from None
                failure = classify(error, self.where)
                if failure.unreachable:
                    self._drop()
                raise failure from None
            except OSError as error:
                if watchdog.fired:
                    raise self._timed_out() from None
                self._drop()
                raise SendError(f"{self.where}: {error}", unreachable=True) from None

    def _deliver(self, message: EmailMessage, address: str) -> None:
        for attempt in (1, 2):
            if self._client is None:
                self._connect()
            try:
                self._client.send_message(message, from_addr=self.config.sender, to_addrs=[address])
                return
            except smtplib.SMTPServerDisconnected:
                self._drop()
                if attempt == 2:
                    raise

    def _drop(self) -> None:
        for client in (self._client, self._connecting):
            if client is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    client.close()
        self._client = self._connecting = None

    def close(self) -> None:
        """Say goodbye (briefly: a server that does not answer is simply left)."""
        if self._client is not None:
            with _Watchdog(min(self.send_timeout, 5.0), self._socket), contextlib.suppress(
                    OSError, smtplib.SMTPException):
                self._client.quit()
        self._drop()
