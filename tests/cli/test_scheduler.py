"""The worker runs what the job registry declares, when it declares it; run-job lists it."""

from __future__ import annotations

from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.worker import build_jobs, scheduler_for
from services.container import Services
from services.jobs import JOBS, Daily, Every
from tests.support.cli import steward


def test_the_worker_schedules_every_triggered_job_of_the_registry(services: Services) -> None:
    scheduler = scheduler_for(build_jobs(services), "05:30", tick=60)
    scheduled = {job.id: job.trigger for job in scheduler.get_jobs()}
    assert set(scheduled) == {name for name, job in JOBS.items() if job.trigger is not None}
    assert "tiers" not in scheduled  # run by the snapshot, or by hand
    for name, trigger in scheduled.items():
        declared = JOBS[name].trigger
        if isinstance(declared, Every):
            assert isinstance(trigger, IntervalTrigger)
            assert trigger.interval.total_seconds() == 60 // declared.per_tick
        else:
            assert isinstance(declared, Daily)
            assert isinstance(trigger, CronTrigger)
            fields = {f.name: str(f) for f in trigger.fields}
            assert fields["hour"] == str((5 + declared.hours_after) % 24)
            assert fields["minute"] == "30"


def test_run_job_lists_the_registry_and_refuses_an_unknown_job(tmp_path: Path) -> None:
    shown = steward("run-job", "--help", cwd=tmp_path)
    assert shown.returncode == 0
    for job in JOBS.values():
        assert f"{job.name}: {job.help}" in " ".join(shown.stdout.split())
    refused = steward("run-job", "bogus", cwd=tmp_path)
    assert refused.returncode == 2
    assert f"the jobs are {', '.join(JOBS)}" in " ".join(refused.stderr.split())
