"""The demo's own knowledge base: complete in three languages, loaded once by `simcare demo`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simcare.care.models import Article, ArticleTranslation
from simcare.demo.loader import LoadSummary, load_knowledge_base, read_data


def test_every_demo_article_is_written_in_three_languages() -> None:
    articles: list[dict[str, Any]] = read_data("kb.json")

    assert 25 <= len(articles) <= 40
    assert len({article["slug"] for article in articles}) == len(articles)
    for article in articles:
        assert set(article["translations"]) == {"zh-hans", "en", "fr"}, article["slug"]
        for text in article["translations"].values():
            assert text["question"]
            assert text["answer"]
            assert len(text["alternatives"]) >= 3, article["slug"]


def test_the_demo_kb_never_points_at_the_shared_folder() -> None:
    assert "shared" not in json.dumps(read_data("kb.json"))


@pytest.mark.django_db
def test_loading_the_demo_kb_twice_creates_it_once() -> None:
    first, second = LoadSummary(), LoadSummary()

    load_knowledge_base(first)
    stamps = dict(Article.objects.values_list("slug", "updated_at"))
    load_knowledge_base(second)

    count = len(read_data("kb.json"))
    assert (first.kb_articles, second.kb_articles) == (count, 0)
    assert second.created_anything is False
    assert Article.objects.count() == count
    assert ArticleTranslation.objects.count() == 3 * count
    assert dict(Article.objects.values_list("slug", "updated_at")) == stamps
