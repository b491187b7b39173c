"""The help center in Chromium: results as you type (htmx), then "was this helpful?"."""

from __future__ import annotations

import io
import re
from importlib import resources

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from simcare.care.models import ArticleFeedback

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_visitor_searches_as_they_type_and_says_an_answer_helped(
    live_server: object, page: Page
) -> None:
    # given
    kb = resources.files("simcare.demo").joinpath("kb.json")
    call_command("kb", "import", str(kb), stdout=io.StringIO())
    base = live_server.url  # type: ignore[attr-defined]
    page.goto(f"{base}/fr/help/")

    # when
    page.get_by_role("searchbox", name="Votre question").press_sequentially(
        "messagerie vocale", delay=20
    )

    # then
    heading = page.get_by_role("heading", name="Comment configurer ma messagerie vocale?")
    expect(heading).to_be_visible()
    expect(page).to_have_url(re.compile(r"/fr/help/\?q=messagerie(\+|%20)vocale$"))
    article = page.locator("#article-voicemail")
    article.get_by_role("button", name="Oui").click()
    expect(article.get_by_text("Merci de votre avis.")).to_be_visible()
    feedback = ArticleFeedback.objects.get()
    assert (feedback.article.slug, feedback.is_helpful, feedback.language) == (
        "voicemail",
        True,
        "fr",
    )
