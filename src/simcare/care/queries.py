"""Reads on the knowledge base: the published articles, their search index, the export.

The knowledge base is public (the help center shows it to anyone), so these reads
need no access check; unpublished articles are left out everywhere but the export.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet

from simcare.care import retrieval
from simcare.care.models import Article, ArticleTranslation

_index_lock = threading.Lock()
_indexes: dict[str, tuple[tuple[int, Any], retrieval.Index]] = {}
_STAMP_SQL = f"SELECT COUNT(*), MAX(updated_at) FROM {Article._meta.db_table}"  # noqa: S608 - a constant


def published_articles() -> QuerySet[Article]:
    return Article.objects.filter(is_published=True)


def entries(language: str) -> list[retrieval.Entry]:
    """The published articles' text in `language`, for the index."""
    rows = (
        ArticleTranslation.objects.filter(article__is_published=True, language=language)
        .select_related("article")
        .order_by("article__slug")
    )
    return [
        retrieval.Entry(
            slug=row.article.slug,
            question=row.question,
            alternatives=tuple(str(text) for text in row.alternatives or ()),
            answer=row.answer,
        )
        for row in rows
    ]


def knowledge_base_stamp() -> tuple[int, Any]:
    """Changes whenever an article is added, edited, published, hidden or deleted.

    Plain SQL: the bot asks this before every answer, and compiling the ORM's
    aggregate costs more than running it.
    """
    with connection.cursor() as cursor:
        cursor.execute(_STAMP_SQL)
        count, newest = cursor.fetchone()
    return int(count), newest


def index_for(language: str) -> retrieval.Index:
    """The language's index, built on first use and rebuilt when the articles change.

    One cheap aggregate query per call decides: every process (web, worker, CLI)
    sees an admin's edit on its next question, with no cache to invalidate.
    """
    stamp = knowledge_base_stamp()
    cached = _indexes.get(language)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with _index_lock:
        cached = _indexes.get(language)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        index = retrieval.Index(entries(language), language)
        _indexes[language] = (stamp, index)
        return index


def translations_by_slug(slugs: list[str], language: str) -> dict[str, ArticleTranslation]:
    """Published articles' text in `language` (English when missing), keyed by slug."""
    rows = ArticleTranslation.objects.filter(
        article__is_published=True, article__slug__in=slugs, language__in={language, "en"}
    ).select_related("article")
    found: dict[str, ArticleTranslation] = {}
    for row in rows:
        if row.language == language or row.article.slug not in found:
            found[row.article.slug] = row
    return found


def export_articles() -> list[dict[str, Any]]:
    """Every article in the shape of `simcare kb import` (90-interfaces.md), by slug.

    "is_published" appears only for a hidden article, so a file of published
    articles keeps exactly the shape of the shared kb.json.
    """
    articles = Article.objects.order_by("slug").prefetch_related(
        Prefetch("translations", queryset=ArticleTranslation.objects.order_by("language"))
    )
    order = {language: position for position, language in enumerate(retrieval.LANGUAGES)}
    exported: list[dict[str, Any]] = []
    for article in articles:
        translations = sorted(article.translations.all(), key=lambda row: order[row.language])
        item: dict[str, Any] = {
            "slug": article.slug,
            "category": article.category,
            "translations": {
                row.language: {
                    "question": row.question,
                    "alternatives": list(row.alternatives or []),
                    "answer": row.answer,
                }
                for row in translations
            },
        }
        if not article.is_published:
            item["is_published"] = False
        exported.append(item)
    return exported
