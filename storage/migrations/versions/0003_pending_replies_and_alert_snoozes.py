"""pending replies and alert snoozes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:02:08.096054
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


def upgrade() -> None:
    op.create_table(
        "alert_snoozes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snoozed_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_snoozes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_snoozes_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "pending_replies",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pending_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_replies_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pending_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_replies_status"))

    op.drop_table("pending_replies")
    with op.batch_alter_table("alert_snoozes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_snoozes_account_id"))

    op.drop_table("alert_snoozes")
