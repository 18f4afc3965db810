"""The migrations build exactly the schema the code declares, on the test database."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from storage import migrate, tables
from storage.db import make_engine


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


def test_primary_keys_match_the_tables_column_for_column(engine: Engine) -> None:
    """Alembic does not compare a key's column order; the breakdown's reads rely on it."""
    inspector = sa.inspect(engine)
    for table in tables.metadata.sorted_tables:
        reflected = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert reflected == list(table.primary_key.columns.keys()), table.name


BREAKDOWN_ROWS = [
    # account, metric, day, dimension, value, quantity, events, successes, failures
    ("acme", "api_calls", date(2026, 3, 2), "feature", "search", 4.0, 2, 1, 1),
    ("acme", "api_calls", date(2026, 3, 1), "user", "ann", 1.5, 1, 1, 0),
    ("acme", "tokens", date(2026, 3, 1), "feature", "search", 900.0, 3, 0, 0),
    ("acme", "tokens", date(2026, 3, 1), "team", "ops", 10.0, 1, 0, 0),
    ("beta", "api_calls", date(2026, 2, 28), "feature", "chat", 7.0, 7, 6, 1),
]


def test_0003_rekeys_the_breakdown_both_ways_keeping_every_row(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        migrate.upgrade(engine, "0002")
        b = tables.usage_daily_breakdown
        with engine.begin() as conn:
            rows = [dict(zip(b.c.keys(), row, strict=True)) for row in BREAKDOWN_ROWS]
            conn.execute(b.insert(), rows)

        migrate.upgrade(engine)
        assert _breakdown_key(engine) == ["account_id", "dimension", "value", "day", "metric"]
        assert _breakdown_rows(engine) == sorted(BREAKDOWN_ROWS)
        assert migrate.pending(engine) == []

        _downgrade(engine, "0002")
        assert _breakdown_key(engine) == ["account_id", "metric", "day", "dimension", "value"]
        assert _breakdown_rows(engine) == sorted(BREAKDOWN_ROWS)

        migrate.upgrade(engine)
        assert _breakdown_key(engine) == list(b.primary_key.columns.keys())
        assert _breakdown_rows(engine) == sorted(BREAKDOWN_ROWS)
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                ddl = conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'usage_daily_breakdown'"
                ).scalar_one()
            assert "WITHOUT ROWID" in ddl
    finally:
        engine.dispose()


def _breakdown_key(engine: Engine) -> list[str]:
    key = sa.inspect(engine).get_pk_constraint("usage_daily_breakdown")
    return list(key["constrained_columns"])


def _breakdown_rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(tables.usage_daily_breakdown.select()))


def _downgrade(engine: Engine, revision: str) -> None:
    config = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
