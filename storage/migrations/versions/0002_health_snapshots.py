"""health snapshots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "health_snapshots",
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("band", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("churn_risk", sa.Float(), nullable=False),
        sa.Column("expansion_likelihood", sa.Float(), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("tier_since", sa.Date(), nullable=False),
        sa.Column("exhaustion_date", sa.Date(), nullable=True),
        sa.Column("projected_month_spend", sa.Float(), nullable=True),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "day"),
    )
    with op.batch_alter_table("health_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_health_snapshots_day"), ["day"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("health_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_snapshots_day"))

    op.drop_table("health_snapshots")
