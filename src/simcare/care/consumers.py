"""The chat's WebSocket endpoints: the visitor's widget and the agent's console.

Visitor, `/ws/care/chat/?token=…&last=…&language=…`. The server answers every
connection with a `session` frame carrying the (new or same) signed visitor
token, then every message after `last`. Frames the client sends:
  {"type": "message", "body": "…", "client_id": "…"}   a message (client_id dedupes resends)
  {"type": "person"}                                    talk to a person
  {"type": "sync", "last": 41}                          everything after id 41
  {"type": "email_transcript"}                          the transcript to my account's email
  {"type": "attachment", "name": "…", "data": "<base64>", "client_id": "…"}  an image or PDF
  {"type": "verify_code", "code": "123456"}             the identity code an agent sent
  {"type": "helpful", "message": 42, "helpful": true}   "was this helpful?" on a bot answer
  {"type": "rating", "score": 1-5, "comment": "…"}    CSAT of the closed chat, once
Frames it receives: session, message, status, notice, rated {score, text}, error {code,
message}, and verification {state: code_sent | verified | failed | ended} (code_sent: show
the code entry; the session frame says "verification": "code" while one is pending). A
message frame of a bot answer from an article carries "article" (its slug) and "helpful"
(None until answered). A message that is just 6 digits while a code is pending is taken
as the code, not stored as chat text.

Agent, `/ws/care/console/` (agents and admins signed in with TOTP):
  {"type": "join", "conversation": "<uuid>", "last": 0}  watch a chat (notes included)
  {"type": "message", "conversation": "<uuid>", "body": "…", "internal": false}
Frames it receives: message, status, queue (the queue changed), error, and
verification {conversation, state} (an identity check of a watched chat changed).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import translation
from django.utils.translation import gettext as _
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from simcare.care import (
    chat_queries,
    chat_services,
    relay,
    ticket_services,
    tokens,
    verification,
)
from simcare.care.models import Conversation
from simcare.kit.problems import DomainError

FORBIDDEN_CLOSE_CODE = 4403


def _query(scope: dict[str, Any]) -> dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {key: values[-1] for key, values in parsed.items() if values}


def _int(value: object) -> int:
    try:
        return max(int(str(value)), 0)
    except ValueError:
        return 0


def _decoded(data: object) -> bytes:
    """Base64 file content; anything else is an empty (refused) file."""
    if not isinstance(data, str):
        return b""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return b""


class VisitorChatConsumer(AsyncJsonWebsocketConsumer):
    conversation: Conversation
    visitor_key: str
    language_was_chosen: bool

    async def connect(self) -> None:
        query = _query(self.scope)
        self.visitor_key = tokens.visitor_key_from(query.get("token", "")) or (
            tokens.new_visitor_key()
        )
        language = chat_services.supported_language(query.get("language"))
        self.language_was_chosen = language is not None
        user = self.scope.get("user")
        self.conversation = await database_sync_to_async(chat_services.open_conversation)(
            visitor_key=self.visitor_key,
            user=user if user is not None and user.is_authenticated else None,
            language=language,
            name=query.get("name", ""),
            contact=query.get("contact", ""),
        )
        await self.channel_layer.group_add(
            relay.chat_group(self.conversation.public_id), self.channel_name
        )
        await self.accept()
        public_id = str(self.conversation.public_id)
        await self.send_json(
            {
                "type": "session",
                "token": tokens.visitor_token(self.visitor_key),
                "conversation": public_id,
                "status": self.conversation.status,
                "language": self.conversation.language,
                "transcript_token": tokens.transcript_token(public_id),
                "verification": await database_sync_to_async(_pending_code)(self.conversation),
            }
        )
        await self._send_after(_int(query.get("last", 0)))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "conversation"):
            await self.channel_layer.group_discard(
                relay.chat_group(self.conversation.public_id), self.channel_name
            )

    async def _send_after(self, last_seen: int) -> None:
        messages = await database_sync_to_async(chat_queries.messages_after)(
            self.conversation, last_seen
        )
        for message in messages:
            await self.send_json({"type": "message", **relay.message_payload(message)})

    async def _error(self, error: DomainError) -> None:
        await self.send_json({"type": "error", "code": error.code, "message": error.message})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            with translation.override(self.conversation.language):
                if kind == "message" and await database_sync_to_async(_is_code_entry)(
                    self.conversation, content.get("body")
                ):
                    await database_sync_to_async(verification.submit_code)(
                        self.conversation, content.get("body")
                    )
                elif kind == "verify_code":
                    await database_sync_to_async(verification.submit_code)(
                        self.conversation, content.get("code")
                    )
                elif kind == "helpful":
                    await database_sync_to_async(chat_services.answer_helpful)(
                        self.conversation,
                        message_id=content.get("message"),
                        is_helpful=content.get("helpful"),
                    )
                    await self.send_json(
                        {
                            "type": "notice",
                            "text": _("Thank you for your feedback."),
                            "helpful_recorded": _int(content.get("message")),
                        }
                    )
                elif kind == "message":
                    await database_sync_to_async(chat_services.post_visitor_message)(
                        self.conversation,
                        body=content.get("body"),
                        client_id=str(content.get("client_id") or ""),
                        language_was_chosen=self.language_was_chosen,
                    )
                    if not self.language_was_chosen:
                        await self._refresh()  # the first message may have set the language
                elif kind == "attachment":
                    await database_sync_to_async(chat_services.post_visitor_attachment)(
                        self.conversation,
                        name=str(content.get("name") or ""),
                        data=_decoded(content.get("data")),
                        client_id=str(content.get("client_id") or ""),
                    )
                elif kind == "person":
                    await database_sync_to_async(chat_services.request_person)(self.conversation)
                elif kind == "sync":
                    await self._send_after(_int(content.get("last", 0)))
                elif kind == "rating":
                    await self._rate(content)
                elif kind == "email_transcript":
                    await database_sync_to_async(chat_services.email_transcript)(self.conversation)
                    await self.send_json(
                        {"type": "notice", "text": _("The transcript is on its way to your email.")}
                    )
        except DomainError as error:
            with translation.override(self.conversation.language):
                await self._error(type(error)())

    async def _rate(self, content: dict[str, Any]) -> None:
        """CSAT of the closed chat, once (a second try is an `rating_already_given` error)."""
        rating = await database_sync_to_async(ticket_services.rate_conversation)(
            self.conversation, score=content.get("score"), comment=content.get("comment") or ""
        )
        await self.send_json(
            {"type": "rated", "score": rating.score, "text": _("Thank you for your rating!")}
        )

    async def _refresh(self) -> None:
        self.conversation = await database_sync_to_async(Conversation.objects.get)(
            pk=self.conversation.pk
        )

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "message", **event["message"]})

    async def chat_status(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "status", "status": event["status"]})

    async def chat_verification(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "verification", "state": event["state"]})


def _pending_code(conversation: Conversation) -> str:
    return "code" if verification.pending_code_check(conversation) is not None else ""


def _is_code_entry(conversation: Conversation, body: object) -> bool:
    """Six digits typed while a code is pending: the code, never kept as a chat message."""
    return (
        verification.normalized_code(body) is not None
        and verification.pending_code_check(conversation, or_expired=True) is not None
    )


def _verified_care_agent(scope: dict[str, Any]) -> Any:
    """The scope's user when an agent or admin who passed TOTP this session, else None."""
    user = scope.get("user")
    if user is None or not chat_queries.is_care_agent(user):
        return None
    session = scope.get("session")
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id:
        return None
    device = Device.from_persistent_id(persistent_id)
    if device is None or device.user_id != user.pk or not device.confirmed:
        return None
    return user


class AgentConsoleConsumer(AsyncJsonWebsocketConsumer):
    agent: Any
    watching: set[str]

    async def connect(self) -> None:
        self.watching = set()
        self.agent = await database_sync_to_async(_verified_care_agent)(self.scope)
        if self.agent is None:
            await self.close(code=FORBIDDEN_CLOSE_CODE)
            return
        await self.channel_layer.group_add(relay.QUEUE_GROUP, self.channel_name)
        await self.channel_layer.group_add(relay.agent_group(self.agent.pk), self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "agent", None) is None:
            return
        await self.channel_layer.group_discard(relay.QUEUE_GROUP, self.channel_name)
        await self.channel_layer.group_discard(relay.agent_group(self.agent.pk), self.channel_name)
        for public_id in self.watching:
            await self.channel_layer.group_discard(relay.chat_group(public_id), self.channel_name)
            await self.channel_layer.group_discard(relay.staff_group(public_id), self.channel_name)

    async def _conversation(self, public_id: object) -> Conversation | None:
        try:
            return await database_sync_to_async(chat_queries.conversation_for_agent)(
                self.agent, public_id
            )
        except Conversation.DoesNotExist:
            await self.send_json(
                {"type": "error", "code": "not_found", "message": _("This chat was not found.")}
            )
            return None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        conversation = await self._conversation(content.get("conversation"))
        if conversation is None:
            return
        public_id = str(conversation.public_id)
        if kind == "join":
            self.watching.add(public_id)
            await self.channel_layer.group_add(relay.chat_group(public_id), self.channel_name)
            await self.channel_layer.group_add(relay.staff_group(public_id), self.channel_name)
            messages = await database_sync_to_async(chat_queries.messages_after)(
                conversation, _int(content.get("last", 0)), include_notes=True
            )
            for message in messages:
                await self.send_json({"type": "message", **relay.message_payload(message)})
        elif kind == "message":
            try:
                await database_sync_to_async(chat_services.post_agent_message)(
                    conversation,
                    agent=self.agent,
                    body=content.get("body"),
                    is_internal=bool(content.get("internal")),
                    client_id=str(content.get("client_id") or ""),
                )
            except DomainError as error:
                await self.send_json(
                    {"type": "error", "code": error.code, "message": error.message}
                )

    async def chat_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "message", **event["message"]})

    async def chat_status(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "status", "conversation": event["conversation"], "status": event["status"]}
        )

    async def chat_verification(self, event: dict[str, Any]) -> None:
        conversation = event.get("conversation", "")
        await self.send_json(
            {"type": "verification", "conversation": conversation, "state": event["state"]}
        )

    async def queue_changed(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": "queue",
                "conversation": event["conversation"],
                "status": event["status"],
                "offered_to_me": event["offered_to"] == self.agent.pk,
            }
        )
