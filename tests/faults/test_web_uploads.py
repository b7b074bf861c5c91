"""Hostile and heavy uploads against a real uvicorn on loopback, over raw sockets where framing matters.

A refusal that needs no body comes before the body: these tests send the request's headers alone and expect
the answer (on the code before issue 14 the server sat waiting for the body, and the read timed out). A report's
files go to a staging file in the evidence folder as they arrive (watched while the body is still half sent),
are renamed to their hash once complete, and are dropped the moment they pass the limit or the sender leaves.
"""

from __future__ import annotations

import hashlib
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import Clock, at, free_port, serving

from duban.links import make_token
from duban.models import EvidenceRow, OccurrenceRow

PLAN = "mini-2020"
STARTED = "projects-started/shuangjiang/2020-09-01"
BOUNDARY = "----dubanfaults"
MB = 1024 * 1024
WAIT = 10.0  # seconds a test waits for the server before it fails (a guard against hanging, not a measure)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """Framing and streaming are the web server's business: SQLite is enough."""
    return f"sqlite:///{tmp_path / 'duban.sqlite'}"


@dataclass
class Running:
    """The app under a real uvicorn, and what the tests need to reach it."""

    port: int
    settings: object
    engine: object
    clock: Clock

    @property
    def evidence(self) -> Path:
        return Path(self.settings.var_dir) / "evidence"  # type: ignore[attr-defined]

    def sign_in(self, person: str = "sj-head") -> tuple[str, str]:
        """A session cookie and its CSRF token, as a browser gets them."""
        secret = self.settings.secret  # type: ignore[attr-defined]
        token = make_token(secret=secret, person_id=person, plan_id=PLAN, now=self.clock.now)
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}") as client:
            assert client.get(f"/login/{token}", follow_redirects=False).status_code == 303
            page = client.get("/").text
            return client.cookies["duban_session"], re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.fixture
def running(mini_store, loop_settings) -> Iterator[Running]:
    """uvicorn in a thread on a loopback port; the evidence limit is 1 MB a file (loop_settings)."""
    from duban.web import server

    port = free_port()
    clock = Clock(at("2020-09-14 10:00"))
    with serving(server(loop_settings, host="127.0.0.1", port=port, now=clock), wait=WAIT):
        yield Running(port, loop_settings, mini_store, clock)


def head(path: str, *, length: int | None = None, cookie: str = "", extra: str = "",
         content_type: str = f"multipart/form-data; boundary={BOUNDARY}") -> bytes:
    """A POST's request line and headers."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if cookie:
        lines.append(f"Cookie: duban_session={cookie}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def form(content: bytes, name: str = "scan.pdf") -> tuple[bytes, bytes, bytes]:
    """A report form (the figure, then one file) as three pieces: before the file, the file, after it."""
    before = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"value\"\r\n\r\n100\r\n"
              f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"{name}\"\r\n"
              "Content-Type: application/pdf\r\n\r\n").encode()
    return before, content, f"\r\n--{BOUNDARY}--\r\n".encode()


def connect(running: Running) -> socket.socket:
    return socket.create_connection(("127.0.0.1", running.port), timeout=WAIT)


def answer(connection: socket.socket) -> tuple[int, str]:
    """Read the whole response (the server closes after it); its status and text."""
    data = b""
    while True:
        try:
            piece = connection.recv(65536)
        except ConnectionResetError:
            break
        if not piece:
            break
        data += piece
    connection.close()
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.decode("utf-8", "replace")


def staged(running: Running) -> list[Path]:
    """Staging files in the evidence folder now."""
    return sorted(running.evidence.glob(".upload-*")) if running.evidence.exists() else []


def kept(running: Running) -> list[Path]:
    """Evidence files kept under their hash."""
    if not running.evidence.exists():
        return []
    return sorted(p for p in running.evidence.rglob("*") if p.is_file() and not p.name.startswith("."))


def wait_for(condition, what: str) -> None:
    deadline = time.time() + WAIT
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.02)


def state(running: Running) -> str:
    with running.engine.connect() as connection:  # type: ignore[attr-defined]
        return connection.execute(OccurrenceRow.__table__.select().where(OccurrenceRow.id == STARTED)).first().state


# --- refused on the headers alone ------------------------------------------------------------------------------

def test_content_length_with_transfer_encoding_is_refused_before_the_body(running):
    connection = connect(running)
    connection.sendall(head("/do/report/x", length=100, extra="Transfer-Encoding: chunked\r\n"))
    status, text = answer(connection)  # no body sent at all
    assert status == 400 and "两种长度" in text
    assert staged(running) == [] and kept(running) == []


def test_a_strangers_large_form_is_refused_before_it_is_read(running):
    connection = connect(running)
    connection.sendall(head(f"/do/report/{STARTED}", length=10 * MB))  # an honest 10 MB form (within the limit)
    status, text = answer(connection)
    assert status == 401 and "个人链接" in text
    assert state(running) == "open" and kept(running) == []


@pytest.mark.parametrize("query", ["", "?csrf=", "?csrf=someone-elses"])
def test_a_form_without_its_csrf_token_is_refused_before_it_is_read(running, query):
    cookie, _ = running.sign_in()
    connection = connect(running)
    connection.sendall(head(f"/do/report/{STARTED}{query}", length=5 * MB, cookie=cookie))
    status, text = answer(connection)
    assert status == 403 and "安全校验码" in text
    assert state(running) == "open"


def test_a_report_the_person_may_not_make_is_refused_before_its_files_are_read(running):
    cookie, csrf = running.sign_in("ql-head")  # another town: may not report Shuangjiang's item
    connection = connect(running)
    connection.sendall(head(f"/do/report/{STARTED}?csrf={csrf}", length=5 * MB, cookie=cookie))
    status, text = answer(connection)
    assert status == 403 and "无权" in text


# --- files streamed to the evidence folder ---------------------------------------------------------------------

def test_evidence_is_written_as_it_arrives_and_kept_by_its_hash(running):
    cookie, csrf = running.sign_in()
    content = b"%PDF-1.4\n" + bytes(range(256)) * 3000 + b"\n%%EOF\n"  # about 750 kB
    before, file, after = form(content)
    connection = connect(running)
    connection.sendall(head(f"/do/report/{STARTED}?csrf={csrf}", cookie=cookie,
                            length=len(before) + len(file) + len(after)))
    connection.sendall(before + file[:400_000])
    # half the file has been sent: it is on disk already, in a staging file beside the kept ones
    wait_for(lambda: sum(p.stat().st_size for p in staged(running)) >= 300_000, "no staging file grew")
    assert kept(running) == []
    connection.sendall(file[400_000:] + after)
    status, _ = answer(connection)
    assert status == 303 and state(running) == "reported"
    digest = hashlib.sha256(content).hexdigest()
    assert kept(running) == [running.evidence / digest[:2] / digest]
    assert kept(running)[0].read_bytes() == content and staged(running) == []
    with running.engine.connect() as connection_:  # type: ignore[attr-defined]
        row = connection_.execute(EvidenceRow.__table__.select()).one()
    assert (row.sha256, row.size, row.name) == (digest, len(content), "scan.pdf")


def test_a_file_is_dropped_the_moment_it_passes_the_limit(running):
    cookie, csrf = running.sign_in()
    content = b"%PDF-1.4\n" + b"0" * (3 * MB)  # the limit is 1 MB
    before, file, after = form(content, "big.pdf")
    connection = connect(running)
    connection.sendall(head(f"/do/report/{STARTED}?csrf={csrf}", cookie=cookie,
                            length=len(before) + len(file) + len(after)))
    connection.sendall(before + file[: MB // 2])
    wait_for(lambda: staged(running) != [], "the file was not being written")
    connection.sendall(file[MB // 2: 2 * MB])
    wait_for(lambda: staged(running) == [], "the file was still kept past the limit")  # body not finished yet
    connection.sendall(file[2 * MB:] + after)
    status, text = answer(connection)
    assert status == 400 and "太大" in text and "100" in text  # what was typed is shown again
    assert kept(running) == [] and staged(running) == [] and state(running) == "open"


def test_a_broken_off_upload_leaves_nothing_behind(running):
    cookie, csrf = running.sign_in()
    before, file, after = form(b"%PDF-1.4\n" + b"1" * 800_000)
    connection = connect(running)
    connection.sendall(head(f"/do/report/{STARTED}?csrf={csrf}", cookie=cookie,
                            length=len(before) + len(file) + len(after)))
    connection.sendall(before + file[:400_000])
    wait_for(lambda: staged(running) != [], "the file was not being written")
    connection.close()  # the phone lost its signal
    wait_for(lambda: staged(running) == [], "the half-written file stayed")
    assert kept(running) == [] and state(running) == "open"
