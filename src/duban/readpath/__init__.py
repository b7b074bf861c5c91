"""The light read path: `status` and `calendar` from the store without the ORM, pydantic or typer.

The database's own driver (stdlib `sqlite3` for SQLite files, `psycopg` for PostgreSQL) and string building
give the same rows and the same bytes as the ORM path (`duban.views.store_rows` with `duban.output`). The state
is judged in SQL by `duban.readpath.rule`, the second spelling of `duban.status.status_at`;
tests/test_readpath.py holds the spellings and the two paths together. Whatever this path cannot serve
(another database, a mistake in the command) it leaves to the full command, which says what is wrong.
"""
