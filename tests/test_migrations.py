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


def test_the_light_check_reads_alembics_heads_and_the_stores_revisions(store_url):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from duban.migrated import at_newest, heads
    from duban.store import MIGRATIONS, make_engine

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert heads(MIGRATIONS / "versions") == set(ScriptDirectory.from_config(config).get_heads())
    fresh = make_engine(store_url)
    assert not at_newest(fresh, MIGRATIONS / "versions")  # no alembic_version table yet
    migrate(fresh)
    assert at_newest(fresh, MIGRATIONS / "versions")
    with fresh.begin() as connection:  # a store one migration behind
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0016_notification_pending_index' "
                                   "WHERE version_num = '0017_notification_lz4'")
    assert not at_newest(fresh, MIGRATIONS / "versions")


def test_the_light_check_leaves_what_it_cannot_read_to_alembic(tmp_path):
    from duban.migrated import heads

    (tmp_path / "a.py").write_text("revision = 'a'\ndown_revision = None\nbranch_labels = None\n", encoding="utf-8")
    (tmp_path / "b.py").write_text("revision = 'b'\ndown_revision = ('a',)\n", encoding="utf-8")
    assert heads(tmp_path) == {"b"}
    (tmp_path / "c.py").write_text("revision = 'c'\ndown_revision = 'a'\ndepends_on = 'b'\n", encoding="utf-8")
    assert heads(tmp_path) is None
    (tmp_path / "c.py").write_text("revision = make_name()\ndown_revision = 'a'\n", encoding="utf-8")
    assert heads(tmp_path) is None


def test_postgresql_compresses_the_notification_bodies_with_lz4_where_it_can(pg_url):
    from duban.store import make_engine

    engine = make_engine(pg_url)
    migrate(engine)
    with engine.connect() as connection:
        available = connection.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'").scalar()
        methods = dict(connection.exec_driver_sql(
            "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = 'notification'::regclass "
            "AND attname IN ('body_text', 'body_html')").all())
    engine.dispose()
    assert methods == {name: "l" if available else "" for name in ("body_text", "body_html")}
