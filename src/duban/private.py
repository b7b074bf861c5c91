"""Files only duban's own user may read: the store, the outbox, evidence, the link secret (0600, folders 0700)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TextIO

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """Create `path` and its missing parents 0700; folders that already exist keep the mode their owner chose."""
    path = Path(path)
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it a moment ago
            folder.mkdir(mode=DIR_MODE)
    return path


def touch_private(path: str | Path) -> Path:
    """Create an empty file 0600 unless it exists (SQLite then keeps that mode, and gives it to its -wal and -shm)."""
    with contextlib.suppress(FileExistsError):  # O_EXCL: an existing file is not opened for writing, nor changed
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return Path(path)


def append_private(path: str | Path) -> TextIO:
    """A UTF-8 text file opened for appending, created 0600."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE), "a", encoding="utf-8")


def too_open(path: str | Path) -> bool:
    """Whether others than the owner may read or enter `path` (False when it does not exist)."""
    try:
        return bool(Path(path).stat().st_mode & 0o077)
    except FileNotFoundError:
        return False
