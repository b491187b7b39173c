"""Transcripts: the text and PDF downloads behind the chat's signed link, and the email
through the outbox to a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.test import Client

from simcare.accounts.models import Subscriber, User
from simcare.care import chat_services
from simcare.care.models import Conversation
from simcare.notify.models import Notification
from simcare.ops.jobs import discover, run_job
from tests.care.conftest import IN_HOURS, is_message, receive_until, visitor
from tests.conftest import signed_in_client
from tests.notify.conftest import RecordingHandler

pytestmark = pytest.mark.django_db(transaction=True)


def _chat(query: str = "language=en", *, client: Client | None = None) -> dict[str, Any]:
    async def scenario() -> dict[str, Any]:
        communicator = visitor(query, client=client)
        await communicator.connect()
        session = json.loads(await communicator.receive_from(timeout=20))
        await communicator.send_json_to({"type": "message", "body": "<i>Où</i> est ma SIM ? 🚚"})
        await receive_until(communicator, is_message("system"))
        await communicator.disconnect()
        return session

    with time_machine.travel(IN_HOURS, tick=False):
        session: dict[str, Any] = async_to_sync(scenario)()
    return session


def test_the_text_transcript_downloads_with_the_chats_link_and_leaves_out_notes(
    team: Any, make_agent: Callable[..., User]
) -> None:
    agent = make_agent(first_name="Mei")
    session = _chat()
    conversation = Conversation.objects.get()
    with time_machine.travel(IN_HOURS, tick=False):
        chat_services.accept_chat(conversation, agent=agent)
        chat_services.post_agent_message(conversation, agent=agent, body="On it")
        chat_services.post_agent_message(
            conversation, agent=agent, body="secret note", is_internal=True
        )
    url = f"/chat/transcripts/{session['conversation']}.txt"

    response = Client().get(url, {"t": session["transcript_token"]})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = response.content.decode()
    assert "[2026-12-01 10:00] Visitor:\n    <i>Où</i> est ma SIM ? 🚚" in text
    assert "[2026-12-01 10:00] Mei:\n    On it" in text
    assert "secret note" not in text


def test_a_transcript_without_a_valid_link_is_404(team: Any) -> None:
    session = _chat()
    url = f"/chat/transcripts/{session['conversation']}.txt"
    other = _chat()  # another visitor's link does not open this chat

    assert Client().get(url).status_code == 404
    assert Client().get(url, {"t": other["transcript_token"]}).status_code == 404
    assert Client().get(url, {"t": session["transcript_token"] + "x"}).status_code == 404


def test_the_pdf_transcript(team: Any) -> None:
    session = _chat()

    response = Client().get(
        f"/chat/transcripts/{session['conversation']}.pdf", {"t": session["transcript_token"]}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


def test_a_signed_in_subscriber_has_the_transcript_emailed(
    team: Any, make_subscriber: Callable[..., Subscriber], smtp_server: RecordingHandler
) -> None:
    subscriber = make_subscriber(first_name="Chloé", language="fr", email="chloe@example.com")
    client = signed_in_client(subscriber.user)
    _chat("language=fr", client=client)

    async def ask() -> dict[str, Any]:
        communicator = visitor("language=fr", client=client)
        await communicator.connect()
        await receive_until(communicator, is_message("system"))
        await communicator.send_json_to({"type": "email_transcript"})
        frame = json.loads(await communicator.receive_from(timeout=20))
        await communicator.disconnect()
        return frame

    with time_machine.travel(IN_HOURS, tick=False):
        notice = async_to_sync(ask)()
        discover()
        run_job("outbox")

    assert notice == {
        "type": "notice",
        "text": "La transcription est en route vers votre courriel.",
    }
    assert [recipients for _sender, recipients in smtp_server.envelopes] == [["chloe@example.com"]]
    message = smtp_server.messages[0]
    assert message["Subject"] == "La transcription de votre clavardage"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "<i>Où</i> est ma SIM ? 🚚" in body.get_content()


def test_an_anonymous_visitor_is_told_to_sign_in_for_the_email(team: Any) -> None:
    async def ask() -> dict[str, Any]:
        communicator = visitor()
        await communicator.connect()
        await communicator.receive_from(timeout=20)
        await communicator.send_json_to({"type": "email_transcript"})
        frame = json.loads(await communicator.receive_from(timeout=20))
        await communicator.disconnect()
        return frame

    with time_machine.travel(IN_HOURS, tick=False):
        frame = async_to_sync(ask)()

    assert frame["type"] == "error"
    assert frame["code"] == "chat_transcript_no_email"
    assert Notification.objects.count() == 0
