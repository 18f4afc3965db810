"""The migrations build exactly the schema the code declares, on the test database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from storage import migrate, tables


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, tables.metadata)
    assert differences == []


def test_nothing_is_pending_after_upgrade(engine: Engine) -> None:
    assert migrate.pending(engine) == []


def test_sqlite_storage_options_match_the_tables(engine: Engine) -> None:
    """Alembic does not compare WITHOUT ROWID; the rollups rely on it for speed."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
        ddl = {row.name: str(row.sql) for row in conn.exec_driver_sql(query)}
    for table in tables.metadata.sorted_tables:
        declared = table.dialect_options["sqlite"]["with_rowid"] is False
        assert ("WITHOUT ROWID" in ddl[table.name]) == declared, table.name
