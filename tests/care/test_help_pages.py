"""The help center page: search results in the page's language, escaped; "was this helpful?"."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from simcare.care.models import Article, ArticleFeedback
from simcare.care.views import FEEDBACK_PER_HOUR

pytestmark = pytest.mark.django_db


def test_the_help_page_shows_the_matching_answers_in_the_page_language(demo_kb: Path) -> None:
    response = Client().get("/fr/help/", {"q": "installer l'eSIM sur iPhone"})

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="fr">' in html
    assert "Comment installer mon eSIM sur un iPhone?" in html
    assert "<strong>Réglages &gt; Cellulaire &gt; Ajouter une eSIM" in html
    assert "Cette réponse vous a-t-elle aidé?" in html


def test_htmx_gets_only_the_results(demo_kb: Path) -> None:
    response = Client().get("/zh-hans/help/", {"q": "怎么开热点"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert "<html" not in html
    assert 'id="article-hotspot"' in html
    assert "可以开热点给电脑用吗\uff1f" in html


def test_the_empty_page_and_a_query_without_answers(demo_kb: Path) -> None:
    empty = Client().get("/en/help/")
    nothing = Client().get("/en/help/", {"q": "zzzz qqqq"})

    assert empty.status_code == nothing.status_code == 200
    assert 'id="article-' not in empty.content.decode()
    assert "No answer found for “zzzz qqqq”" in nothing.content.decode()


def test_html_in_an_article_or_a_query_is_shown_as_text(tmp_path: Path) -> None:
    hostile = [
        {
            "slug": "hostile",
            "category": "test",
            "translations": {
                "en": {
                    "question": "<script>alert('q')</script> voicemail setup",
                    "alternatives": [],
                    "answer": "Dial <img src=x onerror=alert(1)> **now** <script>alert(2)</script>",
                }
            },
        }
    ]
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(hostile), encoding="utf-8")
    call_command("kb", "import", str(path))

    response = Client().get("/en/help/", {"q": "<script>alert(3)</script> voicemail"})

    html = response.content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;q&#x27;)&lt;/script&gt; voicemail setup" in html
    assert "Dial &lt;img src=x onerror=alert(1)&gt; <strong>now</strong>" in html
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html


def test_feedback_is_recorded_once_per_article_and_session(demo_kb: Path) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/fr/help/", {"q": "messagerie vocale"})
    token = page.cookies["csrftoken"].value
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()

    first = client.post(
        "/fr/help/feedback/",
        {
            "slug": "voicemail",
            "helpful": "no",
            "q": "messagerie vocale",
            "csrfmiddlewaretoken": token,
        },
        headers={"HX-Request": "true"},
    )
    again = client.post(
        "/fr/help/feedback/",
        {"slug": "voicemail", "helpful": "yes", "csrfmiddlewaretoken": token},
    )

    assert first.status_code == 200
    assert "Merci de votre avis." in first.content.decode()
    assert again.status_code == 302
    assert again["Location"] == "/fr/help/#article-voicemail"
    feedback = ArticleFeedback.objects.get()
    assert (feedback.article.slug, feedback.language, feedback.is_helpful, feedback.question) == (
        "voicemail",
        "fr",
        False,
        "messagerie vocale",
    )


def test_feedback_without_csrf_or_with_a_bad_article_records_nothing(demo_kb: Path) -> None:
    no_token = Client(enforce_csrf_checks=True).post(
        "/en/help/feedback/", {"slug": "voicemail", "helpful": "yes"}
    )
    unknown = Client().post("/en/help/feedback/", {"slug": "nope", "helpful": "yes"})
    bad_value = Client().post("/en/help/feedback/", {"slug": "voicemail", "helpful": "maybe"})

    assert no_token.status_code == 403
    assert unknown.status_code == bad_value.status_code == 400
    assert ArticleFeedback.objects.count() == 0


def test_feedback_from_one_address_is_limited_per_hour(demo_kb: Path) -> None:
    slugs = list(Article.objects.values_list("slug", flat=True))
    # An address of its own for each run: with Redis the counts outlive the test database.
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    client = Client(REMOTE_ADDR=address)
    statuses = []
    for number in range(FEEDBACK_PER_HOUR + 1):
        client.cookies.clear()  # a new session each time: only the address is shared
        response = client.post(
            "/en/help/feedback/", {"slug": slugs[number % len(slugs)], "helpful": "yes"}
        )
        statuses.append(response.status_code)

    assert statuses[:FEEDBACK_PER_HOUR] == [302] * FEEDBACK_PER_HOUR
    assert statuses[-1] == 429
    assert ArticleFeedback.objects.count() == FEEDBACK_PER_HOUR
    other = Client(REMOTE_ADDR=f"{address}1").post(
        "/en/help/feedback/", {"slug": slugs[0], "helpful": "no"}
    )
    assert other.status_code == 302
