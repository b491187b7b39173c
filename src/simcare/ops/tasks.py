"""Operational jobs: the worker heartbeat that /readyz reads."""

from __future__ import annotations

import os
import socket
from typing import Any

from django.utils import timezone

from simcare.ops.jobs import periodic_job
from simcare.ops.models import WorkerHeartbeat


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def beat() -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker=worker_name(), defaults={"seen_at": timezone.now()}
    )


@periodic_job("heartbeat", description="Records that a worker is alive (read by /readyz).")
def heartbeat() -> dict[str, Any]:
    beat()
    return {"worker": worker_name()}
