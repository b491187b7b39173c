"""The periodic jobs: one registry for the worker's schedule and `simcare jobs`.

Each app's tasks.py declares its jobs with @periodic_job; the worker runs them
on their crontab through Huey, and `simcare jobs run NAME` runs one now, in
this process. Every job is idempotent, so a run twice, late or concurrently
changes nothing the first run did not.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from huey import crontab
from huey.contrib.djhuey import periodic_task

JobFunction = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Job:
    name: str
    function: JobFunction
    schedule: str
    description: str


REGISTRY: dict[str, Job] = {}


def run_job(name: str) -> dict[str, Any]:
    """Run one job now and record the run; re-raises after recording a failure."""
    from simcare.ops.models import JobRun

    job = REGISTRY[name]
    run = JobRun.objects.create(job=name)
    try:
        summary = job.function()
    except Exception as error:
        run.finished_at = timezone.now()
        run.error = f"{type(error).__name__}: {error}"[:300]
        run.summary = {"traceback": traceback.format_exc()[-2000:]}
        run.save(update_fields=["finished_at", "error", "summary"])
        raise
    run.finished_at = timezone.now()
    run.succeeded = True
    run.summary = summary
    run.save(update_fields=["finished_at", "succeeded", "summary"])
    return summary


def periodic_job(
    name: str, *, minute: str = "*", hour: str = "*", description: str
) -> Callable[[JobFunction], JobFunction]:
    def register(function: JobFunction) -> JobFunction:
        REGISTRY[name] = Job(name, function, f"{minute} {hour} * * *", description)

        def scheduled() -> None:
            close_old_connections()
            try:
                run_job(name)
            finally:
                close_old_connections()

        scheduled.__name__ = f"job_{name}"
        periodic_task(crontab(minute=minute, hour=hour), name=f"job_{name}")(scheduled)
        return function

    return register


def discover() -> dict[str, Job]:
    autodiscover_modules("tasks")
    return REGISTRY
