"""Sample cards and charts that every renderer is tried on."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from core.messages import Button, Card, Chart, Fact, Reference, Section, Series

DAYS = tuple(date(2024, 3, 1) + timedelta(days=i) for i in range(30))


def sample_chart(**overrides: Any) -> Chart:
    usage = tuple(None if 10 <= i < 13 else 100.0 + i for i in range(len(DAYS)))
    fields: dict[str, Any] = {
        "title": "Daily API calls",
        "alt_text": "API calls rose from 100 to 129 a day over March",
        "days": DAYS,
        "series": (
            Series("API calls", usage),
            Series("Last year", tuple(90.0 for _ in DAYS), style="dashed"),
        ),
        "y_label": "calls",
        "references": (Reference("Commit", value=110.0), Reference("Renewal", day=DAYS[20])),
    }
    return Chart(**(fields | overrides))


def sample_health_card() -> Card:
    return Card(
        title="Acme Corp: health 72 (healthy)",
        summary="Acme Corp is healthy at 72, up 4 points this week.",
        sections=(
            Section(
                title="Health",
                text="Usage is growing and tickets are quiet.",
                facts=(
                    Fact("Health", "72 (healthy)"),
                    Fact("Trend", "+4 this week"),
                    Fact("ARR", "$120,000"),
                ),
            ),
            Section(title="Signals", items=("Usage up 12% month on month", "No open P1 tickets")),
        ),
        chart=sample_chart(),
        buttons=(
            Button("Snooze a week", action="snooze", value="acme:7"),
            Button("Open in CRM", action="crm", url="https://crm.example.com/acme"),
            Button("Escalate", action="escalate", value="acme", style="danger"),
        ),
        footer="Figures as of 2024-03-30 06:00 UTC",
    )
