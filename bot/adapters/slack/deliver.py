"""Answer one command or click on Slack: check access, run the handler, post, add the chart."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.charts import render_png
from bot.adapters.slack.facts import SlackFacts, Unverified, person_of
from bot.adapters.slack.render import SlackImage, action_of, to_message
from core import metrics
from core.messages import Card, Chart
from handlers.chat.access import Decision, decide, policy_from
from handlers.chat.actions import ActionRequest, ActionResult, handle_action
from handlers.chat.commands import handle
from handlers.chat.context import CommandRequest, Person
from services.container import Services
from storage.replies import Reply

log = logging.getLogger(__name__)

CHART_WAITS = (0.0, 1.0, 3.0)  # file processing is asynchronous on Slack's side
DM_TTL_SECONDS = 24 * 3600.0  # a person's DM channel with Steward, kept a day
WEBHOOK_LOG = logging.getLogger("steward.slack_sdk.webhook")
WEBHOOK_LOG.setLevel(logging.WARNING)  # its INFO and DEBUG lines carry the response_url
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


class ResponseFailed(Exception):
    """Slack refused what was posted to a response_url."""


class NotDeliveredYet(ResponseFailed):
    """Slack could not take the answer just now (429, 5xx, no connection): nothing was
    shown, and the same answer can be posted again while the response_url lives."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What to post: a card, to whom, replacing what, and who shared it."""

    card: Card
    in_channel: bool = False
    replace_original: bool = False
    delete_original: bool = False
    shared_by: str | None = None


class Delivery:
    """Turn a pending reply into messages on Slack."""

    def __init__(
        self, services: Services, client: AsyncWebClient, retry_handlers: Callable[[], list[Any]]
    ) -> None:
        self.services = services
        self.client = client
        self.facts = SlackFacts(client)
        self._retry_handlers = retry_handlers
        self._dms: dict[str, tuple[str, float]] = {}  # user id -> (DM channel, when opened)
        settings = services.settings
        self.config = settings.scoring_config()  # validated at start; parsed once
        self.policy = policy_from(
            settings.slack_shared_channels,
            settings.slack_command_channels,
            settings.slack_user_groups,
        )

    async def deliver(self, reply: Reply) -> tuple[str, str | None]:
        """Answer; return the status to record ("done", "failed", or "retry" when Slack
        could not take the answer just now) and the error, if any."""
        url = str(reply.payload.get("response_url") or "")
        try:
            outgoing = await self._compose(reply)
            await self._send(url, outgoing, reply)
        except NotDeliveredYet as exc:
            return "retry", str(exc)
        except ResponseFailed as exc:
            return "failed", str(exc)
        except Exception as exc:
            log.exception("answering slack %s %s failed", reply.kind, reply.id)
            await self._apologise(url, reply)
            return "failed", f"{type(exc).__name__}: {exc}"
        return "done", None

    async def _compose(self, reply: Reply) -> Outgoing:
        p = reply.payload
        try:
            decision, person = await self._decide(p)
        except Unverified:
            text = "Steward could not confirm with Slack who you are, so it shows no account data."
            return Outgoing(Card(title="Not answered", summary=text))
        if not decision.allowed:
            return Outgoing(Card(title="Not answered here", summary=decision.reason))
        ctx = self.services.chat_context(decision, self.config)
        if reply.kind == "command":
            request = await self._command_request(p, person)
            with metrics.command_timer("slack", request.command):
                return Outgoing(await asyncio.to_thread(handle, request, ctx))
        message = (p["channel_id"], p["message_ts"]) if p.get("message_ts") else None
        action = ActionRequest(action_of(p["action"]) or "", p["value"], person, "slack", message)
        with metrics.command_timer("slack", f"button:{action.action}"):
            result: ActionResult = await asyncio.to_thread(handle_action, action, ctx)
        return _outgoing(result, p.get("user_name") or p["user_id"])

    async def _decide(self, p: dict[str, Any] | Any) -> tuple[Decision, Person]:
        # Who is external is judged against Steward's own team (auth.test), never p["team_id"].
        place, bot_dm = await self.facts.place(p["channel_id"])
        asker, person = await self.facts.asker(p["user_id"], self.policy.user_groups)
        return decide(place, asker, self.policy, bot_dm=bot_dm), person

    async def _command_request(self, p: Any, person: Person) -> CommandRequest:
        text = str(p.get("text") or "")
        mentioned = []
        for user_id in MENTION.findall(text):
            mentioned.append(person_of(user_id, await self.facts.user(user_id) or {}))
        text = MENTION.sub("", text).strip()
        return CommandRequest(
            str(p["command"]).lstrip("/"),
            text,
            person,
            mentioned=tuple(mentioned),
            channel=str(p["channel_id"]),
            platform="slack",
            direct=str(p["channel_id"]).startswith("D"),  # Slack's direct message ids
        )

    async def _send(self, url: str, out: Outgoing, reply: Reply) -> None:
        chart = out.card.chart if self.services.settings.slack_charts else None
        if out.in_channel:
            image, note = (
                await self._upload(chart, reply.payload["channel_id"]) if chart else (None, None)
            )
            shared = f"Shared by {out.shared_by}" if out.shared_by else None
            context = ". ".join(filter(None, (shared, note))) or None
            try:
                await self._post(url, out, image=image, context=context)
            except ResponseFailed:
                if image is None:
                    raise
                log.warning("shared answer %s refused with its chart; sent without", reply.id)
                await self._post(url, out, context=shared)
            if out.delete_original:
                await self._post_raw(url, {"delete_original": True})
            return
        await self._post(url, out)
        if chart is not None:
            try:  # the answer is shown: trouble with its chart must not post it again
                await self._add_chart(url, out, chart, reply)
            except ResponseFailed as exc:
                log.warning("chart for %s not shown: %s", reply.id, exc)

    async def _add_chart(self, url: str, out: Outgoing, chart: Chart, reply: Reply) -> None:
        """Upload the chart to the asker's DM with Steward and show it in the answer."""
        dm = await self._dm(reply.payload["user_id"])
        image, note = await self._upload(chart, dm) if dm else (None, "no direct message")
        if image is None:
            log.warning("chart for %s not shown: %s", reply.id, note)
            return
        with_chart = Outgoing(out.card, replace_original=True)
        for wait in CHART_WAITS:
            await asyncio.sleep(wait)
            try:
                await self._post(url, with_chart, image=image)
                return
            except ResponseFailed as exc:  # Slack may still be processing the upload
                log.info("chart for %s not accepted yet: %s", reply.id, exc)
        log.warning("chart for %s refused by Slack; the answer stands without it", reply.id)
        note = "Chart: in your direct messages with Steward."
        await self._post(url, with_chart, context=note)

    async def _dm(self, user_id: str) -> str | None:
        """The asker's direct message with Steward: opened once a day per person (Slack
        rate-limits conversations.open; the channel id does not change)."""
        known = self._dms.get(user_id)
        if known is not None and time.monotonic() - known[1] < DM_TTL_SECONDS:
            return known[0]
        try:
            response = await self.client.conversations_open(users=user_id)
        except SlackApiError as exc:
            log.warning("conversations.open failed: %s", exc.response.get("error"))
            return None
        channel = str((response.get("channel") or {}).get("id") or "") or None
        if channel is not None:
            self._dms[user_id] = (channel, time.monotonic())
        return channel

    async def _upload(self, chart: Chart, channel: str) -> tuple[SlackImage | None, str | None]:
        png = await asyncio.to_thread(render_png, chart)
        try:
            response = await self.client.files_upload_v2(
                content=png, filename=chart.filename, title=chart.title, channel=channel
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error", "error"))
            if error == "not_in_channel":
                return None, "Invite Steward to this channel to share charts."
            return None, f"Chart not shown (Slack: {error})."
        files = response.get("files") or [response.get("file") or {}]
        file_id = str(files[0].get("id") or "")
        return (SlackImage(file_id=file_id), None) if file_id else (None, "Chart not shown.")

    async def _post(
        self,
        url: str,
        out: Outgoing,
        *,
        image: SlackImage | None = None,
        context: str | None = None,
    ) -> None:
        body: dict[str, Any] = to_message(out.card, image=image, context=context)
        body["response_type"] = "in_channel" if out.in_channel else "ephemeral"
        body["replace_original"] = out.replace_original
        await self._post_raw(url, body)

    async def _post_raw(self, url: str, body: dict[str, Any]) -> None:
        if not url:
            raise ResponseFailed("no response_url to answer to")
        webhook = AsyncWebhookClient(
            url,
            retry_handlers=self._retry_handlers(),
            timeout=10,
            logger=WEBHOOK_LOG,
        )
        try:
            response = await webhook.send_dict(body)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise NotDeliveredYet(f"response_url unreachable: {type(exc).__name__}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise NotDeliveredYet(f"response_url answered {response.status_code}")
        if response.status_code != 200:
            raise ResponseFailed(
                f"response_url answered {response.status_code}: {response.body[:200]}"
            )

    async def _apologise(self, url: str, reply: Reply) -> None:
        card = Card(
            title="Steward could not answer",
            summary=(
                "Something went wrong on Steward's side; it is logged under reference "
                f"{reply.id[:8]}. Please try again in a minute."
            ),
        )
        try:
            await self._post(url, Outgoing(card))
        except Exception:
            log.exception("could not tell the user about the failure of %s", reply.id)


def _outgoing(result: ActionResult, user_name: str) -> Outgoing:
    return Outgoing(
        result.card,
        in_channel=result.visibility == "channel",
        replace_original=result.replace_original,
        delete_original=result.delete_original,
        shared_by=user_name if result.shared_by else None,
    )
