"""Identity codes and "was this helpful?" in the visitor's chat, over the real WebSocket:
the customer types the code the agent sent (right, wrong five times, too late), a code
typed as a plain message is never stored, codes never reach the logs, and the bot's
article answers take one yes/no each."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from django.utils import translation

from simcare.accounts.models import AuditEvent, Subscriber, User
from simcare.care import verification
from simcare.care.models import (
    Article,
    ArticleFeedback,
    ArticleTranslation,
    Conversation,
    IdentityCheck,
    Message,
    Sender,
    Team,
    VerificationStatus,
)
from simcare.catalog.models import Plan
from simcare.lines.models import Line
from simcare.notify.models import Notification
from tests.care.conftest import IN_HOURS, console, receive_until, visitor
from tests.care.verify.support import code_in, sent_sms, served_chat
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(IN_HOURS, tick=False) as traveller:
        yield traveller


@pytest.fixture
def agent(team: Team, make_agent: Callable[..., User]) -> User:
    return make_agent(languages=("en", "fr", "zh-hans"))


@pytest.fixture
def customer(
    make_subscriber: Callable[..., Subscriber], make_line: Callable[..., Line], plan: Plan
) -> tuple[Subscriber, Line]:
    subscriber = make_subscriber(language="zh-hans")
    return subscriber, make_line(subscriber, plan)


def _send_code(agent: User, chat: Conversation, line: Line, sms_file: Path) -> str:
    earlier = len(sent_sms(sms_file))
    response = signed_in_client(agent).post(
        reverse("console:verify_code", args=[chat.public_id]),
        {"destination": f"line:{line.pk}"},
    )
    assert response.status_code == 302
    return code_in(sent_sms(sms_file)[earlier]["body"])


def _zh(message: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(message)


WRONG = "That code is not right. Tries left: %(left)s."
LAST = "That code is not right, and that was the last try. The check is locked."


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _is_system(part: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: (
        frame["type"] == "message" and frame["sender"] == "system" and part in frame["body"]
    )


async def _connected(client: Client) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    communicator = visitor("language=zh-hans", client=client)
    connected, _code = await communicator.connect()
    assert connected
    session = json.loads(await communicator.receive_from(timeout=20))
    assert session["type"] == "session"
    return communicator, session


def test_the_right_code_in_the_widget_verifies_the_chat_for_15_minutes(
    agent: User,
    customer: tuple[Subscriber, Line],
    sms_file: Path,
    clock: time_machine.Traveller,
) -> None:
    subscriber, line = customer
    chat = served_chat(agent, subscriber, language="zh-hans")
    code = _send_code(agent, chat, line, sms_file)
    customer_client = signed_in_client(subscriber.user)
    agent_socket = console(agent)

    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        await agent_socket.connect()
        await agent_socket.send_json_to({"type": "join", "conversation": str(chat.public_id)})
        communicator, session = await _connected(customer_client)
        await communicator.send_json_to({"type": "verify_code", "code": code})
        frames = await receive_until(communicator, lambda frame: frame["type"] == "verification")
        seen = await receive_until(agent_socket, lambda frame: frame["type"] == "verification")
        await communicator.disconnect()
        await agent_socket.disconnect()
        return session, frames, seen

    session, frames, seen = async_to_sync(scenario)()

    assert session["verification"] == "code"
    assert frames[-1] == {"type": "verification", "state": "verified"}
    assert any(_is_system(_zh("Thank you: your identity is confirmed."))(frame) for frame in frames)
    assert seen[-1] == {
        "type": "verification",
        "conversation": str(chat.public_id),
        "state": "verified",
    }
    check = IdentityCheck.objects.get()
    assert check.status == VerificationStatus.VERIFIED
    assert check.code_secret == ""  # wiped once used
    assert check.bound_until == IN_HOURS + dt.timedelta(minutes=15)
    audit = AuditEvent.objects.get(action="care.identity_verified")
    assert audit.data == {
        "identity_check": check.pk,
        "method": "sms_code",
        "conversation": str(chat.public_id),
        "entered_by": "customer",
    }
    clock.shift(dt.timedelta(minutes=14, seconds=59))
    assert verification.valid_check(chat) == check
    clock.shift(dt.timedelta(seconds=1))
    assert verification.valid_check(chat) is None


def test_five_wrong_codes_lock_the_check_and_new_codes(
    agent: User, customer: tuple[Subscriber, Line], sms_file: Path
) -> None:
    subscriber, line = customer
    chat = served_chat(agent, subscriber, language="zh-hans")
    code = _send_code(agent, chat, line, sms_file)
    customer_client = signed_in_client(subscriber.user)

    wrong_texts = {_zh(WRONG) % {"left": left} for left in range(1, 5)} | {_zh(LAST)}

    def is_wrong(frame: dict[str, Any]) -> bool:
        return frame["type"] == "message" and frame["body"] in wrong_texts

    async def scenario() -> tuple[list[str], dict[str, Any], dict[str, Any]]:
        communicator, _session = await _connected(customer_client)
        said = []
        for _try in range(5):
            await communicator.send_json_to({"type": "verify_code", "code": _wrong(code)})
            frames = await receive_until(communicator, is_wrong)
            said.append(frames[-1]["body"])
        locked = await receive_until(communicator, lambda frame: frame["type"] == "verification")
        await communicator.send_json_to({"type": "verify_code", "code": code})
        late = await receive_until(communicator, lambda frame: frame["type"] == "error")
        await communicator.disconnect()
        return said, locked[-1], late[-1]

    said, locked, late = async_to_sync(scenario)()

    assert said[:4] == [_zh(WRONG) % {"left": left} for left in (4, 3, 2, 1)]
    assert said[4] == _zh(LAST)
    assert said[4] != LAST  # translated
    assert locked == {"type": "verification", "state": "failed"}
    assert late["code"] == "verify_no_code"
    check = IdentityCheck.objects.get()
    assert (check.status, check.failures, check.code_secret) == ("failed", 5, "")
    assert verification.valid_check(chat) is None
    again = signed_in_client(agent).post(
        reverse("console:verify_code", args=[chat.public_id]), {"destination": "email"}
    )
    assert again.status_code == 302
    assert IdentityCheck.objects.count() == 1  # locked: no new code for the hour
    assert AuditEvent.objects.filter(action="care.identity_check_failed").count() == 5


def test_a_code_typed_10_minutes_later_has_expired(
    agent: User,
    customer: tuple[Subscriber, Line],
    sms_file: Path,
    clock: time_machine.Traveller,
) -> None:
    subscriber, line = customer
    chat = served_chat(agent, subscriber, language="zh-hans")
    code = _send_code(agent, chat, line, sms_file)
    customer_client = signed_in_client(subscriber.user)
    clock.shift(dt.timedelta(minutes=10))

    async def scenario() -> list[dict[str, Any]]:
        communicator, session = await _connected(customer_client)
        assert session["verification"] == ""
        # typed in the message box: still taken as the (expired) code, not kept as text
        await communicator.send_json_to({"type": "message", "body": code, "client_id": "c9"})
        frames = await receive_until(communicator, lambda frame: frame["type"] == "verification")
        await communicator.disconnect()
        return frames

    frames = async_to_sync(scenario)()

    assert frames[-1]["state"] == "ended"
    assert any(_is_system(_zh("This code has expired. Ask for a new one."))(f) for f in frames)
    check = IdentityCheck.objects.get()
    assert (check.status, check.code_secret) == (VerificationStatus.EXPIRED, "")
    assert not Message.objects.filter(conversation=chat, sender=Sender.VISITOR).exists()
    assert verification.valid_check(chat) is None


def test_a_code_typed_as_a_message_is_taken_as_the_code_and_never_stored_or_logged(
    agent: User,
    customer: tuple[Subscriber, Line],
    sms_file: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    subscriber, line = customer
    chat = served_chat(agent, subscriber, language="zh-hans")
    code = _send_code(agent, chat, line, sms_file)
    customer_client = signed_in_client(subscriber.user)

    async def scenario() -> list[dict[str, Any]]:
        communicator, _session = await _connected(customer_client)
        await communicator.send_json_to(
            {"type": "message", "body": f" {code[:3]} {code[3:]} ", "client_id": "c1"}
        )
        frames = await receive_until(communicator, lambda frame: frame["type"] == "verification")
        await communicator.disconnect()
        return frames

    frames = async_to_sync(scenario)()

    assert frames[-1]["state"] == "verified"
    assert not Message.objects.filter(conversation=chat, sender=Sender.VISITOR).exists()
    everything = [
        caplog.text,
        capfd.readouterr().err,
        *Message.objects.values_list("body", flat=True),
        *(str(row) for row in AuditEvent.objects.values_list("data", flat=True)),
        *(
            f"{body} {context}"
            for body, context in Notification.objects.values_list("body", "context")
        ),
        *(str(frame) for frame in frames),
    ]
    assert caplog.records  # the requests and the outbox did log
    assert not [text for text in everything if code in text]


# --- was this helpful? ----------------------------------------------------------------------


@pytest.fixture
def article(db: Any) -> Article:
    activation = Article.objects.create(slug="esim-activation", category="esim")
    ArticleTranslation.objects.create(
        article=activation,
        language="en",
        question="How do I activate my eSIM?",
        alternatives=[],
        answer="Scan the QR code from your email.",
    )
    return activation


def test_a_bot_answer_from_an_article_takes_one_helpful_answer(
    team: Team, article: Article
) -> None:
    pytest.importorskip("simcare.care.bot")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
        communicator = visitor("language=en")
        await communicator.connect()
        session = json.loads(await communicator.receive_from(timeout=20))
        await communicator.send_json_to({"type": "message", "body": "How do I activate my eSIM?"})
        answer = (await receive_until(communicator, lambda f: f.get("sender") == "bot"))[-1]
        for helpful in (True, False):
            await communicator.send_json_to(
                {"type": "helpful", "message": answer["id"], "helpful": helpful}
            )
            notice = (await receive_until(communicator, lambda f: f["type"] == "notice"))[-1]
        await communicator.send_json_to(
            {"type": "helpful", "message": answer["id"] - 1, "helpful": True}
        )
        refused = (await receive_until(communicator, lambda f: f["type"] == "error"))[-1]
        await communicator.disconnect()
        again = visitor(f"language=en&token={session['token']}")
        await again.connect()
        await again.receive_from(timeout=20)
        replayed = (await receive_until(again, lambda f: f.get("sender") == "bot"))[-1]
        await again.disconnect()
        return answer, notice, refused, replayed

    answer, notice, refused, replayed = async_to_sync(scenario)()

    assert (answer["article"], answer["helpful"]) == ("esim-activation", None)
    assert notice["text"] == "Thank you for your feedback."
    assert notice["helpful_recorded"] == answer["id"]
    assert refused["code"] == "chat_feedback_refused"
    feedback = ArticleFeedback.objects.get()
    assert (feedback.article, feedback.is_helpful, feedback.language) == (article, True, "en")
    assert feedback.chat_message_id == answer["id"]
    assert feedback.question == "How do I activate my eSIM?"
    assert replayed["helpful"] is True
