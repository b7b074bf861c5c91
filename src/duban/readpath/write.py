"""Writing rows out as they come from the store, in batches, so memory does not grow with the number of rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO


def write_json(batches: Iterable[list[Any]], encode: Callable[[list[Any]], list[str]], out: BinaryIO) -> int:
    """A JSON array, one object per line, as `duban.output.as_json` then `emit`; returns how many rows."""
    count = 0
    for batch in batches:
        out.write(((",\n" if count else "[\n") + ",\n".join(encode(batch))).encode())
        count += len(batch)
    out.write(b"\n]\n" if count else b"[]\n")
    return count


def write_csv(
    batches: Iterable[list[Any]], fields: Callable[[Any], list[Any]], header: list[str], out: BinaryIO
) -> int:
    """CSV as `duban.output.as_csv` then `emit`: a byte-order mark, the header line, a line per row."""
    from duban.output import BOM

    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(header)
    count = 0
    for batch in batches:
        writer.writerows(map(fields, batch))
        out.write(buffer.getvalue().encode())
        buffer.seek(0)
        buffer.truncate()
        count += len(batch)
    out.write(buffer.getvalue().encode())
    return count


def write_text(text: str, out: BinaryIO) -> None:
    """Text as `duban.cli.common.emit` writes it: UTF-8, ending with one line break."""
    out.write((text if text.endswith("\n") else text + "\n").encode())
