"""Email over SMTP: plain, STARTTLS or SSL, with login; HTML and plain-text parts; Chinese headers encoded."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import re
import smtplib
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import parse_qs, unquote, urlsplit

from duban.sending import Outgoing, SendError

TRUE = ("1", "true", "yes", "on")
CONNECTIONS = 4  # the default pool: a few sessions overlap each other's round trips; most servers allow 5-10


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
    connections: int = CONNECTIONS  # how many SMTP sessions dispatch keeps open at once


def parse_smtp_url(url: str, setting: str = "smtp_url") -> SmtpConfig:
    """Read an SMTP URL; a ValueError names the setting and what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"{setting}: unknown scheme '{parts.scheme}' in '{_hide(url)}' (use smtp:// or smtps://)")
    if not parts.hostname:
        raise ValueError(f"{setting}: no host in '{_hide(url)}' (write smtp://user:pass@host:587?from=...)")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"starttls", "from", "name", "timeout", "verify", "connections"})
    if unknown:
        raise ValueError(f"{setting}: unknown option(s) {', '.join(unknown)} "
                         f"(use starttls, from, name, timeout, verify, connections)")
    try:
        port = parts.port
        timeout = float(query.get("timeout", 30))
    except ValueError as error:
        raise ValueError(f"{setting}: {error} in '{_hide(url)}'") from None
    connections = query.get("connections", str(CONNECTIONS))
    if not connections.isdigit() or not 1 <= int(connections) <= 50:
        raise ValueError(f"{setting}: connections={connections} in '{_hide(url)}' (a whole number from 1 to 50)")
    starttls = query.get("starttls", "").lower() in TRUE
    security = "ssl" if parts.scheme == "smtps" else "starttls" if starttls else "plain"
    user = unquote(parts.username or "")
    sender = query.get("from") or (user if "@" in user else "")
    if not sender or "@" not in sender:
        raise ValueError(f"{setting}: say who the mail is from: add ?from=duban@your.gov.cn to '{_hide(url)}'")
    return SmtpConfig(
        host=parts.hostname, port=port or (465 if security == "ssl" else 25), security=security, user=user,
        password=unquote(parts.password or ""), sender=sender, from_name=query.get("name", ""), timeout=timeout,
        verify=query.get("verify", "1").lower() in TRUE, connections=int(connections),
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


WORD_BYTES = 42  # UTF-8 bytes per encoded word: 56 base64 characters, 68 with =?utf-8?b?...?=; 77 with "Subject: "
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def _words(text: str) -> str:
    """A header value: as it is when ASCII, else RFC 2047 encoded words of whole characters, one per line."""
    if text.isascii():
        return text
    words, chunk, size = [], [], 0
    for char in text:
        width = len(char.encode("utf-8"))
        if size + width > WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    words.append("".join(chunk))
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words)


@functools.lru_cache(maxsize=4096)
def _mailbox(name: str, address: str) -> str:
    """`name <address>`, the name encoded (names and addresses repeat: each is written once per process)."""
    if name.isascii():
        return formataddr((name, address))
    return f"{_words(name)} <{address}>"


def _base64(text: str) -> bytes:
    """A text part's body as the email package writes it: lines ended by CRLF, a final one, base64 in 76 columns
    (encoded at once and cut, rather than base64.encodebytes's call per 57 bytes: half the time)."""
    data = base64.b64encode(b"\r\n".join(text.encode("utf-8").splitlines()) + b"\r\n")
    return b"\r\n".join([data[start:start + 76] for start in range(0, len(data), 76)]) + b"\r\n"


_PART = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'


def message_bytes(row: Outgoing, *, sender: str, now: datetime, from_name: str = "") -> bytes:
    """The bytes of `build_message`'s message, written directly: the same headers and parts once parsed, in a
    twentieth of the time (the email package's header folding cost ~2 ms a message, more than sending it)."""
    name, to_name = from_name or row.data.get("from_name", ""), row.data.get("name", "")
    for value in (row.subject, name, to_name, row.key):
        if "\r" in value or "\n" in value:
            raise ValueError(f"header value {value!r}: a header cannot contain CR or LF")
    if not _PLAIN_ADDRESS.fullmatch(row.address):  # an unusual one: refused where the email package refuses it
        Address(addr_spec=row.address)
    head = (f"Subject: {_words(row.subject)}\r\nFrom: {_mailbox(name, sender)}\r\n"
            f"To: {_mailbox(to_name, row.address)}\r\nDate: {format_datetime(now)}\r\n"
            f"Message-ID: {message_id(row.key)}\r\nX-Duban-Key: {_words(row.key)}\r\nMIME-Version: 1.0\r\n")
    text = _base64(row.body_text or row.subject)
    if not row.body_html:
        return (head + _PART.format("plain")).encode() + text
    boundary = f"=_duban_{uuid.uuid4().hex[:16]}"  # "=_" never occurs in base64: no part can contain it
    return b"".join([
        f'{head}Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n--{boundary}\r\n'
        f'{_PART.format("plain")}'.encode(), text,
        f'\r\n--{boundary}\r\n{_PART.format("html")}'.encode(), _base64(row.body_html),
        f"\r\n--{boundary}--\r\n".encode()])


def sendmail(client: smtplib.SMTP, sender: str, address: str, message: bytes) -> None:
    """`client.sendmail(sender, [address], message)`, the same commands, answers and exceptions, for a message
    `message_bytes` wrote (CRLF lines, none starting with a dot) to a plain address: without smtplib's parsing of
    both addresses and its pass over the message for dots (a fifth of a send's CPU on a near server)."""
    if (b"\n." in message or not message.endswith(b"\r\n") or not _PLAIN_ADDRESS.fullmatch(address)
            or not _PLAIN_ADDRESS.fullmatch(sender)):
        client.sendmail(sender, [address], message)
        return
    client.ehlo_or_helo_if_needed()
    size = f" size={len(message)}" if client.does_esmtp and client.has_extn("size") else ""
    code, answer = client.docmd("mail", f"FROM:<{sender}>{size}")
    if code != 250:
        _refused(client, code)
        raise smtplib.SMTPSenderRefused(code, answer, sender)
    code, answer = client.docmd("rcpt", f"TO:<{address}>")
    if code not in (250, 251):
        _refused(client, code)
        raise smtplib.SMTPRecipientsRefused({address: (code, answer)})
    code, answer = client.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, answer)
    client.send(message + b".\r\n")
    code, answer = client.getreply()
    if code != 250:
        _refused(client, code)
        raise smtplib.SMTPDataError(code, answer)


def _refused(client: smtplib.SMTP, code: int) -> None:
    """As smtplib leaves a session after a refusal: closed on 421, else reset for the next message."""
    if code == 421:
        client.close()
    else:
        client._rset()


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


class _Call:
    """One watched call; `fired` once the watchdog cut its connection."""

    fired = False


class _Watchdog:
    """Cuts a connection that outlives its time: however slowly or never the server answers, one call ends.

    One thread per open sender, armed and disarmed around each call under a lock: a timer thread started for each
    message cost more than sending it. The thread sleeps until the armed deadline; a call that ends first only
    clears it (no wake-up), so a busy connection wakes its watchdog about once per `send_timeout`."""

    def __init__(self, sock: Callable[[], socket.socket | None]) -> None:
        self._sock = sock
        self._lock = threading.Condition()
        self._call: _Call | None = None
        self._deadline: float | None = None
        self._sleeping_until: float | None = None
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watch(self, seconds: float) -> Iterator[_Call]:
        """Cut the connection if the block is still running after `seconds`."""
        call = _Call()
        with self._lock:
            self._call, self._deadline = call, time.monotonic() + seconds
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="duban-smtp-watchdog")
                self._thread.start()
            elif self._sleeping_until is None or self._deadline < self._sleeping_until:
                self._lock.notify()
        try:
            yield call
        finally:
            with self._lock:
                if self._call is call:
                    self._call = self._deadline = None

    def stop(self) -> None:
        """End the thread (a later `watch` starts another)."""
        with self._lock:
            if self._thread is not None:
                self._thread, self._call, self._deadline = None, None, None
                self._lock.notify()

    def _run(self) -> None:
        me = threading.current_thread()
        with self._lock:
            while self._thread is me:
                if self._deadline is None:
                    self._sleeping_until = None
                    self._lock.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._sleeping_until = self._deadline
                    self._lock.wait(left)
                    continue
                if self._call is not None:
                    self._call.fired = True
                self._call = self._deadline = None
                target = self._sock()
                if target is not None:
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(target, socket.SHUT_RDWR)  # the plain socket's: safe under TLS too


class SmtpSender:
    """One SMTP connection, kept from batch to batch (a pool clones it); each call cut at `send_timeout`."""

    channel = "email"
    mark_in_groups = True  # a send takes a fraction of a millisecond on a near server: dispatch marks in groups

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.where = f"{'smtps' if config.security == 'ssl' else 'smtp'}://{config.host}:{config.port}"
        self.send_timeout = config.timeout
        self.connections = config.connections
        self._client: smtplib.SMTP | None = None
        self._connecting: smtplib.SMTP | None = None
        self._watchdog = _Watchdog(self._socket)

    @classmethod
    def from_url(cls, url: str, setting: str = "smtp_url") -> SmtpSender:
        """A sender for an smtp:// or smtps:// URL."""
        return cls(parse_smtp_url(url, setting))

    def clone(self) -> SmtpSender:
        """Another sender to the same server, with a connection of its own (one of dispatch's pool)."""
        twin = SmtpSender(self.config)
        twin.send_timeout = self.send_timeout
        return twin

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
        """Connect, say hello, upgrade to TLS if asked, log in if a user is given (all within `send_timeout`);
        nothing if connected already."""
        if self._client is not None:
            return
        try:
            self._open()
        except SendError:
            self._watchdog.stop()
            raise

    def _open(self) -> None:
        with self._watchdog.watch(self.send_timeout) as watchdog:
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
        message = message_bytes(row, sender=self.config.sender, now=now, from_name=self.config.from_name)
        with self._watchdog.watch(self.send_timeout) as watchdog:
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

    def _deliver(self, message: bytes, address: str) -> None:
        for attempt in (1, 2):
            if self._client is None:
                self._connect()
            try:
                sendmail(self._client, self.config.sender, address, message)
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
            with self._watchdog.watch(min(self.send_timeout, 5.0)), contextlib.suppress(
                    OSError, smtplib.SMTPException):
                self._client.quit()
        self._drop()
        self._watchdog.stop()
