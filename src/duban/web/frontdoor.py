"""The web's front door (ASGI middleware): what a request must be before any of its body is read.

- One framing: a request with both Content-Length and Transfer-Encoding is refused (400), and a POST must
  declare its length (411) within the limit for its kind (413). Nothing of such a body is read.
- Who is asking comes first: `admit` (the app's session and CSRF checks) runs on the headers alone, so a
  stranger's 200 MB form is answered 401 without reading it.
- Body bytes are counted as they arrive; past the limit the app stops reading and the answer is 413.
- Every answer carries the security headers.

A refusal sent before the body is read says `Connection: close`: uvicorn then closes the connection instead
of reading the unread body to the end to keep the connection alive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(Exception):
    """More body bytes arrived than this request may bring."""


class FrontDoor:
    """ASGI middleware; `limit(headers)` is the most body a request may bring, `admit(connection)` an answer that
    refuses it (or None to let it in), `refuse(status)` the page for a framing or size refusal."""

    def __init__(self, app: ASGIApp, *, limit: Callable[[Headers], int],
                 admit: Callable[[HTTPConnection], Response | None], refuse: Callable[[int], Response],
                 headers: Mapping[str, str]) -> None:
        self.app, self.limit, self.admit, self.refuse, self.headers = app, limit, admit, refuse, headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        connection = HTTPConnection(scope)
        status = framing_problem(scope["method"], connection.headers, self.limit(connection.headers))
        answer = self.refuse(status) if status else None
        if answer is None and scope["method"] in BODY_METHODS:
            answer = await run_in_threadpool(self.admit, connection)
        if answer is not None:
            answer.headers["Connection"] = "close"
            await answer(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, counted(receive, self.limit(connection.headers)), send_with_headers)
        except BodyTooLarge:
            if started:
                raise
            answer = self.refuse(413)
            answer.headers["Connection"] = "close"
            await answer(scope, receive, send_with_headers)


def framing_problem(method: str, headers: Headers, limit: int) -> int:
    """The status that refuses a request by its framing headers alone (0: none)."""
    lengths = headers.getlist("content-length")
    if lengths and headers.getlist("transfer-encoding"):
        return 400  # ambiguous: which one ends the body is the smuggler's choice
    if method in BODY_METHODS and (len(lengths) != 1 or not lengths[0].isdigit()):
        return 411
    if lengths and lengths[0].isdigit() and int(lengths[0]) > limit:
        return 413
    return 0


def counted(receive: Receive, limit: int) -> Receive:
    """`receive` that raises BodyTooLarge once more than `limit` body bytes have arrived."""
    seen = 0

    async def receive_counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(f"more than {limit} bytes")
        return message

    return receive_counted
