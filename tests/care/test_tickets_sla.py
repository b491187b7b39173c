"""Tickets and their SLA: due times in business hours (weekends, holidays), the wait on the
customer, the `sla` job stamping each breach once and telling the team lead once."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from simcare.accounts.models import Role, Subscriber, User
from simcare.care import chat_services, hours, ticket_services
from simcare.care.models import (
    Conversation,
    SlaPolicy,
    Team,
    Ticket,
    TicketMessage,
    TicketStatus,
)
from simcare.care.ticket_errors import TicketClosed, TicketRefused
from simcare.notify.models import Notification

TORONTO = ZoneInfo("America/Toronto")


def toronto(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TORONTO)  # type: ignore[misc]


def web_ticket(**fields: Any) -> Ticket:
    defaults: dict[str, Any] = {
        "source": "web",
        "subject": "Roaming in France",
        "body": "Does my plan work in Paris?",
        "actor": None,
        "requester_name": "Ana",
        "requester_email": "ana@example.com",
    }
    defaults.update(fields)
    return ticket_services.create_ticket(**defaults)


def run_sla_job() -> None:
    call_command("jobs", "run", "sla", stdout=io.StringIO())


def test_the_migration_seeds_the_default_policies(db: Any) -> None:
    rows = {
        row.priority: (
            row.first_response_minutes,
            row.resolution_minutes,
            row.resolution_business_days,
        )
        for row in SlaPolicy.objects.all()
    }
    assert rows == {
        "vip": (15, 240, 0),
        "high": (60, 480, 0),
        "normal": (240, 0, 2),
        "low": (480, 0, 5),
    }


def test_a_new_ticket_stores_its_due_times_in_business_hours(team: Team) -> None:
    # given Tuesday 10:00 in Toronto, a normal ticket: 4 business hours, 2 business days
    ticket = web_ticket(now=toronto(2026, 12, 1, 10))

    assert ticket.status == TicketStatus.NEW
    assert ticket.number == ticket.pk
    assert ticket.team == team
    assert ticket.priority == "normal"
    assert ticket.first_response_due_at == toronto(2026, 12, 1, 14)
    assert ticket.resolution_due_at == toronto(2026, 12, 3, 10)
    message = TicketMessage.objects.get(ticket=ticket)
    assert (message.sender, message.body) == ("customer", "Does my plan work in Paris?")


def test_due_times_skip_the_weekend(team: Team) -> None:
    # Friday 16:00: one hour on Friday, the next three on Monday morning
    ticket = web_ticket(now=toronto(2026, 12, 4, 16))

    assert ticket.first_response_due_at == toronto(2026, 12, 7, 12)
    # 2 business days = 960 minutes: 60 Friday, 480 Monday, 420 Tuesday
    assert ticket.resolution_due_at == toronto(2026, 12, 8, 16)


def test_due_times_skip_christmas_boxing_day_and_its_observed_monday(team: Team) -> None:
    # Thursday 24 December 16:30, VIP: 15 min, 4 h. Closed 25 (Fri) to 28 (Boxing Day observed).
    ticket = web_ticket(priority="vip", now=toronto(2026, 12, 24, 16, 30))

    assert ticket.first_response_due_at == toronto(2026, 12, 24, 16, 45)
    assert ticket.resolution_due_at == toronto(2026, 12, 29, 12, 30)


def test_a_vip_subscriber_gets_a_vip_ticket_and_policies_are_editable(
    team: Team, make_subscriber: Callable[..., Subscriber]
) -> None:
    subscriber = make_subscriber()
    subscriber.is_vip = True
    subscriber.save(update_fields=["is_vip"])
    SlaPolicy.objects.filter(priority="vip").update(first_response_minutes=30)

    ticket = web_ticket(user=subscriber.user, now=toronto(2026, 12, 1, 10))

    assert ticket.priority == "vip"
    assert ticket.subscriber == subscriber
    assert ticket.first_response_due_at == toronto(2026, 12, 1, 10, 30)


def test_a_priority_change_moves_the_due_times(team: Team, make_staff: Callable[..., User]) -> None:
    agent = make_staff(Role.AGENT)
    ticket = web_ticket(now=toronto(2026, 12, 1, 10))

    ticket = ticket_services.set_priority(ticket, actor=agent, priority="high")

    assert ticket.first_response_due_at == toronto(2026, 12, 1, 11)
    assert ticket.resolution_due_at == toronto(2026, 12, 2, 10)  # 8 business hours


def test_time_waiting_on_the_customer_does_not_count(
    team: Team, make_staff: Callable[..., User]
) -> None:
    agent = make_staff(Role.AGENT)
    ticket = web_ticket(now=toronto(2026, 12, 1, 10))
    ticket_services.reply(
        ticket, actor=agent, body="Which date?", sender="agent", now=toronto(2026, 12, 1, 10, 30)
    )
    ticket_services.set_status(
        ticket, actor=agent, status="pending_customer", now=toronto(2026, 12, 1, 11)
    )

    # when the customer answers a business day later (Tuesday 11:00 → Wednesday 11:00)
    ticket_services.reply(
        ticket, actor=None, body="The 20th", sender="customer", now=toronto(2026, 12, 2, 11)
    )

    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.first_response_at == toronto(2026, 12, 1, 10, 30)
    assert ticket.pending_since is None
    assert ticket.paused_business_minutes == 480
    assert ticket.resolution_due_at == toronto(2026, 12, 4, 10)  # Thursday 10:00 + 1 day


def test_the_sla_job_marks_each_breach_once_and_tells_the_lead_once(
    team: Team, make_staff: Callable[..., User]
) -> None:
    lead = make_staff(Role.ADMIN, email="lead@example.com")
    team.lead = lead
    team.save(update_fields=["lead"])
    agent = make_staff(Role.AGENT)
    late = web_ticket(priority="vip", now=toronto(2026, 12, 1, 10))
    waiting = web_ticket(priority="vip", now=toronto(2026, 12, 1, 10))
    ticket_services.reply(
        waiting, actor=agent, body="?", sender="agent", now=toronto(2026, 12, 1, 10, 5)
    )
    ticket_services.set_status(
        waiting, actor=agent, status="pending_customer", now=toronto(2026, 12, 1, 10, 6)
    )
    answered = web_ticket(priority="vip", now=toronto(2026, 12, 1, 10))
    ticket_services.reply(
        answered, actor=agent, body="Yes", sender="agent", now=toronto(2026, 12, 1, 10, 10)
    )

    # when the job runs at 10:16 and again at 10:17
    with time_machine.travel(toronto(2026, 12, 1, 10, 16), tick=False):
        run_sla_job()
    with time_machine.travel(toronto(2026, 12, 1, 10, 17), tick=False):
        run_sla_job()

    late.refresh_from_db()
    waiting.refresh_from_db()
    answered.refresh_from_db()
    assert late.first_response_breached_at == toronto(2026, 12, 1, 10, 16)
    assert late.resolution_breached_at is None
    assert waiting.first_response_breached_at is None
    assert answered.first_response_breached_at is None
    notes = list(Notification.objects.filter(template="care.sla_breach"))
    assert [(note.recipient, note.channel, note.context["kind"]) for note in notes] == [
        (lead, "email", "first_response")
    ]
    assert notes[0].context["ticket_number"] == late.number

    # when the resolution target (4 business hours) passes, later that day, twice
    with time_machine.travel(toronto(2026, 12, 1, 14, 1), tick=False):
        run_sla_job()
        run_sla_job()

    late.refresh_from_db()
    answered.refresh_from_db()
    waiting.refresh_from_db()
    assert late.resolution_breached_at == toronto(2026, 12, 1, 14, 1)
    assert answered.resolution_breached_at == toronto(2026, 12, 1, 14, 1)
    assert waiting.resolution_breached_at is None  # the customer's turn: no clock
    assert Notification.objects.filter(template="care.sla_breach").count() == 3


def test_the_breach_email_renders_in_the_leads_language(
    team: Team, make_staff: Callable[..., User]
) -> None:
    from simcare.notify import rendering

    lead = make_staff(Role.ADMIN, email="lead@example.com", language="fr")
    team.lead = lead
    team.save(update_fields=["lead"])
    ticket = web_ticket(priority="vip", subject="Itinérance", now=toronto(2026, 12, 1, 10))
    with time_machine.travel(toronto(2026, 12, 1, 11), tick=False):
        run_sla_job()

    note = Notification.objects.get(template="care.sla_breach")
    message = rendering.render(note)
    assert message.subject == (
        f"Le billet n° {ticket.number} a dépassé son délai de première réponse"
    )
    assert "Itinérance" in message.body


def test_an_out_of_hours_chat_becomes_a_ticket_with_its_questions(team: Team) -> None:
    saturday = toronto(2026, 12, 5, 10)
    conversation = chat_services.open_conversation(
        visitor_key="v_1", user=None, language="en", name="Ana", contact="ana@example.com"
    )
    with time_machine.travel(saturday, tick=False):
        conversation.status = "queued"  # the bot is bypassed: "talk to a person" directly
        conversation.status = "bot"
        chat_services.request_person(conversation, now=saturday)

    ticket = Ticket.objects.get(conversation=conversation)
    assert (ticket.source, ticket.status, ticket.requester_email) == (
        "chat",
        "new",
        "ana@example.com",
    )
    # opens Monday 09:00: due 13:00
    assert ticket.first_response_due_at == toronto(2026, 12, 7, 13)
    assert Conversation.objects.get().status == "ticket"


def test_a_closed_ticket_takes_no_more_replies_and_empty_text_is_refused(
    team: Team, make_staff: Callable[..., User]
) -> None:
    agent = make_staff(Role.AGENT)
    ticket = web_ticket(now=toronto(2026, 12, 1, 10))
    with pytest.raises(TicketRefused):
        ticket_services.reply(ticket, actor=agent, body="  ", sender="agent")

    ticket_services.close(ticket, actor=agent, now=toronto(2026, 12, 1, 12))

    with pytest.raises(TicketClosed):
        ticket_services.reply(ticket, actor=None, body="one more thing", sender="customer")
    ticket.refresh_from_db()
    assert ticket.status == "closed"
    assert ticket.closed_at == ticket.resolved_at == toronto(2026, 12, 1, 12)
    assert ticket.messages.count() == 1


SCHEDULE = hours.Schedule(
    time_zone="America/Toronto",
    weekly={day: ((dt.time(9), dt.time(12)), (dt.time(13), dt.time(17))) for day in range(5)},
    province="ON",
)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=dt.datetime(2026, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        max_value=dt.datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(TORONTO),
    ),
    minutes=st.integers(min_value=0, max_value=10 * 480),
)
def test_business_minutes_added_are_the_business_minutes_between(
    start: dt.datetime, minutes: int
) -> None:
    start = start.replace(second=0, microsecond=0)
    due = hours.add_business_minutes(SCHEDULE, start, minutes)

    assert due >= start
    assert hours.business_minutes_between(SCHEDULE, start, due) == minutes
    if minutes:
        assert hours.is_open(SCHEDULE, due - dt.timedelta(seconds=1))
