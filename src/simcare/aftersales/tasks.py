"""Periodic jobs of after-sales (see ops/jobs.py)."""

from __future__ import annotations

from typing import Any

from simcare.aftersales import services
from simcare.ops.jobs import periodic_job


@periodic_job(
    "review_requests",
    minute="20",
    hour="*",
    description="Ask for a review a few days after each fulfilled order (once per order).",
)
def review_requests() -> dict[str, Any]:
    return services.queue_review_requests()
