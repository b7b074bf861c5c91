"""Render sheets with Jinja (HTML, Markdown) and write them beside their XLSX ledgers."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from jinja2 import Environment

from duban.sheets.data import PALETTE
from duban.templating import environment

FORMATS = ("html", "xlsx", "md")
# Markdown for chat has no colours: one mark per light.
ICONS = {"green": "🟢", "blue": "🔵", "yellow": "🟡", "red": "🔴", "grey": "⚪", "white": "▫️", "purple": "🟣"}


def templates(override_dir: str | Path | None = None) -> Environment:
    """The Jinja environment the sheets render with: a deployment's folder first."""
    return environment(override_dir or None)


def render_context() -> dict[str, object]:
    """What every sheet template is given besides its own data."""
    return {"palette": PALETTE, "icons": ICONS}


def render(env: Environment, name: str, **context: object) -> str:
    """One template with the palette and icons every sheet shares."""
    return env.get_template(name).render(**render_context(), **context)


def parse_formats(text: str | Iterable[str], allowed: Iterable[str] = FORMATS) -> list[str]:
    """'html,xlsx' -> ['html', 'xlsx'], refusing unknown formats with a clear message."""
    allowed = tuple(allowed)
    names = [part.strip().lower() for part in (text.split(",") if isinstance(text, str) else text) if part.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise ValueError(f"--format: unknown format '{','.join(unknown) or text}' (use {', '.join(allowed)})")
    return list(dict.fromkeys(names))


def stream_text(path: Path, pieces: Iterable[str]) -> Path:
    """Write a rendered file piece by piece (a template's `generate()`), atomically, in constant memory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        buffer: list[str] = []
        held = 0
        for piece in pieces:  # many small pieces (template text) and some large ones (2,000 ledger rows)
            buffer.append(piece)
            held += len(piece)
            if held >= 1 << 20:
                out.write("".join(buffer))
                buffer.clear()
                held = 0
        out.write("".join(buffer))
    partial.replace(path)
    return path


def write_text(path: Path, text: str) -> Path:
    """Write a rendered file atomically, so a reader never sees half a sheet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return path
