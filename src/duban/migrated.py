"""Whether a store is at the newest migration, told without importing alembic (0.3-0.4 s of CPU for every command that
opens the store): the heads read from the `revision` and `down_revision` lines of the migration files, the store's from
its alembic_version table. Any doubt (a line it cannot read, a branch label or a dependency, no table yet) answers
False, and alembic decides as before."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

_SETTING = re.compile(r"^(revision|down_revision|branch_labels|depends_on)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.M)


def heads(folder: Path) -> set[str] | None:
    """The revisions no other migration revises (alembic's heads), or None when the files say more than this reads."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in folder.glob("*.py"):
        found = {}
        for name, value in _SETTING.findall(path.read_text(encoding="utf-8")):
            try:
                found[name] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return None
        down = found.get("down_revision", ())
        if not isinstance(found.get("revision"), str) or found.get("branch_labels") or found.get("depends_on") or (
                down == ()):
            return None
        revisions.add(found["revision"])
        revised.update([down] if isinstance(down, str) else (down or ()))
    return (revisions - revised) or None


def at_newest(engine: Engine, folder: Path) -> bool:
    """True when the store's recorded revisions are exactly the newest ones (nothing to migrate)."""
    wanted = heads(folder)
    if wanted is None:
        return False
    try:
        with engine.connect() as connection:
            current = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except SQLAlchemyError:  # no table yet: a new store
        return False
    return current == wanted
