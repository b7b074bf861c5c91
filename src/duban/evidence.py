"""Evidence files: checked by their content (magic bytes), kept on disk by sha256, never by a name users chose."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from duban.private import private_dir

MAX_FILES = 10
MAX_NAME = 100
HEAD_BYTES = 1024  # what _sniff looks at
FILE_MODE = 0o600  # evidence files (and staging files while they are written): only duban reads them
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Extension -> the content type a file with that extension must turn out to be.
KINDS = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp",
    ".heic": "image/heic", ".heif": "image/heic", ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".doc": "application/msword", ".wps": "application/msword",
    ".xls": "application/vnd.ms-excel", ".et": "application/vnd.ms-excel",
    ".ppt": "application/vnd.ms-powerpoint",
}
OOXML_PART = {".docx": "word/", ".xlsx": "xl/", ".pptx": "ppt/"}
ACCEPT = ",".join(sorted(KINDS))
INLINE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf")
ALLOWED_TEXT = "照片（JPG、PNG、HEIC）、PDF、Word、Excel、PPT"


class EvidenceError(ValueError):
    """A file that cannot be taken as evidence; the message is for the official who sent it."""


@dataclass(frozen=True)
class Upload:
    """A checked file, not yet kept: its bytes in memory (`data`), or already on disk in a staging file (`staged`)."""

    name: str
    content_type: str
    sha256: str
    size: int
    data: bytes = b""
    staged: Path | None = None

    def discard(self) -> None:
        """Remove the staging file, if it was not kept (after `EvidenceStore.put` it is already gone)."""
        if self.staged is not None:
            self.staged.unlink(missing_ok=True)


def clean_name(raw: str) -> str:
    """The name to keep and show: no folders, no control characters, at most 100 characters; refuse paths."""
    if "/" in raw or "\\" in raw:
        raise EvidenceError(f"文件名“{_shown(raw)}”含有路径，请只上传文件本身")
    name = "".join(ch for ch in unicodedata.normalize("NFC", raw) if unicodedata.category(ch)[0] != "C").strip()
    name = name.lstrip(".").strip()
    if not name:
        raise EvidenceError("文件没有名称")
    stem, dot, ext = name.rpartition(".")
    if dot and len(name) > MAX_NAME:
        name = stem[: MAX_NAME - len(ext) - 1] + "." + ext
    return name[:MAX_NAME]


def _shown(raw: str) -> str:
    return "".join(ch for ch in raw if ch.isprintable())[:60]


def _sniff(data: bytes) -> str | None:
    """The content type the bytes really are (judged from the first HEAD_BYTES), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc"):
        return "image/heic"
    if data[:1024].lstrip(b"\xef\xbb\xbf\r\n\t ").startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(OLE2):
        return "ole2"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    return None


def _ooxml_ok(opened: BinaryIO, ext: str) -> bool:
    """A real Word/Excel/PowerPoint file: a zip with [Content_Types].xml and the part folder of its kind."""
    try:
        with zipfile.ZipFile(opened) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "[Content_Types].xml" in names and any(n.startswith(OOXML_PART[ext]) for n in names)


def _too_big(name: str, max_bytes: int, size: int | None = None) -> EvidenceError:
    shown = f"（{size / 1048576:.1f} MB）" if size is not None else ""
    return EvidenceError(f"“{name}”太大{shown}，单个文件不能超过 {max_bytes // 1048576} MB")


def _content_type(name: str, head: bytes, size: int, opener: Callable[[], BinaryIO], max_bytes: int) -> str:
    """What a file called `name` whose first bytes are `head` really is; EvidenceError if it may not be kept."""
    if not size:
        raise EvidenceError(f"“{name}”是空文件")
    if size > max_bytes:
        raise _too_big(name, max_bytes, size)
    ext = os.path.splitext(name)[1].lower()
    expected = KINDS.get(ext)
    if expected is None:
        raise EvidenceError(f"“{name}”的类型不能作为佐证材料，只收{ALLOWED_TEXT}")
    sniffed = _sniff(head)
    if ext in OOXML_PART:
        if sniffed == "zip":
            with opener() as opened:
                genuine = _ooxml_ok(opened, ext)
        else:
            genuine = False
    elif expected in ("application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"):
        genuine = sniffed == "ole2"
    else:
        genuine = sniffed == expected
    if not genuine:
        raise EvidenceError(f"“{name}”的内容与扩展名不符（不是真正的{ext[1:].upper()}文件），请上传原始文件")
    return expected


def check(raw_name: str, data: bytes, *, max_bytes: int) -> Upload:
    """A file accepted as evidence, or EvidenceError saying why not (type judged by content, not by name)."""
    name = clean_name(raw_name)
    kind = _content_type(name, data[:HEAD_BYTES], len(data), lambda: io.BytesIO(data), max_bytes)
    return Upload(name=name, content_type=kind, sha256=hashlib.sha256(data).hexdigest(), size=len(data), data=data)


def check_all(files: list[tuple[str, bytes]], *, max_bytes: int) -> list[Upload]:
    """Check several files; the first bad one refuses them all."""
    if len(files) > MAX_FILES:
        raise EvidenceError(f"一次最多上传 {MAX_FILES} 个文件")
    return [check(name, data, max_bytes=max_bytes) for name, data in files]


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Staging:
    """One incoming file, written to a staging file in the evidence folder and hashed as its bytes arrive."""

    def __init__(self, name: str, path: Path, handle: BinaryIO, max_bytes: int) -> None:
        self.name, self.path, self.handle, self.max_bytes = name, path, handle, max_bytes
        self.size = 0
        self.head = b""
        self.digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        """Add bytes; past `max_bytes` the file is dropped and EvidenceError raised (the rest need not be read)."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.discard()
            raise _too_big(self.name, self.max_bytes)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self.digest.update(chunk)
        self.handle.write(chunk)

    def finish(self) -> Upload:
        """The whole file is here: check it by its content (EvidenceError drops it) and say where it waits."""
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            kind = _content_type(self.name, self.head, self.size, lambda: self.path.open("rb"), self.max_bytes)
        except BaseException:
            self.discard()
            raise
        return Upload(name=self.name, content_type=kind, sha256=self.digest.hexdigest(), size=self.size,
                      staged=self.path)

    def discard(self) -> None:
        """Close and remove the staging file."""
        self.handle.close()
        self.path.unlink(missing_ok=True)


class EvidenceStore:
    """Files under `root` (var/evidence) by content hash: ab/abcdef...; identical files are kept once.

    Every file and folder under `root` is made by `_new_file` and `_new_folder`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the file with this hash lives."""
        if not _HEX64.match(sha256):
            raise EvidenceError("bad content hash")
        return self.root / sha256[:2] / sha256

    def _new_folder(self, folder: Path) -> Path:
        return private_dir(folder)  # 0700 where duban makes it

    def _new_file(self, folder: Path) -> tuple[BinaryIO, Path]:
        """A new, empty staging file in `folder`, open for writing (renamed into place once complete)."""
        descriptor, temporary = tempfile.mkstemp(dir=self._new_folder(folder), prefix=".upload-")
        os.fchmod(descriptor, FILE_MODE)
        return os.fdopen(descriptor, "wb"), Path(temporary)

    def stage(self, raw_name: str, *, max_bytes: int) -> Staging:
        """Start receiving a file called `raw_name` (EvidenceError at once for a name with a folder in it)."""
        name = clean_name(raw_name)
        handle, path = self._new_file(self.root)
        return Staging(name, path, handle, max_bytes)

    def put(self, upload: Upload) -> Path:
        """Keep the file under its hash (atomically: a rename), unless an identical one is already there."""
        target = self.path(upload.sha256)
        if target.is_file() and target.stat().st_size == upload.size:
            upload.discard()
            return target
        self._new_folder(target.parent)
        if upload.staged is not None:
            os.replace(upload.staged, target)
            return target
        handle, temporary = self._new_file(target.parent)
        try:
            with handle:
                handle.write(upload.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return target

    def read(self, sha256: str) -> bytes:
        """The file's bytes."""
        return self.path(sha256).read_bytes()

    def sweep_staging(self, *, modified_before: float) -> int:
        """Remove staging files last written before `modified_before` (epoch seconds); how many went.

        A server killed mid-upload leaves its `.upload-*` file behind; nothing else would ever remove it."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for folder in (self.root, *(p for p in self.root.iterdir() if p.is_dir())):
            for staged in folder.glob(".upload-*"):
                if staged.is_file() and staged.stat().st_mtime < modified_before:
                    staged.unlink(missing_ok=True)
                    removed += 1
        return removed


def store_for(settings: object) -> EvidenceStore:
    """The deployment's evidence folder, `var/evidence`."""
    return EvidenceStore(Path(settings.var_dir) / "evidence")  # type: ignore[attr-defined]


def content_disposition(name: str, content_type: str) -> str:
    """Header value that offers the original name (RFC 6266/5987), inline for pictures and PDF."""
    from urllib.parse import quote

    kind = "inline" if content_type in INLINE_TYPES else "attachment"
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name) or "evidence"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
