"""The knowledge base in the back office: articles with their translations, and feedback."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from simcare.care.bot import answer_for
from simcare.care.models import Article, ArticleFeedback, ArticleTranslation
from simcare.care.services import record_feedback

pytestmark = pytest.mark.django_db

ADD = "/en/admin/care/article/add/"
PREFIX = "translations"


def inline_form(rows: list[dict[str, str]], *, initial: int = 0) -> dict[str, str]:
    data = {
        f"{PREFIX}-TOTAL_FORMS": str(len(rows)),
        f"{PREFIX}-INITIAL_FORMS": str(initial),
        f"{PREFIX}-MIN_NUM_FORMS": "1",
        f"{PREFIX}-MAX_NUM_FORMS": "3",
    }
    for number, row in enumerate(rows):
        data.update({f"{PREFIX}-{number}-{key}": value for key, value in row.items()})
    return data


def test_an_admin_adds_an_article_with_alternatives_one_per_line_and_the_bot_answers_it(
    admin_client_verified: Client,
) -> None:
    response = admin_client_verified.post(
        ADD,
        {
            "slug": "lost-luggage",
            "category": "travel",
            "is_published": "on",
            **inline_form(
                [
                    {
                        "language": "en",
                        "question": "Can you help with lost luggage?",
                        "alternatives": "airline lost my suitcase\n\n  baggage missing  \n",
                        "answer": "Ask your airline's baggage desk.",
                    }
                ]
            ),
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    row = ArticleTranslation.objects.get(article__slug="lost-luggage")
    assert row.alternatives == ["airline lost my suitcase", "baggage missing"]
    assert answer_for("my suitcase is missing", language="en").slug == "lost-luggage"


def test_the_article_list_and_change_page_show_languages_and_feedback(
    admin_client_verified: Client, demo_kb: Path
) -> None:
    article = Article.objects.get(slug="voicemail")
    record_feedback(article, language="fr", is_helpful=True)
    record_feedback(article, language="en", is_helpful=False)

    listing = admin_client_verified.get("/en/admin/care/article/", {"q": "voicemail"})
    change = admin_client_verified.get(f"/en/admin/care/article/{article.pk}/change/")
    feedback = admin_client_verified.get("/en/admin/care/articlefeedback/")

    assert listing.status_code == change.status_code == feedback.status_code == 200
    shown = list(listing.context["cl"].result_list)
    assert [(item.slug, item.helpful_count, item.not_helpful_count) for item in shown] == [
        ("voicemail", 1, 1)
    ]
    assert "Dial *98 to set up your voicemail" in change.content.decode()
    assert "voicemail\nlisten to my messages" in change.content.decode()
    assert ArticleFeedback.objects.count() == 2


def test_feedback_is_read_only_in_the_back_office(
    admin_client_verified: Client, demo_kb: Path
) -> None:
    article = Article.objects.get(slug="voicemail")
    row = record_feedback(article, language="en", is_helpful=True, question="voicemail?")

    add = admin_client_verified.get("/en/admin/care/articlefeedback/add/")
    delete = admin_client_verified.post(
        f"/en/admin/care/articlefeedback/{row.pk}/delete/", {"post": "yes"}
    )

    assert add.status_code == 403
    assert delete.status_code == 403
    assert ArticleFeedback.objects.count() == 1
