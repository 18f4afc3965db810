"""outbox deferrals: sends put off by a rate limit or an outage (not failures), and the
time after which a message is stale (rows from before it count from their creation)

Revision ID: 0009_outbox_deferrals
Revises: 0008_usage_summaries_and_sync
Create Date: 2026-12-05 15:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_outbox_deferrals"
down_revision: str | None = "0008_usage_summaries_and_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("deferrals", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("stale_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("stale_at")
        batch.drop_column("deferrals")
