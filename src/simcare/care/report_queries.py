"""The care reports: response and resolution times, SLA breaches and CSAT over a date
range, by agent, team and language. Rows are read with one bounded query per kind and
the percentiles computed in Python (care/reports.py).

Chats are timed on the calendar clock from queued_at (the visitor asked for a person):
first response = the first agent message, resolution = closed_at. Tickets are timed in
the team's business minutes from created_at: first response = first_response_at,
resolution = resolved_at, less the minutes waiting on the customer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Min, Q

from simcare.care import chat_queries, hours, reports
from simcare.care.models import (
    Conversation,
    SatisfactionRating,
    Sender,
    Team,
    Ticket,
)

# Rows read per kind at most: a range larger than this is reported on its newest rows.
ROW_LIMIT = 20_000
DIMENSIONS = ("agent", "team", "language")


def may_see_reports(user: Any) -> bool:
    """Care admins and team leads."""
    if chat_queries.is_care_admin(user):
        return True
    return bool(chat_queries.is_care_agent(user) and Team.objects.filter(lead_id=user.pk).exists())


@dataclass
class Group:
    label: str
    chat_first: list[float] = field(default_factory=list)
    chat_resolution: list[float] = field(default_factory=list)
    ticket_first: list[float] = field(default_factory=list)
    ticket_resolution: list[float] = field(default_factory=list)
    breaches: int = 0
    scores: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "chat_first_median": reports.median(self.chat_first),
            "chat_first_p90": reports.percentile(self.chat_first, 0.9),
            "chat_resolution_median": reports.median(self.chat_resolution),
            "chat_resolution_p90": reports.percentile(self.chat_resolution, 0.9),
            "ticket_first_median": reports.median(self.ticket_first),
            "ticket_first_p90": reports.percentile(self.ticket_first, 0.9),
            "ticket_resolution_median": reports.median(self.ticket_resolution),
            "ticket_resolution_p90": reports.percentile(self.ticket_resolution, 0.9),
            "breaches": self.breaches,
            "csat_average": reports.mean(self.scores),
            "csat_count": len(self.scores),
        }


def _minutes(start: dt.datetime, end: dt.datetime) -> float:
    return (end - start).total_seconds() / 60


def _label(user: Any) -> str:
    if user is None:
        return "—"
    return str(user.get_full_name() or user.username)


def care_report(start: dt.datetime, end: dt.datetime) -> dict[str, list[dict[str, Any]]]:
    """{"agent": [...], "team": [...], "language": [...]} of Group summaries, for chats
    queued, tickets created and ratings given in [start, end)."""
    groups: dict[str, dict[str, Group]] = {name: {} for name in DIMENSIONS}

    def add(keys: dict[str, str], series: str, value: float) -> None:
        for dimension, label in keys.items():
            group = groups[dimension].setdefault(label, Group(label))
            if series == "breaches":
                group.breaches += int(value)
            else:
                getattr(group, series).append(value)

    chats = (
        Conversation.objects.filter(queued_at__gte=start, queued_at__lt=end)
        .select_related("agent", "team")
        .annotate(
            first_agent_at=Min("messages__created_at", filter=Q(messages__sender=Sender.AGENT))
        )
        .order_by("-queued_at")[:ROW_LIMIT]
    )
    for chat in chats:
        keys = {
            "agent": _label(chat.agent),
            "team": str(chat.team or "—"),
            "language": chat.language,
        }
        queued = chat.queued_at
        if queued is None:
            continue
        if chat.first_agent_at is not None:
            value = _minutes(queued, chat.first_agent_at)
            add(keys, "chat_first", value)
        if chat.closed_at is not None:
            value = _minutes(queued, chat.closed_at)
            add(keys, "chat_resolution", value)

    schedules: dict[int | None, hours.Schedule] = {}

    def schedule_of(team: Team | None) -> hours.Schedule:
        key = team.pk if team is not None else None
        if key not in schedules:
            schedules[key] = (
                chat_queries.schedule_for(team)
                if team is not None
                else hours.Schedule(time_zone="America/Toronto", weekly={}, province=None)
            )
        return schedules[key]

    tickets = (
        Ticket.objects.filter(created_at__gte=start, created_at__lt=end)
        .select_related("assignee", "team")
        .prefetch_related("team__hours")
        .order_by("-created_at")[:ROW_LIMIT]
    )
    for ticket in tickets:
        keys = {
            "agent": _label(ticket.assignee),
            "team": str(ticket.team or "—"),
            "language": ticket.language,
        }
        schedule = schedule_of(ticket.team)
        if ticket.first_response_at is not None:
            value = float(
                hours.business_minutes_between(
                    schedule, ticket.created_at, ticket.first_response_at
                )
            )
            add(keys, "ticket_first", value)
        if ticket.resolved_at is not None:
            value = float(
                max(
                    0,
                    hours.business_minutes_between(schedule, ticket.created_at, ticket.resolved_at)
                    - ticket.paused_business_minutes,
                )
            )
            add(keys, "ticket_resolution", value)
        count = int(ticket.first_response_breached_at is not None) + int(
            ticket.resolution_breached_at is not None
        )
        if count:
            add(keys, "breaches", count)

    ratings = (
        SatisfactionRating.objects.filter(created_at__gte=start, created_at__lt=end)
        .select_related("agent", "team")
        .order_by("-created_at")[:ROW_LIMIT]
    )
    for rating in ratings:
        keys = {
            "agent": _label(rating.agent),
            "team": str(rating.team or "—"),
            "language": rating.language,
        }
        add(keys, "scores", float(rating.score))

    return {
        dimension: [groups[dimension][label].summary() for label in sorted(groups[dimension])]
        for dimension in DIMENSIONS
    }
