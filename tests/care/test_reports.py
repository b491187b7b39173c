"""The care reports with known data: medians and p90 of chat and ticket times, breaches and
CSAT by agent, team and language, through the console page; who may see it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from simcare.accounts.models import Role, User
from simcare.care import report_queries, reports, ticket_services
from simcare.care.models import (
    Conversation,
    ConversationStatus,
    Message,
    SatisfactionRating,
    Team,
    Ticket,
)
from tests.conftest import signed_in_client

TORONTO = ZoneInfo("America/Toronto")
DAY = dt.datetime(2026, 12, 1, 10, tzinfo=TORONTO)  # a Tuesday, the team open 09-17


def test_median_and_nearest_rank_p90() -> None:
    assert reports.median([4, 1, 3, 2]) == 2.5
    assert reports.percentile(list(range(1, 11)), 0.9) == 9
    assert reports.percentile([7], 0.9) == 7
    assert reports.median([]) is None
    assert reports.percentile([], 0.9) is None
    assert reports.mean([5, 4]) == 4.5


def _chat(agent: User, team: Team, language: str, first_after: int, closed_after: int) -> None:
    chat = Conversation.objects.create(
        visitor_key=f"v{Conversation.objects.count()}",
        status=ConversationStatus.CLOSED,
        agent=agent,
        team=team,
        language=language,
        queued_at=DAY,
        closed_at=DAY + dt.timedelta(minutes=closed_after),
    )
    Message.objects.create(
        conversation=chat,
        sender="agent",
        author=agent,
        body="hi",
        created_at=DAY + dt.timedelta(minutes=first_after),
    )
    Message.objects.create(
        conversation=chat,
        sender="agent",
        author=agent,
        body="more",
        created_at=DAY + dt.timedelta(minutes=first_after + 1),
    )
    SatisfactionRating.objects.create(
        conversation=chat,
        agent=agent,
        team=team,
        language=language,
        score=5 if language == "en" else 3,
        created_at=DAY + dt.timedelta(minutes=closed_after),
    )


@pytest.fixture
def known_data(team: Team, make_staff: Callable[..., User]) -> dict[str, User]:
    mei = make_staff(Role.AGENT, username="Mei")
    luc = make_staff(Role.AGENT, username="Luc")
    for first, closed in ((1, 10), (2, 20), (3, 30), (10, 40)):
        _chat(mei, team, "en", first, closed)
    _chat(luc, team, "fr", 4, 8)
    # tickets: first responses after 30 and 150 business minutes (one across the night)
    fast = ticket_services.create_ticket(
        source="web", subject="a", body="a", actor=None, now=DAY, priority="high"
    )
    ticket_services.assign(fast, actor=mei, assignee=mei)
    ticket_services.reply(
        fast, actor=mei, body="ok", sender="agent", now=DAY + dt.timedelta(minutes=30)
    )
    ticket_services.close(fast, actor=mei, now=DAY + dt.timedelta(minutes=60))
    slow = ticket_services.create_ticket(
        source="web", subject="b", body="b", actor=None, now=DAY.replace(hour=16), priority="high"
    )
    ticket_services.assign(slow, actor=mei, assignee=mei)
    ticket_services.reply(
        slow,
        actor=mei,
        body="ok",
        sender="agent",
        now=DAY.replace(hour=10) + dt.timedelta(days=1, minutes=30),
    )
    Ticket.objects.filter(pk=slow.pk).update(first_response_breached_at=DAY.replace(hour=17))
    return {"mei": mei, "luc": luc}


def test_the_report_groups_times_breaches_and_csat(known_data: dict[str, User]) -> None:
    report = report_queries.care_report(DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=2))

    by_agent = {row["label"]: row for row in report["agent"]}
    mei = by_agent["Mei"]
    assert mei["chat_first_median"] == 2.5
    assert mei["chat_first_p90"] == 10
    assert mei["chat_resolution_median"] == 25
    assert mei["chat_resolution_p90"] == 40
    # 30 business minutes, and 16:00 → 10:30 the next day = 60 + 90 = 150
    assert mei["ticket_first_median"] == 90
    assert mei["ticket_first_p90"] == 150
    assert mei["ticket_resolution_median"] == 60
    assert mei["breaches"] == 1
    assert (mei["csat_average"], mei["csat_count"]) == (5, 4)
    assert by_agent["Luc"]["chat_first_median"] == 4
    by_language = {row["label"]: row for row in report["language"]}
    assert (by_language["fr"]["csat_average"], by_language["en"]["csat_count"]) == (3, 4)
    by_team = {row["label"]: row for row in report["team"]}
    assert by_team["Front line"]["csat_average"] == pytest.approx(4.6)
    assert by_team["Front line"]["csat_count"] == 5


def test_a_range_without_data_is_empty(known_data: dict[str, User]) -> None:
    report = report_queries.care_report(DAY + dt.timedelta(days=5), DAY + dt.timedelta(days=6))
    assert report == {"agent": [], "team": [], "language": []}


def test_the_page_shows_tables_and_bars_to_admins_and_leads_only(
    known_data: dict[str, User], make_staff: Callable[..., User], team: Team
) -> None:
    admin = make_staff(Role.ADMIN)
    lead = make_staff(Role.AGENT)
    team.lead = lead
    team.save(update_fields=["lead"])
    query: dict[str, Any] = {"start": "2026-11-30", "end": "2026-12-03"}

    page = signed_in_client(admin).get(reverse("console:reports"), query)
    lead_page = signed_in_client(lead).get(reverse("console:reports"), query)
    agent_page = signed_in_client(known_data["luc"]).get(reverse("console:reports"), query)
    bad_range = signed_in_client(admin).get(
        reverse("console:reports"), {"start": "2026-12-09", "end": "2026-12-01"}
    )

    html = page.content.decode()
    assert page.status_code == lead_page.status_code == 200
    assert agent_page.status_code == 403
    assert '<tr data-label="Mei">' in html
    assert "<svg" in html
    assert "<rect" in html
    assert "2.5 / 10.0" in html  # Mei's chat first response, median / p90
    assert bad_range.status_code == 200
    assert "Choose a start date before the end date" in bad_range.content.decode()
