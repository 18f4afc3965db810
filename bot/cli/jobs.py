"""`steward run-job`, `steward digest` and `steward outbox`: the worker's jobs by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer

from bot.cli.common import ensure_schema, err, out, settings, setup_logging
from services.container import build_services
from services.jobs import JOBS
from storage import job_runs
from storage import outbox as outbox_store
from storage.db import read_connection, write_transaction
from storage.subscriptions import list_subscriptions

JOB_NAMES = ", ".join(JOBS)
JOB_LIST = "\n\n".join(f"{job.name}: {job.help}" for job in JOBS.values())


class Status(StrEnum):
    """An outbox message's status, as `steward outbox --status` takes it."""

    pending = "pending"
    sent = "sent"
    failed = "failed"


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        err.print(f"--at must be an ISO time such as 2026-11-23T08:30:00+01:00, not {value!r}")
        raise typer.Exit(2) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    """Add the job commands to the CLI."""

    @app.command("run-job", epilog=f"The jobs:\n\n{JOB_LIST}")
    def run_job(
        name: Annotated[str, typer.Argument(help=f"One of: {JOB_NAMES}")],
        at: Annotated[
            str | None,
            typer.Option(help="Run as if it were this time (ISO 8601; default: now)"),
        ] = None,
        log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "warning",
    ) -> None:
        """Run one of the worker's jobs now, once, and say what it did."""
        from bot.worker import build_jobs
        from services.jobs import UnknownJob

        setup_logging(log_level)
        services = build_services(settings())
        ensure_schema(services)
        jobs = build_jobs(services)
        try:
            out.print(f"{name}: {jobs.run(name, _when(at))}", markup=False)
        except UnknownJob as exc:
            err.print(str(exc), markup=False, soft_wrap=True)
            raise typer.Exit(2) from None

    @app.command()
    def digest(
        channel: Annotated[str, typer.Option(help="The subscribed channel (e.g. C0123ABCD)")],
        now: Annotated[
            bool, typer.Option("--now", help="Post today's digest now, whatever the time")
        ] = False,
        log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "warning",
    ) -> None:
        """Post a channel's digest now (once a day: one already sent today is not sent again)."""
        from bot.worker import build_jobs

        setup_logging(log_level)
        services = build_services(settings())
        ensure_schema(services)
        with read_connection(services.engine) as conn:
            subs = [s for s in list_subscriptions(conn, channel=channel) if s.kind != "alerts"]
        if not subs:
            err.print(
                f"Channel {channel} has no digest subscription: type "
                "`/steward subscribe digest` there first (see `/steward help`).",
                markup=False,
            )
            raise typer.Exit(2)
        if not now:
            err.print("Add --now to post it (digests otherwise go out at the channel's time).")
            raise typer.Exit(2)
        jobs = build_jobs(services)
        summary = jobs.post_digests(services.clock(), channel=channel, force=True)
        out.print(summary, markup=False)

    @app.command()
    def outbox(
        status: Annotated[Status | None, typer.Option(help="Only messages in this status")] = None,
        retry: Annotated[
            list[int] | None, typer.Option(help="Send this failed message again (repeatable)")
        ] = None,
        limit: Annotated[int, typer.Option(min=1, help="Messages shown")] = 30,
    ) -> None:
        """Show what Steward pushed or will push, and what failed with its error."""
        services = build_services(settings())
        ensure_schema(services)
        if retry:
            with write_transaction(services.engine) as conn:
                queued = outbox_store.requeue(conn, retry, now=services.clock())
            out.print(
                f"{len(queued)} failed message(s) queued again; the worker sends them within 15 s."
            )
            others = sorted(set(retry) - set(queued))
            if others:
                ids = ", ".join(f"#{i}" for i in others)
                err.print(f"Not failed messages, left as they are: {ids} (see `steward outbox`).")
                raise typer.Exit(1)
            return
        with read_connection(services.engine) as conn:
            counts = outbox_store.counts(conn)
            shown = outbox_store.messages(
                conn, statuses=[status.value] if status else None, limit=limit
            )
            runs = job_runs.all_runs(conn)
        totals = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "empty"
        out.print(f"Outbox: {totals}.")
        for m in shown:
            when = m.sent_at or m.not_before
            verb = {"sent": "sent", "failed": "failed"}.get(m.status, "due")
            out.print(
                f"#{m.id} {m.status:<7} {m.kind} to {m.channel}"
                + (f" about {m.account_id}" if m.account_id else "")
                + f" ({m.period}), {verb} {when:%Y-%m-%d %H:%M} UTC, {m.attempts} tries",
                markup=False,
                soft_wrap=True,
            )
            if m.error:
                out.print(f"    error: {m.error}", markup=False, soft_wrap=True)
        must_open = sorted(
            {
                m.channel.removeprefix("user:")
                for m in shown
                if m.platform == "teams" and (m.error or "").startswith("no_person:")
            }
        )
        if must_open:
            out.print(
                "Must open Steward in Teams once to get their alerts (Apps > Steward > Open): "
                + ", ".join(must_open),
                markup=False,
                soft_wrap=True,
            )
        if any(m.platform == "teams" and m.status != "sent" for m in shown):
            out.print(
                "Teams keeps no history Steward can search: a Teams sender killed between "
                "posting and marking may post that one message once more.",
                markup=False,
                soft_wrap=True,
            )
        for run in runs:
            out.print(
                f"job {run.name}: {run.status} at {run.started_at:%Y-%m-%d %H:%M:%S} UTC "
                f"({run.ok_runs}/{run.runs} ok) {run.summary or ''}",
                markup=False,
            )
