"""Composition root: the one place that builds the engine and the services around it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from core.llm import LLM, build_llm
from core.settings import Settings
from handlers.api.auth import Authenticator
from handlers.chat.access import Decision
from handlers.chat.context import Context
from signals.config import ScoringConfig
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

    def chat_context(self, decision: Decision, config: ScoringConfig) -> Context:
        """What a command or button is answered from, where ``decision`` allowed an answer."""
        return Context(
            engine=self.engine,
            config=config,
            now=self.clock(),
            may_share=decision.may_share,  # Share buttons are dropped where it is False
            notes=decision.notes,
            llm=self.llm,  # called in a worker thread, after the platform's acknowledgement
        )

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
