"""Steward's tables, gathered under one metadata (the schema Alembic compares against).

Schema changes go through an Alembic migration (storage/migrations). The tables are
defined by domain: the book (``book``), alert bookkeeping (``alerts``) and what Steward
sends and answers (``delivery``); import them from here.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from storage.tables.alerts import account_changes, alert_snoozes, alert_states
from storage.tables.book import (
    accounts,
    contracts,
    health_snapshots,
    segment_groups,
    support_tickets,
    usage_daily,
    usage_daily_breakdown,
    usage_events,
    webhook_deliveries,
)
from storage.tables.delivery import (
    chart_images,
    job_runs,
    message_actions,
    outbox,
    pending_replies,
    subscriptions,
    teams_conversations,
)
from storage.tables.slack import slack_directory, slack_installations, slack_oauth_states
from storage.tables.summaries import usage_summaries, usage_summary_totals
from storage.tables.sync import sync_state

metadata = SQLModel.metadata

__all__ = [
    "account_changes",
    "accounts",
    "alert_snoozes",
    "alert_states",
    "chart_images",
    "contracts",
    "health_snapshots",
    "job_runs",
    "message_actions",
    "metadata",
    "outbox",
    "pending_replies",
    "segment_groups",
    "slack_directory",
    "slack_installations",
    "slack_oauth_states",
    "subscriptions",
    "support_tickets",
    "sync_state",
    "teams_conversations",
    "usage_daily",
    "usage_daily_breakdown",
    "usage_events",
    "usage_summaries",
    "usage_summary_totals",
    "webhook_deliveries",
]
