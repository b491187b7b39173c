"""The reseller webhooks' periodic job: every minute, the deliveries whose time has come."""

from __future__ import annotations

from typing import Any

from simcare.ops.jobs import periodic_job
from simcare.partners import services


@periodic_job(
    "webhooks",
    minute="*",
    description="Sends due reseller webhooks, signed; retries with backoff for 24 hours.",
)
def webhooks() -> dict[str, Any]:
    return dict(services.deliver_due_webhooks())
