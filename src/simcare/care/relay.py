"""Telling connected clients about stored changes, through the channel layer.

Every publish happens after the change committed (services call these from
`transaction.on_commit`), so a client never sees a message the database does
not hold: a client that missed a publish gets the message on reconnection.
With REDIS_URL set the layer is Redis, and a visitor on one web process hears
an agent on another.

Groups: `care.chat.<public id>` (the visitor's connections and the agents
watching that chat), `care.agent.<user id>` (one agent's console: offers),
`care.staff.<public id>` (the agents watching it: internal notes), `care.queue`
(every console: the queue changed).
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import ObjectDoesNotExist

from simcare.care.models import Conversation, Message, Sender

QUEUE_GROUP = "care.queue"


def chat_group(public_id: object) -> str:
    return f"care.chat.{public_id}"


def staff_group(public_id: object) -> str:
    """The agents watching a chat: they also hear its internal notes."""
    return f"care.staff.{public_id}"


def agent_group(user_id: int) -> str:
    return f"care.agent.{user_id}"


def message_payload(message: Message) -> dict[str, Any]:
    author = message.author
    return {
        "id": message.id,
        "conversation": str(message.conversation.public_id),
        "sender": message.sender,
        "body": message.body,
        "created_at": message.created_at.isoformat(),
        "author": (author.first_name or author.username) if author is not None else "",
        "client_id": message.client_id,
        "attachment": _attachment(message) if message.has_attachment else None,
        # A bot answer from a help article: the widget asks "was this helpful?" while
        # `helpful` is None (then True or False, answered once).
        "article": message.article.slug if message.article is not None else None,
        "helpful": _helpful(message),
    }


def _helpful(message: Message) -> bool | None:
    if message.article_id is None:
        return None
    try:
        return bool(message.feedback.is_helpful)
    except ObjectDoesNotExist:
        return None


def _attachment(message: Message) -> dict[str, Any]:
    attachment = message.attachment
    return {
        "id": message.id,
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
    }


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    return {
        "conversation": str(conversation.public_id),
        "status": conversation.status,
        "agent": conversation.agent_id,
        "offered_to": conversation.offered_to_id,
    }


def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)


def publish_message(message: Message) -> None:
    public_id = message.conversation.public_id
    group = staff_group(public_id) if message.sender == Sender.NOTE else chat_group(public_id)
    _send(group, {"type": "chat.message", "message": message_payload(message)})


def publish_conversation(conversation: Conversation) -> None:
    payload = conversation_payload(conversation)
    _send(chat_group(conversation.public_id), {"type": "chat.status", **payload})
    _send(QUEUE_GROUP, {"type": "queue.changed", **payload})
    for user_id in (conversation.offered_to_id, conversation.agent_id):
        if user_id is not None:
            _send(agent_group(user_id), {"type": "queue.changed", **payload})


def publish_verification(public_id: object, state: str) -> None:
    """An identity check of the chat changed: "code_sent" (the widget shows a code entry),
    "verified", "failed" or "ended". Never carries the code."""
    _send(
        chat_group(public_id),
        {"type": "chat.verification", "conversation": str(public_id), "state": state},
    )
