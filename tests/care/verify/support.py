"""Helpers of the identity-check tests: a chat an agent serves, and the code as it arrived."""

from __future__ import annotations

import json
import re
from pathlib import Path

from simcare.accounts.models import Subscriber, User
from simcare.care import chat_services
from simcare.care.models import Conversation
from simcare.notify import services as notify_services

_CODE = re.compile(r"\b(\d{6})\b")


def served_chat(agent: User, subscriber: Subscriber, *, language: str = "en") -> Conversation:
    """A signed-in subscriber's chat, handed to a person and accepted by `agent`."""
    conversation = chat_services.open_conversation(
        visitor_key=f"v_verify_{subscriber.pk}", user=subscriber.user, language=language
    )
    chat_services.request_person(conversation)
    conversation.refresh_from_db()
    chat_services.accept_chat(conversation, agent=agent)
    conversation.refresh_from_db()
    return conversation


def sent_sms(path: Path) -> list[dict[str, str]]:
    """What the outbox sent so far through the file SMS backend."""
    notify_services.send_due()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def code_in(text: str) -> str:
    found = _CODE.search(text)
    assert found is not None, text
    return found.group(1)
