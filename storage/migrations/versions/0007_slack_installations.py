"""slack installations, oauth states, the workspace of each conversation, and follows

Revision ID: 0007_slack_installations
Revises: 0006_segment_groups
Create Date: 2026-12-05 12:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007_slack_installations"
down_revision: str | None = "0006_segment_groups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", _text(64), nullable=False),
        sa.Column("enterprise_id", _text(32), nullable=False),
        sa.Column("team_id", _text(32), nullable=False),
        sa.Column("team_name", _text(255), nullable=True),
        sa.Column("app_id", _text(32), nullable=True),
        sa.Column("bot_id", _text(32), nullable=True),
        sa.Column("bot_user_id", _text(32), nullable=True),
        sa.Column("bot_scopes", _text(2000), nullable=False),
        sa.Column("bot_token", _text(1000), nullable=False),
        sa.Column("bot_refresh_token", _text(1000), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("installer_user_id", _text(32), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "enterprise_id", "team_id"),
    )
    with op.batch_alter_table("slack_installations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slack_installations_team_id"), ["team_id"], unique=False
        )
    op.create_table(
        "slack_oauth_states",
        sa.Column("state", _text(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state"),
    )
    with op.batch_alter_table("slack_oauth_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slack_oauth_states_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "slack_directory",
        sa.Column("slack_id", _text(64), nullable=False),
        sa.Column("team_id", _text(32), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slack_id"),
    )
    with op.batch_alter_table("slack_directory", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slack_directory_team_id"), ["team_id"], unique=False)

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("account_ids", sa.JSON(), server_default="[]", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("account_ids")
    with op.batch_alter_table("slack_directory", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_directory_team_id"))
    op.drop_table("slack_directory")
    with op.batch_alter_table("slack_oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_oauth_states_expires_at"))
    op.drop_table("slack_oauth_states")
    with op.batch_alter_table("slack_installations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_installations_team_id"))
    op.drop_table("slack_installations")
