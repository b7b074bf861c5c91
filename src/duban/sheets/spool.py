"""Text written ahead to a temporary file, one run per key, and read back later in pieces. A sheet's counts come at
its top and need every item, while the items come once, in the order shown: so each item's row is formatted as it
comes (the detail page's, the XLSX's) and copied into place once the counts above it are written."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

HELD = 1000  # texts held in memory before they go to the file


class Spool:
    """Runs of text by key, in a temporary file; the texts of one key come together."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by `close`
        self.spans: dict[str, Run] = {}
        self.key: str | None = None
        self.start = self.written = self.count = 0
        self.held: list[str] = []

    def counted(self, key: str) -> int:
        """How many texts the run of `key` holds so far (0 for a key not begun: runs come one after another)."""
        return self.count if key == self.key else 0

    def add(self, key: str, text: str) -> None:
        """Append `text` to the run of `key`."""
        if key != self.key:
            self._end()
            self.key, self.start, self.count = key, self.written, 0
        self.count += 1
        self.held.append(text)
        if len(self.held) >= HELD:
            self._flush()

    def run(self, key: str) -> Run:
        """What was written for `key` (an empty run if nothing came)."""
        self._end()
        return self.spans.get(key, Run(self.file, 0, 0, 0))

    def close(self) -> None:
        """Let the file go."""
        self.file.close()

    def _flush(self) -> None:
        if self.held:
            data = "".join(self.held).encode()
            self.file.seek(self.written)
            self.file.write(data)
            self.written += len(data)
            self.held.clear()

    def _end(self) -> None:
        self._flush()
        if self.key is not None:
            self.spans[self.key] = Run(self.file, self.start, self.written, self.count)


class Run:
    """One key's texts in a `Spool`'s file: `count` of them, read back as UTF-8 bytes in pieces."""

    def __init__(self, file: IO[bytes], start: int, end: int, count: int) -> None:
        self.file, self.start, self.end, self.count = file, start, end, count

    def __iter__(self) -> Iterator[bytes]:
        return self.pieces()

    def pieces(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes as written, about `size` at a time (a piece may end inside a character)."""
        at = self.start
        while at < self.end:
            self.file.seek(at)
            data = self.file.read(min(size, self.end - at))
            at += len(data)
            yield data
