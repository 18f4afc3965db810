"""teams conversations and chart images

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 11:20:26.091156
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "chart_images",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chart_images", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chart_images_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "teams_conversations",
        sa.Column("conversation_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("service_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("team_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("bot_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("user_aad_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("user_email", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("user_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("installed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    with op.batch_alter_table("teams_conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_teams_conversations_user_aad_id"), ["user_aad_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_teams_conversations_user_email"), ["user_email"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("teams_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_conversations_user_email"))
        batch_op.drop_index(batch_op.f("ix_teams_conversations_user_aad_id"))

    op.drop_table("teams_conversations")
    with op.batch_alter_table("chart_images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chart_images_created_at"))

    op.drop_table("chart_images")
