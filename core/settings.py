"""One typed Settings object for the whole of Steward, validated at start.

Values come from (highest priority first): environment variables, a `.env`
file in the working directory, the TOML file named by ``STEWARD_CONFIG``
(default ``steward.toml`` when present), then the defaults below.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.logs import LogFormat
from core.sealing import Sealer, SealError
from signals.config import ConfigValueError, ScoringConfig

DEFAULT_DATABASE_URL = "sqlite:///steward.db"
DEFAULT_LLM_MODEL = "gpt-4o-mini"  # when OPENAI_API_KEY is set without STEWARD_LLM_MODEL
BOT_FRAMEWORK_HOSTS = (  # where Teams' serviceUrls point: public cloud, then GCC, GCC High, DoD
    "*.botframework.com",
    "smba.trafficmanager.net",
    "*.botframework.azure.us",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
    "smba.infra.dod.teams.microsoft.us",
)
MIN_TOKEN_LENGTH = 16  # longer than any placeholder ("changeme", "secret", ...)


def _env(*names: str) -> AliasChoices:
    """Accept a setting under its environment name and its lower-case TOML key."""
    return AliasChoices(*names, *(n.lower() for n in names))


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class IngestLimits(BaseModel):
    """Limits on what one ingestion request may carry (`[ingest]` in steward.toml)."""

    max_items: int = Field(5000, ge=1, le=100_000)
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    future_tolerance_seconds: int = Field(300, ge=0, le=86_400)


class SegmentMapping(BaseModel):
    """`[sources.segment]`: where Segment calls keep what Steward needs (dotted paths)."""

    model_config = ConfigDict(extra="forbid")

    account: str | None = None  # e.g. "properties.account_id", after context.groupId and groups
    quantity: str = "properties.quantity"  # missing: 1
    feature: str | None = None  # e.g. "properties.feature"


class CloudEventsMapping(BaseModel):
    """`[sources.cloudevents]`: where CloudEvents keep what Steward needs (dotted paths)."""

    model_config = ConfigDict(extra="forbid")

    account: str = "subject"
    quantity: str = "data.quantity"  # missing: 1
    user: str | None = None  # e.g. "data.user_id"
    feature: str | None = None  # e.g. "data.feature"


class StripeMapping(BaseModel):
    """`[sources.stripe]`: the metadata key naming the Steward account, when it differs."""

    model_config = ConfigDict(extra="forbid")

    account_metadata: str = "steward_account"  # on customers and subscriptions


class ZendeskMapping(BaseModel):
    """`[sources.zendesk]`: which Steward account a Zendesk organization is, when its
    id (or external id) is not already the Steward account id."""

    model_config = ConfigDict(extra="forbid")

    organizations: dict[str, str] = Field(default_factory=dict)  # organization -> account


class HubSpotMapping(BaseModel):
    """`[sources.hubspot]`: which Steward account a HubSpot company is, who its owners are,
    and which company properties feed which account fields."""

    model_config = ConfigDict(extra="forbid")

    companies: dict[str, str] = Field(default_factory=dict)  # company id -> account id
    owners: dict[str, str] = Field(default_factory=dict)  # owner id -> email or Slack id
    properties: dict[str, str] = Field(  # HubSpot property -> Steward account field
        default_factory=lambda: {
            "name": "name",
            "domain": "domain",
            "hubspot_owner_id": "csm",
            "arr": "arr",
            "renewal_date": "renewal_date",
        }
    )


class SourceMappings(BaseModel):
    """`[sources.<name>]` in steward.toml: one mapping per vendor source."""

    model_config = ConfigDict(extra="forbid")

    segment: SegmentMapping = Field(default_factory=SegmentMapping)
    cloudevents: CloudEventsMapping = Field(default_factory=CloudEventsMapping)
    stripe: StripeMapping = Field(default_factory=StripeMapping)
    zendesk: ZendeskMapping = Field(default_factory=ZendeskMapping)
    hubspot: HubSpotMapping = Field(default_factory=HubSpotMapping)


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in a duration such as ``90s``, ``15m``, ``1h`` or ``1d``."""
    text = text.strip().lower()
    unit = DURATION_UNITS.get(text[-1:])
    if unit is None or not text[:-1].isdigit() or int(text[:-1]) == 0:
        raise ValueError(f"{text!r} is not a duration: use a number and s, m, h or d (e.g. 1h)")
    return int(text[:-1]) * unit


class SyncConfig(BaseModel):
    """One warehouse sync (`[sync.<name>]` in steward.toml), run by the worker's `sync` job."""

    url: SecretStr | None = None  # the warehouse's SQLAlchemy URL, or:
    url_env: str | None = None  # the environment variable that holds it
    query: Path  # a SQL file; its columns are named as the kind's fields
    kind: str = Field("events", pattern="^(events|usage)$")
    watermark: str | None = None  # default: updated_at, else the event time (timestamp/day)
    every: str = "1h"

    @field_validator("every")
    @classmethod
    def _check_every(cls, value: str) -> str:
        parse_duration(value)
        return value

    def warehouse_url(self) -> str:
        """The URL to read from (the environment variable's value when url_env is set)."""
        if self.url is not None:
            return self.url.get_secret_value()
        if self.url_env and os.environ.get(self.url_env):
            return os.environ[self.url_env]
        raise ValueError(f"set url or url_env (now {self.url_env or 'unset'}) for this sync")


class Settings(BaseSettings):
    """Steward's configuration. Only the database has a default."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias=_env("DATABASE_URL"))
    host: str = Field("127.0.0.1", validation_alias=_env("HOST"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=_env("PORT"))
    log_format: LogFormat = Field("text", validation_alias=_env("STEWARD_LOG_FORMAT"))
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias=_env("STEWARD_WEBHOOK_SECRETS", "webhook_secrets")
    )
    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias=_env("STEWARD_API_TOKENS", "api_tokens")
    )
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_client_id: str | None = Field(None, validation_alias=_env("SLACK_CLIENT_ID"))
    slack_client_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_CLIENT_SECRET")
    )
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias=_env("STEWARD_ENCRYPTION_KEY", "encryption_keys")
    )  # Fernet keys, newest first: the first encrypts, every one decrypts
    slack_api_url: str | None = Field(None, validation_alias=_env("SLACK_API_URL"))
    slack_shared_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("SLACK_SHARED_CHANNELS")
    )
    slack_command_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("SLACK_COMMAND_CHANNELS")
    )
    slack_user_groups: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("SLACK_USER_GROUPS")
    )
    slack_charts: bool = Field(True, validation_alias=_env("SLACK_CHARTS"))
    slack_socket_mode: bool = Field(False, validation_alias=_env("SLACK_SOCKET_MODE"))
    snapshot_at: str = Field(
        "04:15",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        validation_alias=_env("STEWARD_SNAPSHOT_AT", "snapshot_at"),
    )  # UTC time of the daily snapshot job
    alert_daily_cap: int = Field(
        10, ge=1, le=1000, validation_alias=_env("STEWARD_ALERT_DAILY_CAP", "alert_daily_cap")
    )  # alert messages a channel gets a day; the rest go out as one summary per pass
    worker_tick_seconds: int = Field(
        60, ge=1, le=3600, validation_alias=_env("STEWARD_WORKER_TICK", "worker_tick_seconds")
    )  # how often the worker looks for changed accounts and due digests
    microsoft_app_id: str | None = Field(None, validation_alias=_env("MICROSOFT_APP_ID"))
    microsoft_app_password: SecretStr | None = Field(
        None, validation_alias=_env("MICROSOFT_APP_PASSWORD")
    )
    microsoft_app_tenant_id: str | None = Field(
        None, validation_alias=_env("MICROSOFT_APP_TENANT_ID")
    )
    teams_tenants: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("TEAMS_TENANTS")
    )  # Entra tenant ids whose Teams may talk to Steward (default: MICROSOFT_APP_TENANT_ID)
    teams_shared_conversations: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("TEAMS_SHARED_CONVERSATIONS")
    )  # conversations with guests or other organisations' users allowed account data
    teams_command_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("TEAMS_COMMAND_CHANNELS")
    )  # when set, the only channels/chats (besides personal chats) where Steward answers
    teams_allow_anonymous: bool = Field(
        False, validation_alias=_env("TEAMS_ALLOW_ANONYMOUS")
    )  # local development only: accept activities without a Bot Framework token
    teams_service_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(BOT_FRAMEWORK_HOSTS),
        validation_alias=_env("TEAMS_SERVICE_HOSTS"),
    )  # the only hosts (``*.`` for subdomains, ``:port`` to pin one) given the connector token
    teams_openid_metadata_url: str = Field(
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
        validation_alias=_env("TEAMS_OPENID_METADATA_URL"),
    )  # where the Bot Framework publishes the keys that sign inbound activities
    microsoft_token_url: str | None = Field(
        None, validation_alias=_env("MICROSOFT_TOKEN_URL")
    )  # default: https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token
    public_url: str | None = Field(
        None, validation_alias=_env("STEWARD_PUBLIC_URL", "public_url")
    )  # https address of this app, for chart images in Teams cards
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    llm_model: str | None = Field(None, validation_alias=_env("STEWARD_LLM_MODEL", "llm_model"))
    llm_timeout: float = Field(
        20.0, gt=0, le=600, validation_alias=_env("STEWARD_LLM_TIMEOUT", "llm_timeout")
    )  # seconds per model call
    llm_retries: int = Field(
        1, ge=0, le=5, validation_alias=_env("STEWARD_LLM_RETRIES", "llm_retries")
    )  # retries after a timeout, 429 or 5xx (the client honours Retry-After)
    llm_digest_summary: bool = Field(
        False, validation_alias=_env("STEWARD_LLM_DIGEST_SUMMARY", "llm_digest_summary")
    )  # a two-sentence summary at the top of digests
    ingest: IngestLimits = Field(default_factory=IngestLimits)
    segment_secret: SecretStr | None = Field(
        None, validation_alias=_env("STEWARD_SEGMENT_SECRET", "segment_secret")
    )  # the shared secret Segment signs webhook bodies with (X-Signature, HMAC-SHA1)
    stripe_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("STEWARD_STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret")
    )  # the endpoint's signing secret (whsec_...) from Stripe's dashboard
    zendesk_secret: SecretStr | None = Field(
        None, validation_alias=_env("STEWARD_ZENDESK_SECRET", "zendesk_secret")
    )  # the webhook's signing secret, from Admin Center > Apps and integrations > Webhooks
    hubspot_client_secret: SecretStr | None = Field(
        None, validation_alias=_env("STEWARD_HUBSPOT_CLIENT_SECRET", "hubspot_client_secret")
    )  # the HubSpot app's client secret (Auth tab), which signs its webhooks
    sources: SourceMappings = Field(default_factory=SourceMappings)
    scoring: dict[str, Any] = Field(default_factory=dict)  # [scoring]: see signals/config.py
    import_map: dict[str, dict[str, str]] = Field(  # [import.map.<kind>]: field = "column"
        default_factory=dict, validation_alias=AliasChoices(AliasPath("import", "map"))
    )
    syncs: dict[str, SyncConfig] = Field(  # [sync.<name>]: warehouse syncs for the worker
        default_factory=dict, validation_alias=AliasChoices("sync")
    )

    @field_validator("scoring")
    @classmethod
    def _check_scoring(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            ScoringConfig.from_mapping(value)
        except ConfigValueError as exc:
            raise ValueError(str(exc)) from None
        return value

    def scoring_config(self) -> ScoringConfig:
        """The signals' weights, thresholds and models from `[scoring]`."""
        return ScoringConfig.from_mapping(self.scoring)

    @field_validator(
        "webhook_secrets",
        "api_tokens",
        "encryption_keys",
        "slack_shared_channels",
        "slack_command_channels",
        "slack_user_groups",
        "teams_tenants",
        "teams_shared_conversations",
        "teams_command_channels",
        "teams_service_hosts",
        mode="before",
    )
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("webhook_secrets")
    @classmethod
    def _check_webhook_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            raw = secret.get_secret_value()
            if not raw.startswith("whsec_"):
                raise ValueError("each secret must start with 'whsec_' (Standard Webhooks format)")
            try:
                key = base64.b64decode(raw.removeprefix("whsec_") + "==", validate=False)
            except (binascii.Error, ValueError) as exc:
                raise ValueError("a secret after 'whsec_' must be base64") from exc
            if len(key) < 24:
                raise ValueError("each secret must hold at least 24 random bytes")
        return value

    @field_validator("api_tokens")
    @classmethod
    def _check_api_tokens(cls, value: list[SecretStr]) -> list[SecretStr]:
        for token in value:
            raw = token.get_secret_value()
            if len(raw) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"each token must be at least {MIN_TOKEN_LENGTH} characters "
                    "(try: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file_path())
        return (init_settings, env_settings, dotenv_settings, toml)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def feature_report(self) -> list[str]:
        """Say, in one line each, which optional features are on and which are off."""
        lines = []
        if not (self.webhook_secrets or self.api_tokens):
            lines.append(
                "HTTP API: OFF - no STEWARD_WEBHOOK_SECRETS or STEWARD_API_TOKENS, "
                "every request will get 401 (run `steward init` for local secrets)"
            )
        else:
            lines.append(
                f"HTTP API: on ({len(self.webhook_secrets)} webhook secret(s), "
                f"{len(self.api_tokens)} bearer token(s))"
            )
        lines.append("Slack: " + self.slack_report())
        lines.append("Teams: " + self.teams_report())
        lines.append("LLM: " + self.llm_report())
        return lines

    @model_validator(mode="after")
    def _check_encryption_keys(self) -> Settings:
        if self.encryption_keys:
            try:
                Sealer([key.get_secret_value() for key in self.encryption_keys])
            except SealError as exc:
                raise ValueError(str(exc)) from None
        elif self.slack_oauth:
            raise ValueError(
                "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET need STEWARD_ENCRYPTION_KEY, to store "
                "the workspaces' tokens encrypted: generate one with `steward encryption-key`"
            )
        return self

    @property
    def slack_oauth(self) -> bool:
        """Whether Slack is installed through OAuth ("Add to Slack"), for many workspaces."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def slack_on(self) -> bool:
        """Whether /slack/events takes requests: a signing secret and a token or OAuth."""
        has_token = self.slack_bot_token is not None or self.slack_oauth
        return self.slack_signing_secret is not None and has_token

    def slack_report(self) -> str:
        """How Slack is configured: one workspace's token, or OAuth for many."""
        if not self.slack_on:
            return "off (no SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)"
        if not self.slack_oauth:
            return "configured (one workspace, SLACK_BOT_TOKEN)"
        if not self.encryption_keys:
            return "OAuth NOT READY: set STEWARD_ENCRYPTION_KEY to store workspaces' tokens"
        ignored = "; SLACK_BOT_TOKEN is ignored" if self.slack_bot_token else ""
        return f"OAuth, many workspaces (install at /slack/install){ignored}"

    @property
    def teams_on(self) -> bool:
        """Whether /api/messages takes Teams activities (an app id and password, or dev mode)."""
        has_app = bool(self.microsoft_app_id and self.microsoft_app_password)
        return has_app or self.teams_allow_anonymous

    def allowed_tenants(self) -> frozenset[str]:
        """The Entra tenants allowed to talk to Steward (TEAMS_TENANTS, else the app's)."""
        tenants = set(self.teams_tenants)
        if not tenants and self.microsoft_app_tenant_id:
            tenants.add(self.microsoft_app_tenant_id)
        return frozenset(t.lower() for t in tenants)

    def teams_report(self) -> str:
        """Whether Teams is on, for which tenants, and whether tokens are checked."""
        if not self.teams_on:
            return "off (no MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD)"
        tenants = ", ".join(sorted(self.allowed_tenants())) or "none: set TEAMS_TENANTS"
        if self.teams_allow_anonymous:
            return (
                f"ON WITHOUT AUTHENTICATION (TEAMS_ALLOW_ANONYMOUS): any process on this "
                f"machine is trusted (loopback callers and service URLs only, nothing "
                f"stored); local development only; tenants {tenants}"
            )
        charts = "charts on" if self.public_url else "charts off (no STEWARD_PUBLIC_URL)"
        return f"configured (app {self.microsoft_app_id}, tenants {tenants}, {charts})"

    def llm_report(self) -> str:
        """Whether the LLM features are on, and with what (never the key)."""
        if self.openai_api_key is None or not self.openai_api_key.get_secret_value().strip():
            return (
                "off (no OPENAI_API_KEY): /value answers from templates, /steward ask "
                "is unavailable"
            )
        where = "OpenAI"
        if self.openai_base_url:
            url = urlsplit(self.openai_base_url)
            where = f"{url.scheme}://{url.hostname}{f':{url.port}' if url.port else ''}{url.path}"
        digest = "on" if self.llm_digest_summary else "off"
        return (
            f"on, model {self.llm_model or DEFAULT_LLM_MODEL} at {where} "
            f"(timeout {self.llm_timeout:g} s, {self.llm_retries} retries; "
            f"value narratives and /steward ask; digest summaries {digest})"
        )

    def secret_values(self) -> list[str]:
        """Every configured secret, so that text bound for an LLM can be scrubbed of them."""
        found = [*self.webhook_secrets, *self.api_tokens, *self.encryption_keys]
        found += [
            s
            for s in (
                self.slack_bot_token,
                self.slack_signing_secret,
                self.slack_app_token,
                self.slack_client_secret,
                self.microsoft_app_password,
                self.openai_api_key,
                self.segment_secret,
                self.stripe_webhook_secret,
                self.zendesk_secret,
                self.hubspot_client_secret,
            )
            if s is not None
        ]
        return [s.get_secret_value() for s in found if s.get_secret_value()]


def config_file_path() -> Path | None:
    """Return the TOML file to read: $STEWARD_CONFIG, else ./steward.toml if present."""
    named = os.environ.get("STEWARD_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"STEWARD_CONFIG names {named!r}, which is not a readable file")
        return path
    default = Path("steward.toml")
    return default if default.is_file() else None


def normalise_database_url(url: str) -> str:
    """Pick the driver: psycopg 3 for PostgreSQL (Heroku's postgres:// too), pysqlite for SQLite."""
    url = url.strip()
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith(("postgresql+psycopg://", "sqlite://", "sqlite+pysqlite://")):
        return url
    raise ValueError("must be a sqlite:///path, postgresql://user@host/db or postgres:// URL")


class ConfigError(Exception):
    """Configuration is missing or invalid; the message says what to fix."""


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"]) or "settings"
            lines.append(f"  {name.upper()}: {err['msg']}")
        raise ConfigError("Invalid configuration:\n" + "\n".join(lines)) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read configuration: {exc}") from None
