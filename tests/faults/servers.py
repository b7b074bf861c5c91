"""Loopback peers that misbehave on purpose: SMTP servers that are slow, hang, flap or refuse everything, an HTTP
SMS gateway that is slow or hangs. Each counts what it really took responsibility for (a 250 to a message, a 200 to
an SMS request), by the notification key the message carries, so a test can count duplicates and losses."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import Counter
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import free_port

SMTP_MODES = ("ok", "hang", "flap", "refuse-data", "refuse-rcpt", "refuse-one")


class FaultySmtp:
    """An aiosmtpd server on loopback. `delay` seconds before answering each message (a slow server); `mode`:
    ok; hang (takes the message, never answers); flap (of every four messages: one dropped without an answer, one
    answered 451, two accepted); refuse-data (554 to every message, a throttling provider); refuse-rcpt (550 to every
    recipient); refuse-one (550 to the recipients in `refused`, others accepted)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.delay = 0.0
        self.mode = "ok"
        self.refused: set[str] = set()
        self.accepted: Counter = Counter()  # notification key -> messages answered 250
        self.offered = 0  # messages whose content arrived, whatever the answer
        self._hang = asyncio.Event()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}?from=duban@example.org"

    def start(self) -> FaultySmtp:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.mode == "refuse-rcpt" or (self.mode == "refuse-one" and address in self.refused):
            return "550 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        number, self.offered = self.offered, self.offered + 1
        if self.mode == "hang":
            await self._hang.wait()  # never set: the client's timeout ends it
        if self.mode == "flap" and number % 4 == 1:
            server.transport.close()  # gone without an answer: the client cannot know
            return "421 closing"
        if self.mode == "flap" and number % 4 == 3:
            return "451 4.3.0 busy, try again later"
        if self.mode == "refuse-data":
            return "554 5.7.1 too many messages, try again later"
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.accepted[str(message["X-Duban-Key"]).strip()] += 1
        return "250 OK"


class SilentServer:
    """Accepts TCP connections and never says a word (a mail server that hangs before its greeting)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?from=duban@example.org"

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def stop(self) -> None:
        self.socket.close()
        for connection in self.connections:
            connection.close()


class _GatewayHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # http.server's hook name
        gateway: FaultyGateway = self.server.gateway
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = json.loads(body).get("id", "")
        gateway.note_request(key)
        if gateway.mode == "hang":
            gateway.released.wait()
            return
        if gateway.delay:
            gateway.released.wait(gateway.delay)
        payload = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        gateway.note_answer(key)

    def log_message(self, *args) -> None:
        pass


class FaultyGateway:
    """A generic SMS gateway (duban's JSON POST) on loopback: `delay` seconds per request, or `mode` hang."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.mode = "ok"
        self.requests: Counter = Counter()  # key -> requests received
        self.answered: Counter = Counter()  # key -> requests answered 200: SMS the gateway sent
        self.released = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _GatewayHandler)
        self.server.daemon_threads = True
        self.server.gateway = self
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/send"

    def note_request(self, key: str) -> None:
        with self._lock:
            self.requests[key] += 1

    def note_answer(self, key: str) -> None:
        with self._lock:
            self.answered[key] += 1

    def start(self) -> FaultyGateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
