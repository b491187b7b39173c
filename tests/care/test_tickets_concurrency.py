"""The `sla` job racing itself on PostgreSQL: each breach stamped once, the lead told once;
two ratings of one closed ticket at once store one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from simcare.accounts.models import Role, User
from simcare.care import ticket_services
from simcare.care.models import SatisfactionRating, Team, Ticket
from simcare.care.ticket_errors import AlreadyRated
from simcare.notify.models import Notification
from tests import concurrency

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not settings.DATABASE_IS_POSTGRES, reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]

TORONTO = ZoneInfo("America/Toronto")
CREATED = dt.datetime(2026, 12, 1, 10, tzinfo=TORONTO)


def test_four_sla_sweeps_at_once_stamp_and_notify_each_breach_once(
    team: Team, make_staff: Callable[..., User]
) -> None:
    team.lead = make_staff(Role.ADMIN, email="lead@example.com")
    team.save(update_fields=["lead"])
    tickets = [
        ticket_services.create_ticket(
            source="web", subject=f"t{n}", body="?", actor=None, priority="vip", now=CREATED
        )
        for n in range(5)
    ]
    later = CREATED + dt.timedelta(hours=5)

    results = concurrency.at_once(lambda _index: ticket_services.mark_breaches(now=later), 4)

    assert not [result for result in results if isinstance(result, Exception)]
    assert sum(result["first_response"] for result in results) == 5
    assert sum(result["resolution"] for result in results) == 5
    assert (
        Ticket.objects.filter(
            pk__in=[ticket.pk for ticket in tickets],
            first_response_breached_at=later,
            resolution_breached_at=later,
        ).count()
        == 5
    )
    assert Notification.objects.filter(template="care.sla_breach").count() == 10


def test_two_ratings_of_one_ticket_at_once_store_one(
    team: Team, make_staff: Callable[..., User]
) -> None:
    agent = make_staff(Role.AGENT)
    ticket = ticket_services.create_ticket(
        source="web", subject="x", body="?", actor=None, now=CREATED
    )
    ticket_services.close(ticket, actor=agent)

    results: list[Any] = concurrency.at_once(
        lambda index: ticket_services.rate_ticket(ticket, score=index + 4), 2
    )

    assert sum(isinstance(result, AlreadyRated) for result in results) == 1
    assert SatisfactionRating.objects.filter(ticket=ticket).count() == 1
