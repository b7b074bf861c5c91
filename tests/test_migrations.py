"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from duban import models  # noqa: F401 - registers the tables
from duban.store import migrate


def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], "models changed without a migration: add one under db/migrations/versions"


def test_migrate_twice_is_harmless(engine):
    migrate(engine)
    migrate(engine)
