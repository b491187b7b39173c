"""The outbox job: sends queued notifications every minute (see notify/services.py)."""

from __future__ import annotations

from typing import Any

from simcare.notify import services
from simcare.ops.jobs import periodic_job


@periodic_job(
    "outbox",
    minute="*",
    description="Sends queued emails and SMS in the recipient's language; retries with backoff.",
)
def outbox() -> dict[str, Any]:
    return dict(services.send_due())
