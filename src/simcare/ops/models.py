"""Operational state: worker heartbeats and the record of job runs."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """The last sign of life of one worker process, e.g. "host-a:4121" at 10:02:03."""

    worker = models.CharField(max_length=120, unique=True)
    seen_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.worker} @ {self.seen_at:%H:%M:%S}"


class JobRun(models.Model):
    """One run of a periodic job, e.g. lifecycle at 10:00, 1,204 lines moved, 0.8 s."""

    job = models.CharField(max_length=40, db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    summary = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.job} {self.started_at:%Y-%m-%d %H:%M:%S}"
