"""The bot through `simcare kb ask`: answers in three languages, hand-offs, language detection."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from simcare.care.bot import answer_for
from simcare.care.retrieval import DEFAULT_THRESHOLD

pytestmark = pytest.mark.django_db


def ask(question: str, *options: str) -> dict[str, Any]:
    stdout = io.StringIO()
    call_command("kb", "ask", "--json", *options, question, stdout=stdout)
    result: dict[str, Any] = json.loads(stdout.getvalue())
    return result


@pytest.mark.parametrize(
    ("question", "language", "slug"),
    [
        ("iPhone 15 怎么装 eSIM", "zh-hans", "install-esim-iphone"),
        ("套餐过期了号码会被收回吗", "zh-hans", "grace-and-suspension"),
        ("where do I type the PIN of my top-up card", "en", "redeem-voucher"),
        ("does my plan work in the USA", "en", "roaming-united-states"),
        ("comment payer le mois prochain", "fr", "renew-online"),
        ("tarifs pour appeler la Chine", "fr", "call-abroad"),
    ],
)
def test_the_bot_answers_from_the_article_of_the_question_language(
    demo_kb: Path, question: str, language: str, slug: str
) -> None:
    result = ask(question)

    assert set(result) == {"slug", "score", "handoff", "language"}
    assert (result["slug"], result["handoff"], result["language"]) == (slug, False, language)
    assert DEFAULT_THRESHOLD <= result["score"] <= 1.0


def test_the_answer_text_is_the_article_in_that_language(demo_kb: Path) -> None:
    answer = answer_for("comment activer le renouvellement automatique", language="fr")

    assert answer.slug == "auto-renew"
    assert answer.text.startswith("Ouvrez votre ligne dans **Mon compte**")
    assert answer.intent == "article"


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("I want to talk to a person", "en"),
        ("agent", "en"),
        ("can I speak with a human please", "en"),
        ("人工", "zh-hans"),
        ("转人工客服", "zh-hans"),
        ("Je veux parler à un agent", "fr"),
        ("un conseiller svp", "fr"),
    ],
)
def test_asking_for_a_person_hands_off_in_every_language(
    demo_kb: Path, question: str, language: str
) -> None:
    result = ask(question)

    assert result == {"slug": None, "score": 1.0, "handoff": True, "language": language}


def test_the_handoff_is_said_in_the_conversation_language(demo_kb: Path) -> None:
    assert answer_for("人工", language=None).text == "我会为你转接人工客服。"
    assert answer_for("un agent", language="fr").text == (
        "Je vous mets en relation avec une personne qui pourra vous aider."
    )


@pytest.mark.parametrize(
    "question",
    ["what's the weather in Paris tomorrow", "recommend a good pizza restaurant", "asdfgh"],
)
def test_a_question_out_of_scope_is_handed_off_below_the_threshold(
    demo_kb: Path, question: str
) -> None:
    result = ask(question, "--language", "en")

    assert result["slug"] is None
    assert result["handoff"] is True
    assert result["score"] < DEFAULT_THRESHOLD


def test_a_given_language_wins_over_detection(demo_kb: Path) -> None:
    result = ask("eSIM iPhone", "--language", "fr")

    assert (result["slug"], result["language"]) == ("install-esim-iphone", "fr")


def test_without_articles_every_question_is_handed_off(db: Any) -> None:
    result = ask("how do I renew my plan")

    assert result == {"slug": None, "score": 0.0, "handoff": True, "language": "en"}


def test_the_plain_output_shows_the_answer(demo_kb: Path) -> None:
    stdout = io.StringIO()

    call_command("kb", "ask", "how do I set up voicemail", stdout=stdout)

    output = stdout.getvalue()
    assert output.startswith("[en] article voicemail, score ")
    assert "Dial *98" in output


def test_an_empty_question_asks_for_one(demo_kb: Path) -> None:
    answer = answer_for("   ", language="zh-hans")

    assert (answer.slug, answer.handoff, answer.intent) == (None, False, "empty")
    assert answer.text == "请输入你的问题。"
