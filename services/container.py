"""Composition root: the one place that builds the engine and the services around it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from core.llm import LLM, build_llm
from core.settings import Settings
from handlers.api.auth import Authenticator
from storage.db import make_engine


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """What request handlers, jobs and commands need, built once per process."""

    settings: Settings
    engine: Engine
    auth: Authenticator
    clock: Callable[[], datetime] = field(default=utc_now)
    llm: LLM | None = None  # None without OPENAI_API_KEY: every answer from templates

    @property
    def digest_llm(self) -> LLM | None:
        """The LLM for digest summaries: only when STEWARD_LLM_DIGEST_SUMMARY is on."""
        return self.llm if self.settings.llm_digest_summary else None


def build_services(settings: Settings, *, engine: Engine | None = None) -> Services:
    """Build the services for these settings (an engine may be passed in, e.g. by tests)."""
    auth = Authenticator(
        [s.get_secret_value() for s in settings.webhook_secrets],
        [t.get_secret_value() for t in settings.api_tokens],
    )
    return Services(
        settings=settings,
        engine=engine if engine is not None else make_engine(settings.database_url),
        auth=auth,
        llm=build_llm(settings),
    )
