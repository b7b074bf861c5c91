"""A report's form read as it arrives: small fields kept, files streamed into the evidence folder.

Never the whole body, and never a whole file, in memory: each chunk of a file is hashed and written to a staging
file in the evidence folder (evidence.Staging) the moment it arrives, and a file over the limit is dropped as
soon as it passes it. Disk writes run in the thread pool, as Starlette's own form parser does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from duban import evidence

FIELD_LIMIT = 64 * 1024  # one text field (a note is at most 2,000 characters)
FIELDS_LIMIT = 1024 * 1024  # all text fields of a form together
MALFORMED = "表单格式有误，请返回上一页重新提交。什么也没有保存。"


class FormError(ValueError):
    """A body that is not a well-formed form; the message is for the person who sent it."""


@dataclass
class Received:
    """What a form brought: its text fields (first value of each), its checked files, and the first problem."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[evidence.Upload] = field(default_factory=list)
    problem: str = ""

    def discard(self) -> None:
        """Remove the staging files not kept (a kept file was already moved into place)."""
        for upload in self.files:
            upload.discard()


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    text: bytearray = field(default_factory=bytearray)
    staging: evidence.Staging | None = None
    skip: bool = False


class _Reader:
    """python-multipart callbacks: text parts go to fields, file parts to staging files (via `todo`)."""

    def __init__(self, store: evidence.EvidenceStore, max_bytes: int, take_files: bool) -> None:
        self.store, self.max_bytes, self.take_files = store, max_bytes, take_files
        self.received = Received()
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.disposition = b""
        self.offered = 0
        self.text_bytes = 0
        self.open: list[evidence.Staging] = []
        self.todo: list[Callable[[], None]] = []  # disk work for the thread pool, in order

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_part_begin": self.on_part_begin, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end, "on_header_field": self.on_header_field,
                "on_header_value": self.on_header_value, "on_header_end": self.on_header_end,
                "on_headers_finished": self.on_headers_finished}

    def on_part_begin(self) -> None:
        self.part = _Part()
        self.disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition.decode("latin-1"))
        if b"name" not in options:
            raise FormError(MALFORMED)
        part = self.part
        part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" not in options:
            return
        part.filename = options[b"filename"].decode("utf-8", "replace")
        if not part.filename or not self.take_files or self.received.problem:
            part.skip = True  # no file chosen, an action that takes none, or the report is refused already
            return
        self.offered += 1
        if self.offered > evidence.MAX_FILES:
            self._refuse(f"一次最多上传 {evidence.MAX_FILES} 个文件")
            part.skip = True
            return
        self.todo.append(lambda: self._open(part))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.part
        if part.filename is None:
            self.text_bytes += end - start
            if len(part.text) + end - start > FIELD_LIMIT or self.text_bytes > FIELDS_LIMIT:
                raise FormError("填写的内容太长，请精简后重新提交。什么也没有保存。")
            part.text += data[start:end]
        elif not part.skip:
            chunk = data[start:end]
            self.todo.append(lambda: self._write(part, chunk))

    def on_part_end(self) -> None:
        part = self.part
        if part.filename is None:
            self.received.fields.setdefault(part.name, part.text.decode("utf-8", "replace"))
        elif not part.skip:
            self.todo.append(lambda: self._finish(part))

    # --- disk work (thread pool) ----------------------------------------------------------------------------

    def run_todo(self) -> None:
        work, self.todo = self.todo, []
        for step in work:
            step()

    def _refuse(self, message: str) -> None:
        if not self.received.problem:
            self.received.problem = message

    def _open(self, part: _Part) -> None:
        try:
            part.staging = self.store.stage(part.filename or "", max_bytes=self.max_bytes)
        except evidence.EvidenceError as error:
            part.skip = True
            self._refuse(str(error))
            return
        self.open.append(part.staging)

    def _write(self, part: _Part, chunk: bytes) -> None:
        if part.skip or part.staging is None or self.received.problem:
            return
        try:
            part.staging.write(chunk)
        except evidence.EvidenceError as error:
            part.skip = True
            self._refuse(str(error))

    def _finish(self, part: _Part) -> None:
        if part.skip or part.staging is None or self.received.problem:
            return
        try:
            self.received.files.append(part.staging.finish())
        except evidence.EvidenceError as error:
            self._refuse(str(error))

    def drop_unfinished(self) -> None:
        """Remove staging files of parts the body never finished."""
        for staging in self.open:
            if not staging.handle.closed:
                staging.discard()

    def drop_all(self) -> None:
        """Remove every staging file this form made: it is refused, broken off, or failed."""
        for staging in self.open:
            staging.discard()
        self.received.files.clear()


async def receive(request: Request, *, store: evidence.EvidenceStore, max_bytes: int,
                  take_files: bool = True) -> Received:
    """Read a multipart form from the request as it arrives; FormError for a malformed one.

    A bad file (type, size, name, count) becomes `problem`: the rest of the body is read but not kept, so the
    page can still show what was typed. Then nothing is kept at all."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise FormError(MALFORMED)
    reader = _Reader(store, max_bytes, take_files)
    try:
        parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
        async for chunk in request.stream():
            parser.write(chunk)
            if reader.todo:
                await run_in_threadpool(reader.run_todo)
        parser.finalize()
        if reader.todo:
            await run_in_threadpool(reader.run_todo)
    except FormParserError:
        reader.drop_all()
        raise FormError(MALFORMED) from None
    except BaseException:
        reader.drop_all()
        raise
    reader.drop_unfinished()
    if reader.received.problem:
        reader.drop_all()
    return reader.received
