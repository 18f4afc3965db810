"""The one way Steward talks to an LLM: an OpenAI-compatible chat completions endpoint.

Built once per process (see :func:`build_llm`), and only when ``OPENAI_API_KEY`` is set:
without a key no client exists and nothing here touches the network. ``base_url`` points it
at Azure OpenAI, vLLM, Ollama or a test server.

Every call goes through :meth:`LLM.complete`, which

- scrubs every message of the configured secrets and of anything shaped like a token
  (Slack, OpenAI, webhook secrets, bearer headers) before it leaves the process;
- logs the purpose, model, latency and token usage at INFO, never the prompt, the answer,
  the key or customer text;
- turns every failure (timeout, 429, 5xx, connection refused, a refused key) into one
  :class:`LLMUnavailable`, so callers fall back to templates with a single ``except``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from core.settings import DEFAULT_LLM_MODEL, Settings

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)
# openai logs whole requests (messages included) at DEBUG: keep its loggers above that.
for _name in ("openai", "httpx2", "httpcore2"):
    logging.getLogger(_name).setLevel(logging.WARNING)

Message = dict[str, Any]
REDACTED = "[redacted]"
SECRET_SHAPES = re.compile(
    r"xox[abposr]-[A-Za-z0-9-]{8,}"  # Slack bot, user and app-level tokens
    r"|xapp-[A-Za-z0-9-]{8,}"
    r"|sk-[A-Za-z0-9_-]{16,}"  # OpenAI and similar API keys
    r"|whsec_[A-Za-z0-9+/=]{16,}"  # Standard Webhooks secrets
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{16,}"
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWTs
)


class LLMUnavailable(Exception):
    """The model did not answer in time or at all; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model asked for; ``arguments`` is the raw JSON it wrote."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Completion:
    """What the model answered: text, or tool calls to run first."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    model: str
    latency: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def assistant_message(self) -> Message:
        """The answer as a message to send back with the tool results."""
        message: Message = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        return message


class LLM:
    """A configured model behind an OpenAI-compatible endpoint."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 20.0,
        retries: int = 1,
        secrets: Iterable[str] = (),
    ) -> None:
        self.model = model
        self.timeout = timeout
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)
        import openai  # here, not at the top: ~0.5 s of imports that a process without a key skips

        self._openai = openai
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=retries
        )

    def complete(
        self,
        messages: Sequence[Message],
        *,
        purpose: str,
        tools: Sequence[Mapping[str, Any]] = (),
        timeout: float | None = None,
    ) -> Completion:
        """One chat completion (scrubbed, timed, logged).

        Raises:
            LLMUnavailable: timeout, rate limit, server error, connection error, refusal.
        """
        clean = [self.scrub_message(m) for m in messages]
        extra: dict[str, Any] = {"tools": list(tools)} if tools else {}
        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=cast(Any, clean),
                timeout=timeout if timeout is not None else self.timeout,
                **extra,
            )
        except self._openai.OpenAIError as exc:
            reason = _reason(exc)
            log.warning(
                "llm %s failed after %.0f ms: %s (model %s)",
                purpose,
                (time.perf_counter() - started) * 1000,
                reason,
                self.model,
            )
            raise LLMUnavailable(reason) from None
        latency = time.perf_counter() - started
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else None
        completion_tokens = usage.completion_tokens if usage else None
        log.info(
            "llm %s model=%s latency_ms=%.0f prompt_tokens=%s completion_tokens=%s",
            purpose,
            response.model or self.model,
            latency * 1000,
            prompt_tokens,
            completion_tokens,
        )
        if not response.choices:
            raise LLMUnavailable("the model answered with no choices")
        message = response.choices[0].message
        calls = tuple(
            ToolCall(c.id, c.function.name, c.function.arguments or "{}")
            for c in (message.tool_calls or ())
            if c.type == "function"
        )
        return Completion(
            text=(message.content or "").strip(),
            tool_calls=calls,
            model=response.model or self.model,
            latency=latency,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    def scrub(self, text: str) -> str:
        """``text`` without the configured secrets or anything shaped like a token."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return SECRET_SHAPES.sub(REDACTED, text)

    def scrub_message(self, message: Mapping[str, Any]) -> Message:
        """A copy of a chat message whose text (content and tool arguments) is scrubbed."""
        return cast(Message, _scrub_any(dict(message), self.scrub))


def _scrub_any(value: Any, scrub: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_any(v, scrub) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_any(v, scrub) for v in value]
    return value


def _reason(exc: openai.OpenAIError) -> str:
    """A few words for the log and the user's note: never the response body or the prompt."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "could not connect"
    if isinstance(exc, openai.RateLimitError):
        return "rate limited (429)"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"refused the key ({exc.status_code}): check OPENAI_API_KEY"
    if isinstance(exc, openai.APIStatusError):
        return f"answered {exc.status_code}"
    return type(exc).__name__


def build_llm(settings: Settings) -> LLM | None:
    """The process's LLM, or None when no ``OPENAI_API_KEY`` is set (no client is built)."""
    key = settings.openai_api_key.get_secret_value().strip() if settings.openai_api_key else ""
    if not key:
        return None
    return LLM(
        api_key=key,
        model=settings.llm_model or DEFAULT_LLM_MODEL,
        base_url=settings.openai_base_url or None,
        timeout=settings.llm_timeout,
        retries=settings.llm_retries,
        secrets=settings.secret_values(),
    )


def as_data(value: Any) -> str:
    """``value`` as JSON that reads as quoted data inside a prompt.

    Customer-provided strings stay inside JSON strings; angle brackets are escaped so a
    name cannot close the ``<data>`` tags the prompts put around it.
    """
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")
