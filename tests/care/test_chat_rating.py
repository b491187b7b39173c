"""CSAT of a chat over the visitor's WebSocket: after the agent closes it, the visitor rates
it once; a second rating, a bad score or a rating of an open chat is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from simcare.accounts.models import User
from simcare.care import chat_services
from simcare.care.models import Conversation, SatisfactionRating, Team
from tests.care.conftest import IN_HOURS, visitor

pytestmark = pytest.mark.django_db(transaction=True)


async def _next(communicator: Any, kind: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await communicator.receive_from(timeout=20))
        if frame["type"] == kind:
            return frame


def test_the_visitor_rates_a_closed_chat_once(team: Team, make_agent: Callable[..., User]) -> None:
    agent = make_agent(languages=("fr",))

    async def scenario() -> list[dict[str, Any]]:
        communicator = visitor("language=fr")
        connected, _code = await communicator.connect()
        assert connected
        await _next(communicator, "session")
        await communicator.send_json_to({"type": "rating", "score": 5})
        too_early = await _next(communicator, "error")
        await communicator.send_json_to({"type": "person"})
        while (await _next(communicator, "status"))["status"] != "queued":
            pass
        conversation = await database_sync_to_async(Conversation.objects.get)()
        await database_sync_to_async(chat_services.accept_chat)(conversation, agent=agent)
        await database_sync_to_async(chat_services.close_chat)(
            conversation, acting_user=agent, reason="answered"
        )
        while (await _next(communicator, "status"))["status"] != "closed":
            pass
        await communicator.send_json_to({"type": "rating", "score": 9})
        bad = await _next(communicator, "error")
        await communicator.send_json_to({"type": "rating", "score": 5, "comment": "Parfait"})
        rated = await _next(communicator, "rated")
        await communicator.send_json_to({"type": "rating", "score": 1})
        again = await _next(communicator, "error")
        await communicator.disconnect()
        return [too_early, bad, rated, again]

    with time_machine.travel(IN_HOURS, tick=False):
        too_early, bad, rated, again = async_to_sync(scenario)()

    assert too_early["code"] == "rating_not_closed"
    assert bad["code"] == "rating_refused"
    assert rated == {"type": "rated", "score": 5, "text": "Merci pour votre note !"}
    assert again["code"] == "rating_already_given"
    assert again["message"] == "Vous avez déjà donné votre note. Merci !"
    rating = SatisfactionRating.objects.get()
    assert (rating.conversation, rating.score, rating.comment, rating.agent, rating.team) == (
        Conversation.objects.get(),
        5,
        "Parfait",
        agent,
        team,
    )
    assert (rating.ticket, rating.language) == (None, "fr")
