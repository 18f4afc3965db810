"""`steward worker`: the scheduler process that runs the registered jobs of services/jobs.py.

APScheduler 3 runs each job on its trigger in this process, one run of a job at a
time (a run that overlaps the next is skipped, missed runs are coalesced). Two worker
processes may run side by side: the outbox keys and the alert state, not the
scheduler, make every message go out once.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import UTC
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from services.container import Services
from services.delivery import Sender
from services.jobs import REGISTRY, Daily, Every, Jobs

log = logging.getLogger(__name__)


def senders(services: Services) -> dict[str, Sender]:
    """The platforms this process can post to (Slack and Teams when configured)."""
    settings = services.settings
    found: dict[str, Sender] = {}
    if settings.slack_oauth and settings.encryption_keys:
        from bot.adapters.slack.app import installation_store
        from bot.adapters.slack.outbox import SlackOutbox

        found["slack"] = SlackOutbox.for_workspaces(
            services.engine,
            installation_store(services),
            settings.slack_api_url,
            frozenset(settings.slack_shared_channels),
        )
    elif settings.slack_bot_token is not None:
        from bot.adapters.slack.outbox import SlackOutbox

        found["slack"] = SlackOutbox.from_settings(
            services.engine,
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_url,
            frozenset(settings.slack_shared_channels),
        )
    if "slack" in found:
        found["slack"].user_groups = frozenset(settings.slack_user_groups)  # type: ignore[attr-defined]
    if settings.teams_on:
        from bot.adapters.teams.connector import Connector
        from bot.adapters.teams.outbox import TeamsOutbox

        found["teams"] = TeamsOutbox(
            services.engine,
            Connector.from_settings(settings, services.engine),
            frozenset(settings.teams_shared_conversations),
        )
    return found


def build_jobs(services: Services) -> Jobs:
    """The jobs, with a sender for every configured platform."""
    return Jobs(services, senders(services))


def scheduler_for(jobs: Jobs, snapshot_at: str, tick: int = 60) -> BlockingScheduler:
    """A scheduler with every job on its trigger (times in UTC; ``tick`` in seconds)."""
    scheduler = BlockingScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    hour, minute = (int(part) for part in snapshot_at.split(":"))
    frequent: list[tuple[str, BaseTrigger]] = []
    daily: list[tuple[str, BaseTrigger]] = []
    for job in REGISTRY:
        if isinstance(job.trigger, Every):
            seconds = max(1, tick // job.trigger.per_tick)
            frequent.append((job.name, IntervalTrigger(seconds=seconds)))
        elif isinstance(job.trigger, Daily):
            at = (hour + job.trigger.hours_after) % 24
            daily.append((job.name, CronTrigger(hour=at, minute=minute, timezone=UTC)))
    for name, trigger in frequent + daily:  # the order the worker logs them in at start
        scheduler.add_job(_logged(jobs, name), trigger, id=name, name=name)
    return scheduler


def _logged(jobs: Jobs, name: str) -> Callable[[], None]:
    def run() -> None:
        try:
            jobs.run(name)
        except Exception:
            log.exception("job %s failed; it runs again on its next trigger", name)

    return run


def run_worker(services: Services) -> None:
    """Run the scheduler until SIGTERM or SIGINT; a run in progress finishes first."""
    jobs = build_jobs(services)
    if not jobs.senders:
        log.warning("no chat platform configured: messages wait in the outbox (`steward outbox`)")
    settings = services.settings
    scheduler = scheduler_for(jobs, settings.snapshot_at, settings.worker_tick_seconds)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the jobs running now", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for job in scheduler.get_jobs():
        log.info("job %s: %s", job.id, job.trigger)
    _logged(jobs, "alerts")()  # a first pass at once rather than a minute from now
    scheduler.start()
