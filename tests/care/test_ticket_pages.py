"""Ticket pages through the Django test client: the console's list, ticket and actions,
escalating a chat, the contact form, my tickets (another person's is a 404), and the
signed rating link a closed ticket's email carries (rated once)."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from PIL import Image

from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from simcare.aftersales.models import ReviewInvitation
from simcare.care import chat_services, ticket_services
from simcare.care.models import (
    Conversation,
    SatisfactionRating,
    Team,
    Ticket,
    TicketMessage,
)
from simcare.notify.models import Notification
from tests.care.conftest import IN_HOURS
from tests.conftest import signed_in_client


@pytest.fixture(autouse=True)
def clock(db: Any) -> Iterator[time_machine.Traveller]:
    cache.clear()
    with time_machine.travel(IN_HOURS, tick=False) as traveller:
        yield traveller


def _ticket(**fields: Any) -> Ticket:
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


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return buffer.getvalue()


# --- the console ------------------------------------------------------------------------------


def test_the_console_lists_tickets_with_filters_due_times_and_breach_badges(
    team: Team, make_agent: Callable[..., User]
) -> None:
    agent = make_agent()
    mine = _ticket(subject="Mine", priority="high")
    ticket_services.assign(mine, actor=agent, assignee=agent)
    late = _ticket(subject="Late one", priority="vip")
    Ticket.objects.filter(pk=late.pk).update(first_response_breached_at=IN_HOURS)
    client = signed_in_client(agent)

    everything = client.get(reverse("console:tickets")).content.decode()
    breached = client.get(reverse("console:tickets"), {"breached": "1"}).content.decode()
    assigned = client.get(reverse("console:tickets"), {"assignee": "me"}).content.decode()
    high = client.get(reverse("console:tickets"), {"priority": "high"}).content.decode()

    assert "Mine" in everything
    assert "Late one" in everything
    assert "First response breached" in everything
    assert "2026-12-01 11:00" in everything  # high: due one business hour after 10:00
    assert "Late one" in breached
    assert "Mine" not in breached
    assert "Mine" in assigned
    assert "Late one" not in assigned
    assert "Mine" in high
    assert "Late one" not in high


def test_an_agent_replies_notes_changes_and_closes_a_ticket(
    team: Team, make_agent: Callable[..., User], make_subscriber: Callable[..., Subscriber]
) -> None:
    agent = make_agent()
    other = make_agent()
    subscriber = make_subscriber()
    ticket = _ticket(user=subscriber.user)
    client = signed_in_client(agent)
    number = ticket.number

    replied = client.post(
        reverse("console:ticket_reply", args=[number]), {"body": "Yes, it works in France."}
    )
    noted = client.post(
        reverse("console:ticket_reply", args=[number]),
        {"body": "checked roaming zone", "internal": "1"},
    )
    changed = client.post(
        reverse("console:ticket_update", args=[number]),
        {"status": "pending_customer", "priority": "high", "assignee": str(other.pk)},
    )
    page = client.get(reverse("console:ticket", args=[number]))
    closed = client.post(reverse("console:ticket_close", args=[number]))

    assert [r.status_code for r in (replied, noted, changed, closed)] == [302] * 4
    assert page.status_code == 200
    assert "checked roaming zone" in page.content.decode()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.assignee) == ("closed", "high", other)
    assert ticket.first_response_at == IN_HOURS
    assert list(ticket.messages.values_list("sender", "is_internal")) == [
        ("customer", False),
        ("agent", False),
        ("agent", True),
    ]
    notes = Notification.objects.filter(recipient=subscriber.user).order_by("id")
    assert list(notes.values_list("template", "channel")) == [
        ("care.ticket_reply", "email"),
        ("care.ticket_rating", "email"),
    ]
    assert set(
        AuditEvent.objects.filter(
            object_id=str(ticket.pk), action__startswith="care.ticket"
        ).values_list("action", flat=True)
    ) >= {
        "care.ticket_created",
        "care.ticket_note",
        "care.ticket_status",
        "care.ticket_priority",
        "care.ticket_assigned",
        "care.ticket_closed",
    }


def test_a_bad_change_is_refused_with_a_message_and_nothing_changes(
    team: Team, make_agent: Callable[..., User]
) -> None:
    agent = make_agent()
    ticket = _ticket()
    client = signed_in_client(agent)

    response = client.post(
        reverse("console:ticket_update", args=[ticket.number]),
        {"priority": "urgent"},
        follow=True,
    )

    assert "This change is not possible for this ticket." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


def test_an_unknown_ticket_is_a_404_and_clerks_are_refused(
    team: Team, make_agent: Callable[..., User], make_staff: Callable[..., User]
) -> None:
    ticket = _ticket()
    agent_client = signed_in_client(make_agent())
    clerk_client = signed_in_client(make_staff(Role.CLERK))

    assert agent_client.get(reverse("console:ticket", args=[999])).status_code == 404
    assert clerk_client.get(reverse("console:ticket", args=[ticket.number])).status_code == 403


def test_an_agent_escalates_a_chat_to_a_ticket_once(
    team: Team, make_agent: Callable[..., User]
) -> None:
    agent = make_agent(languages=("fr", "en"))
    conversation = chat_services.open_conversation(
        visitor_key="v_esc", user=None, language="fr", name="Luc", contact="luc@example.com"
    )
    chat_services.post_visitor_message(conversation, body="Mon forfait ne marche pas")
    chat_services.request_person(conversation)
    chat_services.accept_chat(conversation, agent=agent)
    client = signed_in_client(agent)
    url = reverse("console:escalate", args=[conversation.public_id])

    first = client.post(url, {"subject": "Forfait en panne"})
    again = client.post(url, {"subject": "again"}, follow=True)

    ticket = Ticket.objects.get()
    assert first.status_code == 302
    assert first["Location"] == reverse("console:ticket", args=[ticket.number])
    assert (ticket.source, ticket.subject, ticket.language, ticket.assignee) == (
        "escalated",
        "Forfait en panne",
        "fr",
        agent,
    )
    assert ticket.requester_email == "luc@example.com"
    assert "Mon forfait ne marche pas" in ticket.messages.get().body
    assert "This chat is already a ticket." in again.content.decode()


def test_an_attachment_is_checked_and_served_to_the_agent_only(
    team: Team, make_agent: Callable[..., User], make_subscriber: Callable[..., Subscriber]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    agent = make_agent()
    owner = make_subscriber()
    ticket = _ticket(user=owner.user)
    client = signed_in_client(agent)
    client.post(
        reverse("console:ticket_reply", args=[ticket.number]),
        {"body": "see photo", "attachment": SimpleUploadedFile("x.png", _png())},
    )
    refused = client.post(
        reverse("console:ticket_reply", args=[ticket.number]),
        {"body": "bad", "attachment": SimpleUploadedFile("x.exe", b"MZ....")},
        follow=True,
    )
    message = TicketMessage.objects.get(body="see photo")

    served = client.get(reverse("console:ticket_attachment", args=[ticket.number, message.pk]))
    owner_served = signed_in_client(owner.user).get(
        reverse("care:my_ticket_attachment", args=[ticket.number, message.pk])
    )
    stranger = signed_in_client(make_subscriber().user).get(
        reverse("care:my_ticket_attachment", args=[ticket.number, message.pk])
    )

    assert message.attachment_content_type == "image/png"
    assert "Attach an image or a PDF of at most 5 MB." in refused.content.decode()
    assert not TicketMessage.objects.filter(body="bad").exists()
    assert served.status_code == owner_served.status_code == 200
    assert stranger.status_code == 404


# --- the customer's side ----------------------------------------------------------------------


def test_an_anonymous_visitor_files_a_ticket_with_the_contact_form(team: Team) -> None:
    client = Client()

    page = client.get(reverse("care:contact"))
    missing = client.post(reverse("care:contact"), {"subject": "Hi", "body": "Help"})
    sent = client.post(
        reverse("care:contact"),
        {
            "name": "Ana",
            "email": "ana@example.com",
            "category": "coverage",
            "subject": "Roaming",
            "body": "Does it work in Paris?",
        },
    )

    assert page.status_code == 200
    assert missing.status_code == 200
    assert "This field is required." in missing.content.decode()
    assert sent.status_code == 200
    ticket = Ticket.objects.get()
    assert (ticket.source, ticket.requester_email, ticket.category, ticket.user) == (
        "web",
        "ana@example.com",
        "coverage",
        None,
    )
    assert f"ticket #{ticket.number}" in sent.content.decode()


def test_the_contact_form_is_translated(team: Team) -> None:
    page = Client().get("/fr/help/contact/")
    assert "Contactez-nous" in page.content.decode()


def test_the_contact_form_is_rate_limited(team: Team) -> None:
    client = Client()
    data = {"name": "Bot", "email": "bot@example.com", "subject": "spam", "body": "spam"}
    codes = [client.post(reverse("care:contact"), data).status_code for _ in range(11)]

    assert codes == [200] * 10 + [429]
    assert Ticket.objects.count() == 10


def test_a_subscriber_files_follows_and_replies_to_their_ticket_and_not_others(
    team: Team, make_subscriber: Callable[..., Subscriber], make_agent: Callable[..., User]
) -> None:
    agent = make_agent()
    owner = make_subscriber()
    client = signed_in_client(owner.user)
    client.post(reverse("care:contact"), {"subject": "eSIM", "body": "My eSIM won't install"})
    ticket = Ticket.objects.get()
    ticket_services.reply(ticket, actor=agent, body="Restart please", sender="agent")
    ticket_services.reply(ticket, actor=agent, body="secret note", sender="agent", is_internal=True)
    ticket_services.set_status(ticket, actor=agent, status="pending_customer")

    listing = client.get(reverse("care:my_tickets")).content.decode()
    detail = client.get(reverse("care:my_ticket", args=[ticket.number])).content.decode()
    replied = client.post(reverse("care:my_ticket", args=[ticket.number]), {"body": "Done, works"})
    stranger = signed_in_client(make_subscriber().user)

    assert ticket.subscriber == owner
    assert ticket.user == owner.user
    assert "eSIM" in listing
    assert "Restart please" in detail
    assert "secret note" not in detail
    assert replied.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert stranger.get(reverse("care:my_ticket", args=[ticket.number])).status_code == 404
    assert (
        stranger.post(reverse("care:my_ticket", args=[ticket.number]), {"body": "x"}).status_code
        == 404
    )
    assert ticket.messages.count() == 4
    assert Client().get(reverse("care:my_tickets")).status_code == 302


def test_a_closed_ticket_is_rated_once_through_its_signed_link(
    team: Team, make_agent: Callable[..., User], make_subscriber: Callable[..., Subscriber]
) -> None:
    agent = make_agent()
    owner = make_subscriber()
    ticket = _ticket(user=owner.user, language="fr")
    ticket_services.assign(ticket, actor=agent, assignee=agent)
    ticket_services.close(ticket, actor=agent)
    note = Notification.objects.get(template="care.ticket_rating")
    url = note.context["rating_url"]
    path = re.sub(r"^https?://[^/]+", "", url)
    client = Client()

    page = client.get(path)
    bad = client.post(path, {"score": "9"})
    rated = client.post(path, {"score": "5", "comment": "Très bien"})
    again = client.post(path, {"score": "1"})
    forged = client.get(path[:-3] + "xyz/")

    assert path.startswith("/fr/help/rate/")
    assert page.status_code == 200
    assert "Choisissez une note de 1 à 5" in bad.content.decode()
    assert rated.status_code == again.status_code == 200
    assert "Merci pour votre note !" in rated.content.decode()
    assert "Vous avez déjà donné votre note. Merci !" in again.content.decode()
    assert forged.status_code == 404
    rating = SatisfactionRating.objects.get()
    assert (rating.ticket, rating.score, rating.comment, rating.agent, rating.team) == (
        ticket,
        5,
        "Très bien",
        agent,
        team,
    )
    assert rating.language == "fr"


def test_an_open_ticket_cannot_be_rated_yet(team: Team) -> None:
    ticket = _ticket()
    path = reverse("care:rate_ticket", args=[ticket_services.rating_token(ticket)])

    response = Client().post(path, {"score": "4"})

    assert "You can rate it once it is closed." in response.content.decode()
    assert SatisfactionRating.objects.count() == 0


def test_closing_a_subscribers_ticket_asks_aftersales_for_a_support_review(
    team: Team, make_agent: Callable[..., User], make_subscriber: Callable[..., Subscriber]
) -> None:
    from simcare.orders.models import Order

    owner = make_subscriber()
    agent = make_agent()
    ticket = _ticket(user=owner.user)
    without_order = _ticket(user=make_subscriber().user)
    Order.objects.create(
        kind="activation",
        channel="web",
        state="fulfilled",
        subscriber=owner,
        fulfilled_at=IN_HOURS - dt.timedelta(days=3),
        idempotency_key="t-1",
    )

    ticket_services.close(ticket, actor=agent)
    ticket_services.close(ticket, actor=agent)  # twice: asked once
    ticket_services.close(without_order, actor=agent)

    assert list(ReviewInvitation.objects.values_list("key", flat=True)) == [f"ticket:{ticket.pk}"]


def test_a_closed_conversation_keeps_its_ticket_page_link(
    team: Team, make_agent: Callable[..., User]
) -> None:
    agent = make_agent()
    conversation = chat_services.open_conversation(visitor_key="v_l", user=None, language="en")
    chat_services.request_person(conversation)
    chat_services.accept_chat(conversation, agent=agent)
    ticket = ticket_services.escalate_conversation(conversation, actor=agent, subject="Later")

    page = signed_in_client(agent).get(
        reverse("console:conversation", args=[conversation.public_id])
    )

    assert reverse("console:ticket", args=[ticket.number]) in page.content.decode()
    assert Conversation.objects.get().status == "active"


def test_the_agents_console_home_shows_their_satisfaction_rating(
    team: Team, make_agent: Callable[..., User]
) -> None:
    agent = make_agent()
    for score in (4, 5):
        ticket = _ticket()
        ticket_services.assign(ticket, actor=agent, assignee=agent)
        ticket_services.close(ticket, actor=agent)
        ticket_services.rate_ticket(ticket, score=score)

    page = signed_in_client(agent).get(reverse("console:home"))

    assert "Your satisfaction rating (30 days): 4.5 from 2 ratings." in page.content.decode()


def test_a_visitor_without_an_account_gets_the_answer_and_the_rating_link_by_email(
    team: Team, make_agent: Callable[..., User]
) -> None:
    from django.core import mail
    from django.core.management import call_command

    agent = make_agent()
    Client().post(
        "/fr/help/contact/",
        {"name": "Luc", "email": "luc@example.com", "subject": "Itinérance", "body": "Paris ?"},
    )
    ticket = Ticket.objects.get()
    ticket_services.reply(ticket, actor=agent, body="Oui, la France est incluse.", sender="agent")
    ticket_services.close(ticket, actor=agent)

    call_command("jobs", "run", "outbox", stdout=io.StringIO())

    assert ticket.language == "fr"
    assert [message.to for message in mail.outbox] == [["luc@example.com"], ["luc@example.com"]]
    answer, rating = mail.outbox
    assert "Oui, la France est incluse." in answer.body
    assert f"mentionnez le billet n° {ticket.number}" in answer.body
    assert "/fr/help/rate/" in rating.body
    assert set(
        Notification.objects.filter(address="luc@example.com").values_list("status", flat=True)
    ) == {"sent"}
