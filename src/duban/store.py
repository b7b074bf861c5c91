"""Opening the store: engine, migrations, and small helpers shared by the commands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect

from duban.config import ROOT
from duban.private import private_dir, touch_private

MIGRATIONS = ROOT / "db" / "migrations"


class StoreError(RuntimeError):
    """The store cannot be used as asked (missing, not migrated, unreachable)."""


def make_engine(url: str) -> Engine:
    """An engine for a SQLAlchemy URL; SQLite files get their folder, private modes, WAL and a busy timeout."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        # The store holds people's contacts and every sign-in: 0600 in a 0700 folder where duban makes them.
        file = Path(url.removeprefix("sqlite:///").partition("?")[0])
        touch_private(private_dir(file.parent) / file.name)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config(engine: Engine):  # noqa: ANN202 - alembic is imported lazily
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the store's tables up to the newest migration."""
    from duban.migrated import at_newest

    if at_newest(engine, MIGRATIONS / "versions"):  # (without importing alembic: a third of a second)
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = _alembic_config(engine)
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        command.upgrade(config, "heads")


def require_tables(engine: Engine) -> None:
    """Refuse to read a store that was never synced."""
    if not inspect(engine).has_table("occurrence"):
        raise StoreError(
            f"the store at {engine.url.render_as_string(hide_password=True)} is empty: run `duban sync` first"
        )


def utc(moment: datetime) -> datetime:
    """An aware instant in UTC, as the store keeps instants."""
    return moment.astimezone(UTC)
