"""The agent console over HTTP: who gets in, the queue, accept, notes, canned responses,
transfer, close, and the customer panel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from simcare.accounts.models import AuditEvent, Role, Subscriber, User
from simcare.care import chat_services
from simcare.care.models import (
    AgentProfile,
    CannedResponse,
    Conversation,
    ConversationStatus,
    Message,
    Sender,
    Team,
)
from simcare.ops.jobs import discover, run_job
from tests.care.conftest import IN_HOURS
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db


def _queued(language: str = "en", *, subscriber: Subscriber | None = None) -> Conversation:
    conversation = chat_services.open_conversation(
        visitor_key=f"v_{Conversation.objects.count()}",
        user=subscriber.user if subscriber else None,
        language=language,
    )
    chat_services.request_person(conversation)
    conversation.refresh_from_db()
    return conversation


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(IN_HOURS, tick=False) as traveller:
        yield traveller


@pytest.mark.parametrize(
    ("role", "expected"),
    [(Role.AGENT, 200), (Role.ADMIN, 200), (Role.CLERK, 403)],
)
def test_the_console_is_for_agents_and_admins(
    make_staff: Callable[..., User], role: Role, expected: int
) -> None:
    response = signed_in_client(make_staff(role)).get(reverse("console:home"))
    assert response.status_code == expected


def test_a_subscriber_is_refused_and_staff_without_totp_are_sent_to_sign_in(
    subscriber: Subscriber, make_staff: Callable[..., User]
) -> None:
    assert signed_in_client(subscriber.user).get(reverse("console:home")).status_code == 403
    response = signed_in_client(make_staff(Role.AGENT), verified=False).get(reverse("console:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_queue_lists_vip_first_then_the_longest_wait(
    team: Team,
    make_agent: Callable[..., User],
    make_subscriber: Callable[..., Subscriber],
    clock: time_machine.Traveller,
) -> None:
    agent = make_agent(available=False)
    first = _queued()
    clock.shift(dt.timedelta(minutes=1))
    second = _queued()
    clock.shift(dt.timedelta(minutes=1))
    vip = make_subscriber(first_name="Lin")
    Subscriber.objects.filter(pk=vip.pk).update(is_vip=True)
    vip.refresh_from_db()
    late_vip = _queued(subscriber=vip)

    response = signed_in_client(agent).get(reverse("console:queue"))

    assert [chat.pk for chat in response.context["queue"]] == [late_vip.pk, first.pk, second.pk]
    assert late_vip.is_vip is True


def test_the_offer_goes_to_the_least_loaded_agent_who_speaks_the_language_under_the_limit(
    team: Team, make_agent: Callable[..., User]
) -> None:
    full = make_agent(languages=("zh-hans",), max_chats=1)
    busy = make_agent(languages=("zh-hans", "en"), max_chats=3)
    make_agent(languages=("fr",))  # does not speak Chinese
    make_agent(languages=("zh-hans",), available=False)  # not available
    chat_services.accept_chat(_queued("zh-hans"), agent=full)  # full is now at its limit
    busy_chat = _queued("en")
    assert busy_chat.offered_to == busy
    chat_services.accept_chat(busy_chat, agent=busy)

    conversation = _queued("zh-hans")

    assert conversation.offered_to == busy
    assert conversation.status == ConversationStatus.QUEUED


def test_accepting_a_chat_offered_to_someone_else_is_404_and_changes_nothing(
    team: Team, make_agent: Callable[..., User]
) -> None:
    chosen = make_agent()
    other = make_agent(available=False)
    conversation = _queued()
    assert conversation.offered_to == chosen

    response = signed_in_client(other).post(
        reverse("console:accept", args=[conversation.public_id])
    )

    assert response.status_code == 404
    conversation.refresh_from_db()
    assert (conversation.status, conversation.agent) == (ConversationStatus.QUEUED, None)


def test_an_agent_accepts_replies_notes_and_closes(
    team: Team, make_agent: Callable[..., User], make_subscriber: Callable[..., Subscriber]
) -> None:
    agent = make_agent(first_name="Mei")
    conversation = _queued(subscriber=make_subscriber(first_name="Ana"))
    client = signed_in_client(agent)

    accepted = client.post(reverse("console:accept", args=[conversation.public_id]))
    replied = client.post(
        reverse("console:send", args=[conversation.public_id]),
        {"body": "<b>Hi</b> Ana"},
        HTTP_HX_REQUEST="true",
    )
    noted = client.post(
        reverse("console:send", args=[conversation.public_id]),
        {"body": "asked about roaming", "internal": "1"},
        HTTP_HX_REQUEST="true",
    )
    page = client.get(reverse("console:conversation", args=[conversation.public_id]))
    closed = client.post(
        reverse("console:close", args=[conversation.public_id]), {"reason": "answered"}
    )

    assert accepted.status_code == 302
    assert (replied.status_code, noted.status_code) == (204, 204)
    assert page.status_code == 200
    assert "&lt;b&gt;Hi&lt;/b&gt; Ana" in page.content.decode()
    assert closed.status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.CLOSED
    assert conversation.close_reason == "answered"
    assert conversation.agent == agent
    assert list(
        conversation.messages.filter(sender__in=[Sender.AGENT, Sender.NOTE]).values_list(
            "sender", "body"
        )
    ) == [(Sender.AGENT, "<b>Hi</b> Ana"), (Sender.NOTE, "asked about roaming")]
    assert (
        AuditEvent.objects.filter(
            action__in=["care.chat_accepted", "care.chat_closed"], object_id=str(conversation.pk)
        ).count()
        == 2
    )


def test_another_agents_conversation_is_404(team: Team, make_agent: Callable[..., User]) -> None:
    owner = make_agent()
    stranger = make_agent()
    conversation = _queued()
    chat_services.accept_chat(conversation, agent=owner)
    client = signed_in_client(stranger)

    page = client.get(reverse("console:conversation", args=[conversation.public_id]))
    send = client.post(reverse("console:send", args=[conversation.public_id]), {"body": "hi"})
    close = client.post(reverse("console:close", args=[conversation.public_id]), {"reason": "x"})

    assert (page.status_code, send.status_code, close.status_code) == (404, 404, 404)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.ACTIVE
    assert not Message.objects.filter(sender=Sender.AGENT).exists()


def test_an_admin_sees_every_conversation(
    team: Team, make_agent: Callable[..., User], make_staff: Callable[..., User]
) -> None:
    agent = make_agent()
    conversation = _queued()
    chat_services.accept_chat(conversation, agent=agent)

    page = signed_in_client(make_staff(Role.ADMIN)).get(
        reverse("console:conversation", args=[conversation.public_id])
    )

    assert page.status_code == 200


def test_canned_responses_in_the_chats_language_fill_their_placeholders(
    team: Team,
    make_agent: Callable[..., User],
    make_subscriber: Callable[..., Subscriber],
) -> None:
    CannedResponse.objects.create(
        language="fr", title="Bonjour", body="Bonjour {first_name}, votre ligne {msisdn} {unknown}"
    )
    CannedResponse.objects.create(language="en", title="Hello", body="Hello {first_name}")
    agent = make_agent(languages=("fr",))
    subscriber = make_subscriber(first_name="Chloé", language="fr")
    conversation = _queued("fr", subscriber=subscriber)
    chat_services.accept_chat(conversation, agent=agent)

    page = signed_in_client(agent).get(
        reverse("console:conversation", args=[conversation.public_id])
    )

    assert page.context["canned"] == [("Bonjour", "Bonjour Chloé, votre ligne  {unknown}")]


def test_transfer_to_another_agent_offers_them_the_chat(
    team: Team, make_agent: Callable[..., User]
) -> None:
    first = make_agent()
    second = make_agent(available=False)
    conversation = _queued()
    chat_services.accept_chat(conversation, agent=first)

    response = signed_in_client(first).post(
        reverse("console:transfer", args=[conversation.public_id]), {"agent": second.pk}
    )

    assert response.status_code == 302
    conversation.refresh_from_db()
    assert (conversation.status, conversation.agent, conversation.offered_to) == (
        ConversationStatus.QUEUED,
        None,
        second,
    )
    chat_services.accept_chat(conversation, agent=second)
    conversation.refresh_from_db()
    assert conversation.agent == second


def test_closing_frees_capacity_for_the_next_waiting_chat(
    team: Team, make_agent: Callable[..., User]
) -> None:
    agent = make_agent(max_chats=1)
    first = _queued()
    chat_services.accept_chat(first, agent=agent)
    waiting = _queued()
    assert waiting.offered_to is None

    chat_services.close_chat(first, acting_user=agent, reason="done")

    waiting.refresh_from_db()
    assert waiting.offered_to == agent


def test_declining_pauses_the_agent_and_the_chat_goes_to_someone_else(
    team: Team, make_agent: Callable[..., User]
) -> None:
    first = make_agent()
    conversation = _queued()
    assert conversation.offered_to == first
    second = make_agent()

    response = signed_in_client(first).post(
        reverse("console:decline", args=[conversation.public_id])
    )

    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.offered_to == second
    assert AgentProfile.objects.get(user=first).is_available is False


def test_the_customer_panel_shows_the_subscribers_wallet_and_previous_chats(
    team: Team, make_agent: Callable[..., User], make_subscriber: Callable[..., Subscriber]
) -> None:
    agent = make_agent()
    subscriber = make_subscriber(first_name="Ana")
    earlier = _queued(subscriber=subscriber)
    chat_services.accept_chat(earlier, agent=agent)
    chat_services.close_chat(earlier, acting_user=agent, reason="first")
    conversation = _queued(subscriber=subscriber)
    chat_services.accept_chat(conversation, agent=agent)

    page = signed_in_client(agent).get(
        reverse("console:conversation", args=[conversation.public_id])
    )

    panel = page.context["panel"]
    assert panel.subscriber == subscriber
    assert panel.wallet_cents == 0
    assert panel.previous == [earlier]
    assert panel.lines == []


def test_metrics_report_the_chat_queue_length(team: Team) -> None:
    _queued()
    _queued()

    response = Client().get("/metrics")

    assert "simcare_chat_queue_length 2.0" in response.content.decode()


def test_the_retention_job_deletes_chats_closed_over_two_years_ago(
    team: Team, make_agent: Callable[..., User], clock: time_machine.Traveller
) -> None:
    agent = make_agent()
    old = _queued()
    chat_services.accept_chat(old, agent=agent)
    chat_services.close_chat(old, acting_user=agent, reason="done")
    clock.shift(dt.timedelta(days=700))
    recent = _queued()
    chat_services.accept_chat(recent, agent=agent)
    chat_services.close_chat(recent, acting_user=agent, reason="done")
    clock.shift(dt.timedelta(days=31))
    discover()

    summary = run_job("chat_retention")

    assert summary == {"deleted": 1}
    assert list(Conversation.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Message.objects.filter(conversation_id=old.pk).exists()
