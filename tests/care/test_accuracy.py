"""Top-1 accuracy of the bot on the labelled question set written for the demo's articles.

tests/care/questions.json holds paraphrases (not the articles' own alternatives) per
language with the expected slug, and out-of-scope questions expected to hand off
(slug null). The floor is below what the current retrieval reaches (0.93 when this
was written, see docs/care.md), so a regression in tokenising, ranking or the
threshold fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simcare.care.bot import answer_for

pytestmark = pytest.mark.django_db

QUESTIONS = Path(__file__).with_name("questions.json")
ACCURACY_FLOOR = 0.85
PER_LANGUAGE_FLOOR = 0.75


def test_top1_accuracy_on_the_labelled_questions(demo_kb: Path) -> None:
    labelled = json.loads(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    correct: dict[str, int] = {}
    wrong_handoffs = []
    for language, items in labelled.items():
        correct[language] = 0
        for question, slug in items:
            answer = answer_for(question, language=language)
            correct[language] += answer.slug == slug
            if slug is None and not answer.handoff:
                wrong_handoffs.append(question)

    total = sum(len(items) for items in labelled.values())
    assert sum(correct.values()) / total >= ACCURACY_FLOOR
    for language, items in labelled.items():
        assert correct[language] / len(items) >= PER_LANGUAGE_FLOOR, language
    assert len(wrong_handoffs) <= 1
    assert set(labelled) == {"zh-hans", "en", "fr"}
    assert total >= 100
