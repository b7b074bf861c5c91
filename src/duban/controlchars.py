"""Control characters in input text: found, named for the person who typed them, and shown safely."""

from __future__ import annotations

import unicodedata

# Unicode's control characters (C0, DEL, C1) and its line and paragraph separators.
CATEGORIES = ("Cc", "Zl", "Zp")
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
# Multi-line fields (a quote of the plan, a note) keep their line breaks and tabs: they are shown only on
# web pages and in sheets, never in a mail header or an SMS. Other controls are refused there too, since an
# XLSX cell cannot hold them.
MULTILINE_ALLOWED = frozenset("\n\t")


def is_control(char: str) -> bool:
    """Whether a character is a control character or a line/paragraph separator."""
    return unicodedata.category(char) in CATEGORIES


def _kind(char: str) -> str:
    if char in LINE_BREAKS:
        return "line break"
    if char == "\t":
        return "tab"
    if char == "\x00":
        return "NUL character"
    return "control character"


def control_problem(text: str, *, multiline: bool = False, cell: bool = False) -> str | None:
    """Why text cannot be used ("has a line break (U+000A) after '王'..."), or None when it is clean."""
    for index, char in enumerate(text):
        if not is_control(char) or (multiline and char in MULTILINE_ALLOWED):
            continue
        before = printable(text[max(0, index - 12) : index])
        place = f" after '{before}'" if before else " at the start"
        hint = " (Alt+Enter in an Excel cell makes one)" if cell and char in LINE_BREAKS else ""
        return f"has a {_kind(char)} (U+{ord(char):04X}){place}{hint}: remove it"
    return None


def printable(text: str) -> str:
    """Text with each control character written as an escape (\\u000a), so a message stays on one line."""
    if not any(is_control(char) for char in text):
        return text
    return "".join(f"\\u{ord(char):04x}" if is_control(char) else char for char in text)
