"""Two web processes on one Redis: a visitor on one and an agent on the other talk.

Runs only with REDIS_URL set (the channel layer is then Redis). Both `simcare serve`
processes use the test database, so the rows the test writes are theirs too.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from simcare.accounts.models import User
from simcare.care import tokens
from simcare.care.models import Conversation, ConversationStatus
from tests.care.servers import web_processes
from tests.conftest import signed_in_client

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (Redis layer)"),
]


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[int, int]]:
    with web_processes(2, tmp_path) as ports:
        yield ports[0], ports[1]


async def _until(socket_: Any, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket_.recv(), timeout=10))
        if predicate(frame):
            return frame


def test_a_message_crosses_between_two_web_processes(
    two_servers: tuple[int, int], make_agent: Callable[..., User]
) -> None:
    visitor_port, agent_port = two_servers
    agent = make_agent(first_name="Mei")
    visitor_key = tokens.new_visitor_key()
    conversation = Conversation.objects.create(
        visitor_key=visitor_key, status=ConversationStatus.ACTIVE, agent=agent, language="en"
    )
    cookie = f"sessionid={signed_in_client(agent).cookies['sessionid'].value}"
    token = tokens.visitor_token(visitor_key)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with (
            connect(
                f"ws://127.0.0.1:{visitor_port}/ws/care/chat/?token={token}&language=en",
                origin=f"http://127.0.0.1:{visitor_port}",  # type: ignore[arg-type]
            ) as visitor,
            connect(
                f"ws://127.0.0.1:{agent_port}/ws/care/console/",
                origin=f"http://127.0.0.1:{agent_port}",  # type: ignore[arg-type]
                additional_headers={"Cookie": cookie},
            ) as console,
        ):
            session = await _until(visitor, lambda frame: frame["type"] == "session")
            assert session["conversation"] == str(conversation.public_id)
            await console.send(
                json.dumps({"type": "join", "conversation": str(conversation.public_id)})
            )
            await visitor.send(json.dumps({"type": "message", "body": "Bonjour 👋 <b>?</b>"}))
            at_agent = await _until(console, lambda frame: frame.get("sender") == "visitor")
            await console.send(
                json.dumps(
                    {
                        "type": "message",
                        "conversation": str(conversation.public_id),
                        "body": "Hi from the other process",
                    }
                )
            )
            at_visitor = await _until(visitor, lambda frame: frame.get("sender") == "agent")
            return at_agent, at_visitor

    at_agent, at_visitor = asyncio.run(scenario())

    assert at_agent["body"] == "Bonjour 👋 <b>?</b>"
    assert at_visitor["body"] == "Hi from the other process"
    assert at_visitor["author"] == "Mei"
    assert list(conversation.messages.values_list("sender", "body")) == [
        ("visitor", "Bonjour 👋 <b>?</b>"),
        ("agent", "Hi from the other process"),
    ]
