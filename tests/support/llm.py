"""An LLM key for the fake OpenAI server, value factors, and a well-behaved model."""

from __future__ import annotations

from tests.support.fakes.openai import Reply, Request, text

KEY = "sk-test-0123456789abcdefghijklmn"


VALUE_FACTORS = {"tokens": {"label": "agent hours saved", "minutes": 0.001, "hourly_rate": 40}}


def narrative_from(request: Request) -> Reply:
    """A well-behaved model: a narrative that uses the figures it was given."""
    f = request.user_data()
    return text(
        f"Over the {f['period']}, {f['account']} spent ${f['spend']:,.0f} and saved about "
        f"{f['hours_saved']:,.0f} agent hours, worth ${f['value_realized']:,.0f}: "
        f"{f['return_on_spend']:.1f}x the spend."
    )
