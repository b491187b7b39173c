"""The visitor's chat over WebSocket: bot or hand-off, queue and offers, out of hours,
reconnection, escaping and long messages, through the real ASGI application."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from simcare.accounts.models import Subscriber, User
from simcare.asgi import application
from simcare.care import bot_adapter, chat_services
from simcare.care.models import (
    Conversation,
    ConversationStatus,
    Message,
    Sender,
    Team,
    Ticket,
)
from tests.care.conftest import (
    IN_HOURS,
    console,
    is_message,
    receive_messages,
    receive_until,
    visitor,
)
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)


def run(scenario: Callable[[], Any]) -> Any:
    return async_to_sync(scenario)()


async def _session(communicator: WebsocketCommunicator) -> dict[str, Any]:
    connected, _code = await communicator.connect()
    assert connected
    frame = json.loads(await communicator.receive_from(timeout=20))
    assert frame["type"] == "session"
    return frame


def test_a_visitor_gets_a_signed_token_and_a_conversation_with_the_bot(team: Team) -> None:
    async def scenario() -> dict[str, Any]:
        communicator = visitor()
        session = await _session(communicator)
        await communicator.disconnect()
        return session

    with time_machine.travel(IN_HOURS, tick=False):
        session = run(scenario)

    conversation = Conversation.objects.get()
    assert session["conversation"] == str(conversation.public_id)
    assert session["status"] == ConversationStatus.BOT
    assert session["token"].startswith(conversation.visitor_key + ":")
    assert conversation.team == team
    assert conversation.user is None


def test_a_forged_token_starts_another_visitor(team: Team) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        first = visitor()
        session = await _session(first)
        await first.disconnect()
        forged = session["token"][:-2] + ("AA" if not session["token"].endswith("AA") else "BB")
        second = visitor(f"language=en&token={forged}")
        other = await _session(second)
        await second.disconnect()
        return session, other

    with time_machine.travel(IN_HOURS, tick=False):
        session, other = run(scenario)

    assert other["conversation"] != session["conversation"]
    assert Conversation.objects.count() == 2


def test_asking_for_a_person_in_hours_queues_the_chat_and_offers_it_to_an_agent(
    team: Team, make_agent: Callable[..., User]
) -> None:
    agent = make_agent(languages=("en",))
    agent_console = console(agent)

    async def scenario() -> list[dict[str, Any]]:
        connected, _code = await agent_console.connect()
        assert connected
        communicator = visitor()
        await _session(communicator)
        await communicator.send_json_to({"type": "message", "body": "talk to a person"})
        frames = await receive_messages(communicator, 3)
        offer = await receive_until(
            agent_console, lambda frame: frame["type"] == "queue" and frame["offered_to_me"]
        )
        await communicator.disconnect()
        await agent_console.disconnect()
        return frames + offer

    with time_machine.travel(IN_HOURS, tick=False):
        frames = run(scenario)

    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.QUEUED
    assert conversation.offered_to == agent
    assert conversation.queued_at == IN_HOURS
    senders = [frame["sender"] for frame in frames if frame["type"] == "message"]
    assert senders == [Sender.VISITOR, Sender.BOT, Sender.SYSTEM]
    assert frames[-1]["conversation"] == str(conversation.public_id)


def test_without_the_bot_every_question_is_handed_to_a_person(
    team: Team, make_agent: Callable[..., User]
) -> None:
    if bot_adapter.is_available():
        pytest.skip("the knowledge-base bot is installed: tests/care/test_chat_bot.py covers it")
    make_agent(languages=("fr",))

    async def scenario() -> list[dict[str, Any]]:
        communicator = visitor("language=fr")
        await _session(communicator)
        await communicator.send_json_to({"type": "message", "body": "Combien coûte un forfait ?"})
        frames = await receive_messages(communicator, 3)
        await communicator.disconnect()
        return frames

    with time_machine.travel(IN_HOURS, tick=False):
        frames = run(scenario)

    bodies = [(frame["sender"], frame["body"]) for frame in frames if frame["type"] == "message"]
    assert bodies == [
        (Sender.VISITOR, "Combien coûte un forfait ?"),
        (Sender.BOT, "Je vous mets en relation avec une personne."),
        (
            Sender.SYSTEM,
            "Vous êtes dans la file d'attente. Une personne va vous répondre sous peu.",
        ),
    ]
    assert Conversation.objects.get().status == ConversationStatus.QUEUED


@pytest.mark.parametrize(
    ("moment", "language", "expected"),
    [
        # Thursday 24 December 2026, 18:00 Toronto: Christmas (Fri), Boxing Day (Sat),
        # Sunday, Boxing Day observed (Mon 28): back Tuesday 29 at 09:00.
        (
            dt.datetime(2026, 12, 24, 23, 0, tzinfo=dt.UTC),
            "en",
            "We are closed now. A person will be back on Dec. 29, 2026, 9 a.m. (Toronto time). "
            "Your question is now ticket #{number}.",
        ),
        (
            dt.datetime(2026, 12, 24, 23, 0, tzinfo=dt.UTC),
            "fr",
            "Nous sommes fermés. Une personne sera de retour le 29 décembre 2026 09:00 "
            "(heure de Toronto). Votre question est maintenant le billet nº {number}.",
        ),
        # Tuesday 30 June 2026, 20:00 Toronto: Canada Day is Wednesday: back Thursday 2 July.
        (
            dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC),
            "zh-hans",
            "我们现在不在服务时间。工作人员将于 2026年7月2日 09:00（多伦多时间）回来。"  # noqa: RUF001
            "您的问题现已转为工单 #{number}。",
        ),
    ],
)
def test_out_of_hours_the_chat_becomes_a_ticket_with_the_next_opening_time(
    team: Team, moment: dt.datetime, language: str, expected: str
) -> None:
    async def scenario() -> list[dict[str, Any]]:
        communicator = visitor(f"language={language}")
        await _session(communicator)
        await communicator.send_json_to({"type": "person"})
        frames = await receive_until(communicator, is_message(Sender.SYSTEM))
        await communicator.disconnect()
        return frames

    with time_machine.travel(moment, tick=False):
        frames = run(scenario)

    ticket = Ticket.objects.get()
    assert ticket.source == "chat"
    assert ticket.status == "new"
    assert ticket.conversation == Conversation.objects.get()
    assert ticket.conversation.status == ConversationStatus.TICKET
    assert frames[-1]["body"] == expected.format(number=ticket.number)


def test_reconnecting_with_the_last_seen_id_gets_everything_after_it(
    team: Team, make_agent: Callable[..., User]
) -> None:
    agent = make_agent()

    async def scenario() -> tuple[list[int], list[dict[str, Any]], dict[str, Any]]:
        communicator = visitor()
        session = await _session(communicator)
        await communicator.send_json_to({"type": "person"})
        seen = await receive_until(communicator, is_message(Sender.SYSTEM))
        await communicator.disconnect()
        return [frame["id"] for frame in seen if frame["type"] == "message"], seen, session

    with time_machine.travel(IN_HOURS, tick=False):
        seen_ids, _seen, session = run(scenario)
        conversation = Conversation.objects.get()
        # while the visitor is away: the agent accepts and answers
        chat_services.accept_chat(conversation, agent=agent)
        chat_services.post_agent_message(conversation, agent=agent, body="Hello, I'm here.")
        chat_services.post_agent_message(
            conversation, agent=agent, body="VIP, check the plan", is_internal=True
        )

        async def back() -> list[dict[str, Any]]:
            communicator = visitor(f"language=en&token={session['token']}&last={seen_ids[-1]}")
            again = await _session(communicator)
            assert again["conversation"] == session["conversation"]
            frames = await receive_until(communicator, is_message(Sender.AGENT))
            assert await communicator.receive_nothing(timeout=0.2)
            await communicator.disconnect()
            return frames

        frames = run(back)

    assert [(frame["sender"], frame["body"]) for frame in frames] == [
        (Sender.SYSTEM, f"{agent.username} joined the chat."),
        (Sender.AGENT, "Hello, I'm here."),
    ]
    assert Message.objects.filter(sender=Sender.NOTE).count() == 1


@pytest.mark.parametrize(
    "body",
    [
        '<script>alert("x")</script><img src=x onerror=alert(1)> & <b>bold</b>',
        "x" * 10_000,
        "👍🏽 家人 👨‍👩‍👧‍👦 café ﷽ " * 400,
    ],
    ids=["html", "10000-characters", "emoji"],
)
def test_messages_are_stored_as_sent_and_delivered_unchanged(
    team: Team, make_agent: Callable[..., User], body: str
) -> None:
    agent = make_agent()
    agent_console = console(agent)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        await agent_console.connect()
        communicator = visitor()
        await _session(communicator)
        await communicator.send_json_to({"type": "person"})
        await receive_until(communicator, is_message(Sender.SYSTEM))
        conversation = await Conversation.objects.aget()
        await database_sync_to_async(chat_services.accept_chat)(conversation, agent=agent)
        await agent_console.send_json_to(
            {"type": "join", "conversation": str(conversation.public_id)}
        )
        await communicator.send_json_to({"type": "message", "body": body, "client_id": "c1"})
        at_agent = (await receive_until(agent_console, is_message(Sender.VISITOR)))[-1]
        await agent_console.send_json_to(
            {"type": "message", "conversation": str(conversation.public_id), "body": body}
        )
        at_visitor = (await receive_until(communicator, is_message(Sender.AGENT)))[-1]
        await communicator.disconnect()
        await agent_console.disconnect()
        return at_agent, at_visitor

    with time_machine.travel(IN_HOURS, tick=False):
        at_agent, at_visitor = run(scenario)

    assert at_agent["body"] == body
    assert at_visitor["body"] == body
    assert list(
        Message.objects.filter(sender__in=[Sender.VISITOR, Sender.AGENT]).values_list(
            "body", flat=True
        )
    ) == [body, body]


def test_a_message_over_10000_characters_is_refused_and_nothing_is_stored(team: Team) -> None:
    async def scenario() -> dict[str, Any]:
        communicator = visitor()
        await _session(communicator)
        await communicator.send_json_to({"type": "message", "body": "x" * 10_001})
        frame = json.loads(await communicator.receive_from(timeout=20))
        await communicator.disconnect()
        return frame

    with time_machine.travel(IN_HOURS, tick=False):
        frame = run(scenario)

    assert frame == {
        "type": "error",
        "code": "chat_message_refused",
        "message": "This message cannot be sent: it is empty or longer than 10,000 characters.",
    }
    assert Message.objects.count() == 0


def test_a_resent_message_with_the_same_client_id_is_stored_once(team: Team) -> None:
    async def scenario() -> None:
        communicator = visitor()
        await _session(communicator)
        for _attempt in range(2):
            await communicator.send_json_to({"type": "message", "body": "hi", "client_id": "k1"})
        await receive_until(communicator, is_message(Sender.SYSTEM))
        await communicator.disconnect()

    with time_machine.travel(dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.UTC), tick=False):
        run(scenario)

    assert Message.objects.filter(sender=Sender.VISITOR).count() == 1


def test_a_signed_in_subscribers_chat_is_linked_to_their_account(
    team: Team, make_subscriber: Callable[..., Subscriber]
) -> None:
    subscriber = make_subscriber(language="zh-hans")
    Subscriber.objects.filter(pk=subscriber.pk).update(is_vip=True)
    client = signed_in_client(subscriber.user)

    async def scenario() -> dict[str, Any]:
        communicator = visitor("", client=client)
        session = await _session(communicator)
        await communicator.disconnect()
        return session

    with time_machine.travel(IN_HOURS, tick=False):
        session = run(scenario)

    conversation = Conversation.objects.get()
    assert conversation.subscriber == subscriber
    assert conversation.is_vip is True
    assert session["language"] == "zh-hans"


def test_the_first_message_in_chinese_sets_the_language_when_none_was_chosen(team: Team) -> None:
    async def scenario() -> None:
        communicator = visitor("")
        await _session(communicator)
        await communicator.send_json_to({"type": "message", "body": "我的流量还剩多少？"})  # noqa: RUF001
        await receive_until(communicator, is_message(Sender.BOT))
        await communicator.disconnect()

    with time_machine.travel(dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.UTC), tick=False):
        run(scenario)

    assert Conversation.objects.get().language == "zh-hans"


def test_an_outside_origin_not_configured_is_refused(team: Team) -> None:
    async def attempt() -> bool:
        communicator = WebsocketCommunicator(
            application, "/ws/care/chat/", headers=[(b"origin", b"https://shop.example.ca")]
        )
        connected, _code = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert run(attempt) is False
    assert Conversation.objects.count() == 0
