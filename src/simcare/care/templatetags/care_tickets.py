"""Template helpers of the tickets work: the agent's own CSAT on the console home."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.db.models import Avg, Count
from django.utils import timezone

from simcare.care.models import SatisfactionRating

register = template.Library()

CSAT_DAYS = 30


@register.simple_tag
def agent_csat(user: Any) -> dict[str, Any]:
    """{"average": 4.5 | None, "count": 12} of the ratings of `user`'s chats and tickets in
    the last 30 days."""
    since = timezone.now() - dt.timedelta(days=CSAT_DAYS)
    row = SatisfactionRating.objects.filter(agent_id=user.pk, created_at__gte=since).aggregate(
        average=Avg("score"), count=Count("id")
    )
    return {"average": row["average"], "count": row["count"]}
