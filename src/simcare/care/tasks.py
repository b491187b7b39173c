"""Customer care's periodic jobs."""

from __future__ import annotations

from typing import Any

from simcare.care import chat_services, ticket_services
from simcare.ops.jobs import periodic_job


@periodic_job(
    "chat_retention",
    minute="20",
    hour="3",
    description="Deletes chats closed longer ago than SIMCARE_CHAT_RETENTION_DAYS (730).",
)
def chat_retention() -> dict[str, Any]:
    return {"deleted": chat_services.purge_old_chats()}


@periodic_job(
    "sla",
    description="Marks tickets past their first-response or resolution target (once each) "
    "and tells the team lead.",
)
def sla() -> dict[str, Any]:
    return ticket_services.mark_breaches()
