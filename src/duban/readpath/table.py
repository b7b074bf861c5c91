"""The aligned table of `duban.output.table`, the same bytes, with each distinct cell measured once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from duban.output import _cell, _width


def table(rows: Iterable[dict[str, Any]], columns: Sequence[tuple[str, str]], limit_title: int = 24) -> str:
    """An aligned plain-text table that lines up Chinese text (as `duban.output.table`)."""
    keys = [key for key, _ in columns]
    title_index = keys.index("title") if "title" in keys else -1
    cells = []
    for row in rows:
        line = [_cell(key, row.get(key)) for key in keys]
        if title_index >= 0 and len(line[title_index]) > limit_title:
            line[title_index] = line[title_index][: limit_title - 1] + "…"
        cells.append(line)
    measured: dict[str, int] = {}

    def width(text: str) -> int:
        known = measured.get(text)
        if known is None:
            known = measured[text] = len(text) if text.isascii() else _width(text)
        return known

    headers = [header for _, header in columns]
    widths = [max([width(h)] + [width(line[i]) for line in cells]) for i, h in enumerate(headers)]

    def render(values: list[str]) -> str:
        return "  ".join(v + " " * (w - width(v)) for v, w in zip(values, widths, strict=False)).rstrip()

    return "\n".join([render(headers), render(["-" * w for w in widths])] + [render(line) for line in cells])
