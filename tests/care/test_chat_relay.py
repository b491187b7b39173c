"""The relay (care/relay.py) hands publishes to the event loop without waiting for them:
a burst of messages still arrives in the order it was stored, and only after it was
stored, through the real ASGI application."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from simcare.accounts.models import User
from simcare.care import chat_services
from simcare.care.models import Conversation, Message, Sender, Team
from tests.care.conftest import IN_HOURS, console, is_message, receive_until, visitor

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 25


def test_a_burst_of_agent_messages_reaches_the_visitor_stored_and_in_order(
    team: Team, make_agent: Callable[..., User]
) -> None:
    agent = make_agent()
    agent_console = console(agent)

    async def scenario() -> tuple[list[dict[str, Any]], list[bool]]:
        await agent_console.connect()
        communicator = visitor()
        connected, _code = await communicator.connect()
        assert connected
        await communicator.send_json_to({"type": "person"})
        await receive_until(communicator, is_message(Sender.SYSTEM))
        conversation = await Conversation.objects.aget()
        await database_sync_to_async(chat_services.accept_chat)(conversation, agent=agent)
        public_id = str(conversation.public_id)
        await agent_console.send_json_to({"type": "join", "conversation": public_id})
        for number in range(BURST):  # sent without waiting for any of them to arrive
            await agent_console.send_json_to(
                {"type": "message", "conversation": public_id, "body": f"part {number}"}
            )
        received: list[dict[str, Any]] = []
        stored_when_received: list[bool] = []
        while len(received) < BURST:
            frame = (await receive_until(communicator, is_message(Sender.AGENT)))[-1]
            stored_when_received.append(await Message.objects.filter(pk=frame["id"]).aexists())
            received.append(frame)
        await communicator.disconnect()
        await agent_console.disconnect()
        return received, stored_when_received

    with time_machine.travel(IN_HOURS, tick=True):
        received, stored_when_received = async_to_sync(scenario)()

    assert [frame["body"] for frame in received] == [f"part {n}" for n in range(BURST)]
    ids = [frame["id"] for frame in received]
    assert ids == sorted(ids)
    assert all(stored_when_received)
    assert list(
        Message.objects.filter(sender=Sender.AGENT).order_by("id").values_list("body", flat=True)
    ) == [f"part {n}" for n in range(BURST)]
