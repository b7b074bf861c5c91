"""Alembic environment: the engine comes from duban (or DUBAN_DATABASE_URL when run by `alembic`)."""

from alembic import context

from duban import models  # noqa: F401 - registers the tables
from duban.config import load_settings
from duban.store import make_engine
from sqlmodel import SQLModel

engine = context.config.attributes.get("engine") or make_engine(load_settings().database_url)

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
