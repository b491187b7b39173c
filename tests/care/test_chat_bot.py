"""The knowledge-base bot inside the chat, in the three languages (needs the bot of
care/bot.py and care/retrieval.py; skipped on a tree without them)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync

from simcare.care import bot_adapter
from simcare.care.models import Conversation, ConversationStatus
from tests.care.conftest import IN_HOURS, receive_messages, visitor

pytest.importorskip("simcare.care.retrieval")
pytest.importorskip("simcare.care.bot")

pytestmark = pytest.mark.django_db(transaction=True)

QUESTIONS = {
    "en": ("How do I activate my eSIM?", "Scan the QR code from your email."),
    "fr": ("Comment activer ma eSIM ?", "Scannez le code QR reçu par courriel."),
    "zh-hans": ("怎么激活我的eSIM", "扫描邮件中的二维码即可。"),
}


@pytest.fixture
def article() -> None:
    from simcare.care.models import Article, ArticleTranslation  # type: ignore[attr-defined]

    activation = Article.objects.create(slug="esim-activation", category="esim")
    for language, (question, answer) in QUESTIONS.items():
        ArticleTranslation.objects.create(
            article=activation,
            language=language,
            question=question,
            alternatives=[],
            answer=answer,
        )


@pytest.mark.parametrize("language", ["en", "fr", "zh-hans"])
def test_the_bot_answers_from_the_knowledge_base_in_the_chats_language(
    team: Any, article: None, language: str
) -> None:
    question, answer = QUESTIONS[language]

    async def scenario() -> list[dict[str, Any]]:
        communicator = visitor(f"language={language}")
        await communicator.connect()
        json.loads(await communicator.receive_from(timeout=20))
        await communicator.send_json_to({"type": "message", "body": question})
        frames = await receive_messages(communicator, 2)
        await communicator.disconnect()
        return frames

    with time_machine.travel(IN_HOURS, tick=False):
        frames = async_to_sync(scenario)()
        expected = bot_adapter.reply_to(question, language=language)

    assert [frame["sender"] for frame in frames] == ["visitor", "bot"]
    assert frames[1]["body"] == expected.text
    assert expected.handoff is False
    assert expected.slug == "esim-activation"
    assert answer in frames[1]["body"]
    assert Conversation.objects.get().status == ConversationStatus.BOT
