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

A publish from a request or WebSocket thread does not wait for the channel layer: it is
handed to the thread's event loop, which sends the publishes of the process one after
the other in the order they were made (_Publisher), while the thread goes on to the next
message's transaction. Elsewhere (a worker, a management command) it waits as before.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
import weakref
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.exceptions import ObjectDoesNotExist

from simcare.care.models import Conversation, Message, Sender
from simcare.ops.logs import get_logger

log = get_logger("simcare.care.relay")

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


class _Publisher:
    """The publishes handed to one event loop, sent in order by one task at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: collections.deque[tuple[BaseChannelLayer, str, dict[str, Any]]] = (
            collections.deque()
        )
        self.draining = False  # read and written on the loop's thread only
        self.task: asyncio.Task[None] | None = None  # the loop keeps only a weak reference

    def submit(self, layer: BaseChannelLayer, group: str, event: dict[str, Any]) -> None:
        """From any thread: queue the publish without waiting for it."""
        self.loop.call_soon_threadsafe(self._enqueue, layer, group, event)

    def _enqueue(self, layer: BaseChannelLayer, group: str, event: dict[str, Any]) -> None:
        self.pending.append((layer, group, event))
        if not self.draining:
            self.draining = True
            self.task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.pending:
                layer, group, event = self.pending.popleft()
                try:
                    await layer.group_send(group, event)
                except Exception:  # a lost publish is caught up on reconnection
                    log.exception("relay_publish_failed", group=group)
        finally:
            self.draining = False


_publishers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Publisher] = (
    weakref.WeakKeyDictionary()
)
_publishers_lock = threading.Lock()


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop this thread works for (inside sync_to_async), if any."""
    local = SyncToAsync.threadlocal
    loop: asyncio.AbstractEventLoop | None = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() else None


def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _serving_loop()
    if loop is not None:
        with _publishers_lock:  # one publisher per loop, or the order would be lost
            publisher = _publishers.get(loop)
            if publisher is None:
                publisher = _publishers[loop] = _Publisher(loop)
        try:
            publisher.submit(layer, group, event)
            return
        except RuntimeError:  # the loop closed meanwhile
            pass
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
