"""Evidence files: checked by their content (magic bytes), kept on disk by sha256, never by a name users chose."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_FILES = 10
MAX_NAME = 100
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
    """A checked file, not yet on disk."""

    name: str
    content_type: str
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        """Bytes."""
        return len(self.data)


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
    """The content type the bytes really are, or None."""
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


def _ooxml_ok(data: bytes, ext: str) -> bool:
    """A real Word/Excel/PowerPoint file: a zip with [Content_Types].xml and the part folder of its kind."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "[Content_Types].xml" in names and any(n.startswith(OOXML_PART[ext]) for n in names)


def check(raw_name: str, data: bytes, *, max_bytes: int) -> Upload:
    """A file accepted as evidence, or EvidenceError saying why not (type judged by content, not by name)."""
    name = clean_name(raw_name)
    if not data:
        raise EvidenceError(f"“{name}”是空文件")
    if len(data) > max_bytes:
        raise EvidenceError(f"“{name}”太大（{len(data) / 1048576:.1f} MB），单个文件不能超过 {max_bytes // 1048576} MB")
    ext = os.path.splitext(name)[1].lower()
    expected = KINDS.get(ext)
    if expected is None:
        raise EvidenceError(f"“{name}”的类型不能作为佐证材料，只收{ALLOWED_TEXT}")
    sniffed = _sniff(data)
    if ext in OOXML_PART:
        genuine = sniffed == "zip" and _ooxml_ok(data, ext)
    elif expected in ("application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"):
        genuine = sniffed == "ole2"
    else:
        genuine = sniffed == expected
    if not genuine:
        raise EvidenceError(f"“{name}”的内容与扩展名不符（不是真正的{ext[1:].upper()}文件），请上传原始文件")
    return Upload(name=name, content_type=expected, data=data, sha256=hashlib.sha256(data).hexdigest())


def check_all(files: list[tuple[str, bytes]], *, max_bytes: int) -> list[Upload]:
    """Check several files; the first bad one refuses them all."""
    if len(files) > MAX_FILES:
        raise EvidenceError(f"一次最多上传 {MAX_FILES} 个文件")
    return [check(name, data, max_bytes=max_bytes) for name, data in files]


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class EvidenceStore:
    """Files under `root` (var/evidence) by content hash: ab/abcdef...; identical files are kept once."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the file with this hash lives."""
        if not _HEX64.match(sha256):
            raise EvidenceError("bad content hash")
        return self.root / sha256[:2] / sha256

    def put(self, upload: Upload) -> Path:
        """Write the file (atomically) unless it is already there."""
        target = self.path(upload.sha256)
        if target.is_file() and target.stat().st_size == upload.size:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(upload.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o640)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def read(self, sha256: str) -> bytes:
        """The file's bytes."""
        return self.path(sha256).read_bytes()


def store_for(settings: object) -> EvidenceStore:
    """The deployment's evidence folder, `var/evidence`."""
    return EvidenceStore(Path(settings.var_dir) / "evidence")  # type: ignore[attr-defined]


def content_disposition(name: str, content_type: str) -> str:
    """Header value that offers the original name (RFC 6266/5987), inline for pictures and PDF."""
    from urllib.parse import quote

    kind = "inline" if content_type in INLINE_TYPES else "attachment"
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name) or "evidence"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
