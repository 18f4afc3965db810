"""usage_daily_breakdown keyed by (account_id, dimension, value, day, metric)

The scoring loader reads the breakdown per (account, dimension, value, day), summed over
metrics: with this key order that read follows the key instead of sorting every row, and
a value's first day is the first entry of its key range. Every row is kept.

On SQLite the table is rebuilt in batch mode (a WITHOUT ROWID table is stored in its
key's order, so the key cannot change in place), still WITHOUT ROWID; on PostgreSQL the
primary key constraint is dropped and added again with the new column order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "usage_daily_breakdown"
PK_NAME = "usage_daily_breakdown_pkey"  # PostgreSQL's name for the unnamed key of 0001
NEW_KEY = ("account_id", "dimension", "value", "day", "metric")
OLD_KEY = ("account_id", "metric", "day", "dimension", "value")


def upgrade() -> None:
    _rekey(NEW_KEY)


def downgrade() -> None:
    _rekey(OLD_KEY)


def _rekey(key: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Batch mode copies every row into a table built from copy_from, drops the old
        # table and renames the copy.
        with op.batch_alter_table(TABLE, copy_from=_table(key), recreate="always"):
            pass
        return
    op.drop_constraint(PK_NAME, TABLE, type_="primary")
    op.create_primary_key(PK_NAME, TABLE, list(key))


def _table(key: Sequence[str]) -> sa.Table:
    """The table as 0001 creates it, with this primary key."""
    return sa.Table(
        TABLE,
        sa.MetaData(),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*key),
        sqlite_with_rowid=False,
    )
