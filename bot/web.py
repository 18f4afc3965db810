"""The ASGI app: ingestion webhooks, reads of what was counted, and health checks."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from bot.operations import add_operations
from core import logs, metrics
from core.sealing import SealError
from core.settings import ConfigError, load_settings
from handlers.api.auth import Unauthorized
from handlers.api.errors import RejectedPayload
from handlers.api.schemas import MODELS, Kind
from services import ingest
from services.container import Services, build_services
from sources import SOURCES
from sources.base import Context, load_json
from storage import repository
from storage import teams as teams_storage
from storage.db import DatabaseUnavailable, read_connection

if TYPE_CHECKING:
    from bot.adapters.slack.app import SlackAdapter
    from bot.adapters.teams.app import TeamsAdapter

log = logging.getLogger(__name__)


class ORJSONResponse(Response):
    """JSON rendered with orjson (dates as ISO 8601)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


RETRY_AFTER_SECONDS = 30
SLACK_STAMP_DIGITS = 12  # Unix seconds, for the next 30,000 years
PLATFORM_MAX_BODY = 1024 * 1024  # Slack and Teams send a few KB; read no more before checks
DEFAULT_USAGE_DAYS = 90
MAX_USAGE_DAYS = 3 * 366
KINDS: tuple[Kind, ...] = ("events", "accounts", "contracts", "tickets", "usage")


def error(status: int, code: str, message: str, **extra: Any) -> ORJSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="steward"'}
    return ORJSONResponse({"error": code, "message": message, **extra}, status, headers=headers)


ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
}


def rejected(exc: RejectedPayload) -> ORJSONResponse:
    """The answer to a refused payload: its status, code, reason and each item's error."""
    extra = {"errors": [e.as_dict() for e in exc.errors]} if exc.errors else {}
    return error(exc.status, ERROR_CODES.get(exc.status, "error"), exc.message, **extra)


def create_app(services: Services) -> FastAPI:
    """Build the web app around already-built services."""
    slack = build_slack(services)
    app = FastAPI(
        title="Steward",
        version="1",
        summary="Usage, accounts, contracts and tickets in; customer-success signals out.",
        default_response_class=ORJSONResponse,
        lifespan=_lifespan(slack),
    )
    app.state.services = services
    app.state.slack = slack
    app.state.teams = build_teams(services)
    app.add_api_route("/slack/events", slack_events, methods=["POST"], include_in_schema=False)
    for path in ("/slack/install", "/slack/oauth_redirect"):
        app.add_api_route(path, slack_install, methods=["GET"], include_in_schema=False)
    app.add_api_route("/api/messages", teams_messages, methods=["POST"], include_in_schema=False)
    app.add_api_route("/charts/{chart_file}", chart_image, methods=["GET"], include_in_schema=False)
    _register_errors(app)
    logs.hold_libraries()  # after the adapters made their loggers
    for kind in KINDS:
        app.add_api_route(
            f"/v1/{kind}",
            _ingest_endpoint(kind),
            methods=["POST"],
            summary=f"Ingest {kind}",
            openapi_extra={"requestBody": _request_body(kind)},
        )
    app.add_api_route(
        "/v1/sources/{name}", ingest_source, methods=["POST"], summary="Ingest a vendor's webhook"
    )
    app.add_api_route("/v1/accounts/{account_id}", get_account, methods=["GET"])
    app.add_api_route("/v1/accounts/{account_id}/usage", get_usage, methods=["GET"])
    add_operations(app, services, lambda status, body: ORJSONResponse(body, status))
    return app


def build_slack(services: Services) -> SlackAdapter | None:
    """The Slack adapter when a signing secret and a bot token (or OAuth) are configured."""
    if not services.settings.slack_on:
        return None
    from bot.adapters.slack.app import SlackAdapter  # Slack's libraries load only when used

    try:
        return SlackAdapter(services)
    except SealError as exc:
        raise ConfigError(f"Slack OAuth: {exc}") from None


def build_teams(services: Services) -> TeamsAdapter | None:
    """The Teams adapter when an app id and password (or anonymous development) are set."""
    if not services.settings.teams_on:
        return None
    from bot.adapters.teams.app import TeamsAdapter  # the Agents SDK loads only when used

    return TeamsAdapter(services)


def _lifespan(slack: SlackAdapter | None) -> Any:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if slack is None:
            yield
            return
        sweep = asyncio.create_task(slack.sweep_forever())
        socket = await _socket_mode(slack)
        try:
            yield
        finally:
            sweep.cancel()
            if socket is not None:
                await socket.close_async()

    return lifespan


async def _socket_mode(slack: SlackAdapter) -> Any:
    """Connect over Socket Mode when asked to (development behind a firewall)."""
    settings = slack.services.settings
    if not settings.slack_socket_mode:
        return None
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert settings.slack_app_token is not None  # checked by `steward serve`
    handler = AsyncSocketModeHandler(slack.bolt, settings.slack_app_token.get_secret_value())
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.warning("Slack Socket Mode connected: for development only, not for production")
    return handler


async def slack_events(request: Request) -> Response:
    """Slack's commands, button clicks and events, signature-checked by Bolt."""
    slack: SlackAdapter | None = request.app.state.slack
    if slack is None:
        return error(
            503,
            "slack_off",
            "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET",
        )
    stamp = request.headers.get("x-slack-request-timestamp", "")
    if not (stamp.isdigit() and len(stamp) <= SLACK_STAMP_DIGITS):  # Bolt answers 500 to those
        return error(401, "unauthorized", "missing or malformed X-Slack-Request-Timestamp")
    refused = await _capped(request)
    return refused or await slack.handler.handle(request)


async def slack_install(request: Request) -> Response:
    """ "Add to Slack": the redirect to Slack's authorize page, and Slack's redirect back."""
    slack: SlackAdapter | None = request.app.state.slack
    if slack is None or slack.installs is None:
        return error(
            404,
            "not_found",
            "Slack OAuth is not configured: set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, "
            "SLACK_SIGNING_SECRET and STEWARD_ENCRYPTION_KEY",
        )
    return await slack.handler.handle(request)


async def teams_messages(request: Request) -> Response:
    """Teams' activities (messages, card buttons, installs), token-checked by the adapter."""
    teams: TeamsAdapter | None = request.app.state.teams
    if teams is None:
        return error(
            503,
            "teams_off",
            "Teams is not configured: set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD",
        )
    refused = await _capped(request)
    return refused or await teams.receive(request)


async def _capped(request: Request) -> Response | None:
    """Read a platform's body up to PLATFORM_MAX_BODY, before any parsing or verification.

    The body is kept on the request (Starlette's cache), so Bolt and the Teams adapter
    read it from there; a larger one is refused with 413 without reading the rest.
    """
    try:
        request._body = await read_body(request, PLATFORM_MAX_BODY)
    except RejectedPayload as exc:
        return rejected(exc)
    return None


CHART_FILE = re.compile(r"^([A-Za-z0-9_-]{16,64})\.png$")


async def chart_image(request: Request, chart_file: str) -> Response:
    """A chart drawn for a Teams card (its unguessable id is the only key)."""
    match = CHART_FILE.match(chart_file)
    if match is None:
        return error(404, "not_found", "no such chart")

    def read() -> bytes | None:
        with read_connection(services_of(request).engine) as conn:
            return teams_storage.get_chart(conn, match.group(1))

    png = await run_in_threadpool(read)
    if png is None:
        return error(404, "not_found", "no such chart (charts are kept 30 days)")
    return Response(
        png, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"}
    )


def _request_body(kind: Kind) -> dict[str, Any]:
    """Document the body (read raw, for signature checks) in the OpenAPI description."""
    item = MODELS[kind].model_json_schema()
    batch = {
        "type": "object",
        "required": [kind],
        "properties": {kind: {"type": "array", "items": item}},
    }
    return {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": [item, batch]}}},
    }


def app_from_environment() -> FastAPI:
    """Build the app from the environment: the factory for uvicorn's worker processes."""
    return create_app(build_services(load_settings()))


def _register_errors(app: FastAPI) -> None:
    async def on_http(_: Request, exc: Exception) -> ORJSONResponse:
        exc = cast(StarletteHTTPException, exc)
        code = ERROR_CODES.get(exc.status_code, "error")
        return error(exc.status_code, code, str(exc.detail))

    async def on_query(_: Request, exc: Exception) -> ORJSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}"
            for e in cast(RequestValidationError, exc).errors()
        )
        return error(400, "bad_request", problems)

    async def on_unavailable(request: Request, exc: Exception) -> ORJSONResponse:
        log.error("database unavailable: %s", exc)
        if request.method in ("GET", "HEAD"):
            return error(503, "unavailable", "the database is unavailable; retry later")
        # The connection may have gone after the commit: Steward cannot say whether the
        # batch was stored. A retry with the same delivery id is safe either way.
        return error(
            503,
            "unavailable",
            "the database is unavailable; not confirmed: retry with the same delivery id "
            "(a batch stored before the outage is then answered duplicate_delivery, never "
            "counted twice)",
        )

    async def on_bug(_: Request, exc: Exception) -> ORJSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error(500, "internal", "unexpected error in Steward; nothing was stored")

    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)
    app.add_exception_handler(RequestValidationError, on_query)
    app.add_exception_handler(DatabaseUnavailable, on_unavailable)


def services_of(request: Request) -> Services:
    return cast(Services, request.app.state.services)


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing with 413 as soon as it is larger than the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RejectedPayload(413, f"body of {int(declared)} bytes; at most {limit} are accepted")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RejectedPayload(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _ingest_endpoint(kind: Kind) -> Any:
    async def endpoint(request: Request) -> ORJSONResponse:
        services = services_of(request)
        try:
            body = await read_body(request, services.settings.ingest.max_body_bytes)
            _require_utf8(body)
            caller = services.auth.authenticate(request.headers, body)
            result = await run_in_threadpool(
                partial(
                    ingest.ingest_body,
                    services.engine,
                    kind,
                    body,
                    limits=services.settings.ingest,
                    now=services.clock(),
                    delivery_id=caller.delivery_id,
                )
            )
        except Unauthorized as exc:
            metrics.INGEST_REQUESTS.labels(kind, "unauthorized").inc()
            return error(401, "unauthorized", str(exc))
        except RejectedPayload as exc:
            metrics.INGEST_REQUESTS.labels(kind, "rejected").inc()
            return rejected(exc)
        _count(kind, result)
        return ORJSONResponse(result)

    endpoint.__name__ = f"ingest_{kind}"
    endpoint.__doc__ = (
        f'Store one item or a batch ({{"{kind}": [...]}}) atomically; '
        "a batch with any invalid item stores nothing and answers 422."
    )
    return endpoint


def _public_url(request: Request) -> str:
    """The URL the sender called: STEWARD_PUBLIC_URL's origin (behind a proxy) with this
    path and query, else the URL as this server saw it."""
    public = services_of(request).settings.public_url
    if not public:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return public.rstrip("/") + request.url.path + query


async def ingest_source(request: Request, name: str) -> ORJSONResponse:
    """Store a vendor's webhook (Segment, CloudEvents): verified its way, mapped, stored once."""
    source = SOURCES.get(name)
    if source is None:
        return error(404, "not_found", f"no source {name!r}; known: {', '.join(sorted(SOURCES))}")
    services = services_of(request)
    label = f"sources/{name}"
    try:
        body = await read_body(request, services.settings.ingest.max_body_bytes)
        _require_utf8(body)
        ctx = Context(services.settings, services.auth, request.method, _public_url(request))
        caller = source.verify(request.headers, body, ctx)
        mapping = getattr(services.settings.sources, name)
        mapped = source.map(load_json(body), mapping, request.headers)
        result = await run_in_threadpool(
            partial(
                ingest.ingest_source,
                services.engine,
                name,
                mapped,
                body=body,
                limits=services.settings.ingest,
                now=services.clock(),
                delivery_id=caller.delivery_id,
            )
        )
    except Unauthorized as exc:
        metrics.INGEST_REQUESTS.labels(label, "unauthorized").inc()
        return error(401, "unauthorized", str(exc))
    except RejectedPayload as exc:
        metrics.INGEST_REQUESTS.labels(label, "rejected").inc()
        return rejected(exc)
    metrics.INGEST_REQUESTS.labels(label, "stored").inc()
    return ORJSONResponse(result)


def _count(kind: Kind, result: dict[str, Any]) -> None:
    if result.get("duplicate_delivery"):
        metrics.INGEST_REQUESTS.labels(kind, "duplicate_delivery").inc()
        return
    metrics.INGEST_REQUESTS.labels(kind, "stored").inc()
    if "accepted" in result:
        metrics.INGEST_ITEMS.labels(kind, "accepted").inc(int(result["accepted"]))
        metrics.INGEST_ITEMS.labels(kind, "duplicate").inc(int(result.get("duplicates", 0)))


def _require_utf8(body: bytes) -> None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RejectedPayload(
            400, f"body is not valid JSON: not UTF-8 at byte {exc.start}"
        ) from None


def _authorize_read(request: Request) -> None:
    services_of(request).auth.authenticate(request.headers, b"", allow_signature=False)


def get_account(request: Request, account_id: str) -> ORJSONResponse:
    """Return the account as stored (placeholders are accounts first seen in usage)."""
    try:
        _authorize_read(request)
    except Unauthorized as exc:
        return error(401, "unauthorized", str(exc))
    with read_connection(services_of(request).engine) as conn:
        account = repository.get_account(conn, account_id)
    if account is None:
        return error(404, "not_found", f"no account with id {account_id!r}")
    return ORJSONResponse(account)


def get_usage(
    request: Request,
    account_id: str,
    metric: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> ORJSONResponse:
    """Return the daily usage per metric (default: the last 90 days up to today, UTC)."""
    try:
        _authorize_read(request)
    except Unauthorized as exc:
        return error(401, "unauthorized", str(exc))
    services = services_of(request)
    end = end or services.clock().date()
    start = start or end - timedelta(days=DEFAULT_USAGE_DAYS - 1)
    if start > end:
        return error(400, "bad_request", "start must not be after end")
    if (end - start).days >= MAX_USAGE_DAYS:
        return error(400, "bad_request", f"at most {MAX_USAGE_DAYS} days per request")
    with read_connection(services.engine) as conn:
        if repository.get_account(conn, account_id) is None:
            return error(404, "not_found", f"no account with id {account_id!r}")
        series = repository.daily_usage(conn, account_id, start=start, end=end, metric=metric)
    return ORJSONResponse(
        {
            "account": account_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "metrics": series,
        }
    )
