"""Read a plan document into lines: plain text, Markdown, or Word (.docx, through python-docx)."""

from __future__ import annotations

import re
from pathlib import Path

from duban.draft.model import Line

_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*")
_MD_BULLET = re.compile(r"^\s*[-*+]\s+")
_MD_EMPHASIS = re.compile(r"(\*\*|__|(?<![\w*])\*(?!\s)|`)")
_MD_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def read_lines(path: Path) -> list[Line]:
    """The document's paragraphs and tables, in order; raises ValueError naming the file when unreadable."""
    suffix = path.suffix.lower()
    if suffix == ".docx":
        from duban.draft.wordfile import docx_lines

        return docx_lines(path)
    if suffix == ".doc":
        raise ValueError(f"{path}: old Word format (.doc); save it as .docx or plain text first")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text (save it as UTF-8, or give the .docx)") from None
    if suffix in (".md", ".markdown"):
        return markdown_lines(text)
    return [Line(number, raw.strip()) for number, raw in enumerate(text.splitlines(), 1) if raw.strip()]


def markdown_lines(text: str) -> list[Line]:
    """Markdown: headings and bullets lose their marks, pipe tables become tables."""
    lines: list[Line] = []
    table: list[tuple[str, ...]] = []
    numbers: list[int] = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("|"):
            if not _MD_RULE.match(stripped):
                table.append(tuple(_clean(cell) for cell in stripped.strip("|").split("|")))
                numbers.append(number)
            continue
        if table:
            lines.append(Line(numbers[0], rows=tuple(table), row_lines=tuple(numbers)))
            table, numbers = [], []
        text_line = _clean(_MD_BULLET.sub("", _MD_HEADING.sub("", raw)))
        if text_line:
            lines.append(Line(number, text_line))
    if table:
        lines.append(Line(numbers[0], rows=tuple(table), row_lines=tuple(numbers)))
    return lines


def _clean(text: str) -> str:
    return _MD_EMPHASIS.sub("", text).strip()
