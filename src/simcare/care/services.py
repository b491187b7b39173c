"""Changes to the knowledge base and its feedback: the import, "was this helpful?"."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction
from django.utils.translation import gettext as _

from simcare.accounts.models import User
from simcare.accounts.services import record_audit
from simcare.care import retrieval
from simcare.care.errors import KnowledgeBaseFileRefused
from simcare.care.models import Article, ArticleFeedback, ArticleTranslation, Message

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
MAX_SLUG = 100
MAX_CATEGORY = 40
MAX_QUESTION = 300
MAX_ALTERNATIVES = 50
MAX_FEEDBACK_QUESTION = 500


@dataclass(frozen=True)
class RejectedArticle:
    number: int  # 1-based position in the file
    slug: str
    reason: str


@dataclass
class KbImportReport:
    articles_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedArticle] = field(default_factory=list)


@dataclass(frozen=True)
class _Translation:
    question: str
    alternatives: list[str]
    answer: str


@dataclass(frozen=True)
class _Entry:
    slug: str
    category: str
    is_published: bool
    translations: dict[str, _Translation]


class _Invalid(ValueError):
    pass


def read_kb_file(source: IO[str]) -> list[Any]:
    """The file's articles; KnowledgeBaseFileRefused when it is not a JSON list."""
    try:
        data = json.load(source)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise KnowledgeBaseFileRefused(
            _("This is not JSON: %(error)s") % {"error": error}
        ) from error
    if not isinstance(data, list):
        raise KnowledgeBaseFileRefused(
            _('A knowledge-base file is a JSON list of articles: [{"slug": …}, …].')
        )
    return data


def _text(value: Any, what: str, *, limit: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(_("%(what)s must be a non-empty text") % {"what": what})
    text = value.strip()
    if limit is not None and len(text) > limit:
        raise _Invalid(
            _("%(what)s is longer than %(limit)s characters") % {"what": what, "limit": limit}
        )
    return text


def _parse(item: Any) -> _Entry:
    if not isinstance(item, dict):
        raise _Invalid(_("an article must be a JSON object"))
    slug = item.get("slug")
    if not isinstance(slug, str) or not SLUG_PATTERN.fullmatch(slug) or len(slug) > MAX_SLUG:
        raise _Invalid(
            _("slug must be lower-case letters, digits and hyphens, at most %(limit)s long")
            % {"limit": MAX_SLUG}
        )
    category = item.get("category", "")
    if not isinstance(category, str) or len(category) > MAX_CATEGORY:
        raise _Invalid(
            _("category must be a text of at most %(limit)s characters") % {"limit": MAX_CATEGORY}
        )
    is_published = item.get("is_published", True)
    if not isinstance(is_published, bool):
        raise _Invalid(_("is_published must be true or false"))
    translations = item.get("translations")
    if not isinstance(translations, dict) or not translations:
        raise _Invalid(_("translations must be an object with at least one language"))
    parsed: dict[str, _Translation] = {}
    for language, translation in translations.items():
        if language not in retrieval.LANGUAGES:
            raise _Invalid(
                _("unknown language %(language)s (use %(languages)s)")
                % {"language": language, "languages": ", ".join(retrieval.LANGUAGES)}
            )
        if not isinstance(translation, dict):
            raise _Invalid(
                _("translations.%(language)s must be an object") % {"language": language}
            )
        alternatives = translation.get("alternatives", [])
        if (
            not isinstance(alternatives, list)
            or len(alternatives) > MAX_ALTERNATIVES
            or not all(isinstance(text, str) and text.strip() for text in alternatives)
        ):
            raise _Invalid(
                _("translations.%(language)s.alternatives must be a list of texts")
                % {"language": language}
            )
        parsed[language] = _Translation(
            question=_text(
                translation.get("question"), f"translations.{language}.question", limit=MAX_QUESTION
            ),
            alternatives=[text.strip() for text in alternatives],
            answer=_text(translation.get("answer"), f"translations.{language}.answer"),
        )
    return _Entry(slug, category.strip(), is_published, parsed)


def _slug_of(item: Any) -> str:
    slug = item.get("slug") if isinstance(item, dict) else None
    return slug[:MAX_SLUG] if isinstance(slug, str) else ""


@transaction.atomic
def _apply(entry: _Entry) -> tuple[str, Article]:
    """("created" | "updated" | "unchanged", the article)."""
    # get_or_create, not check-then-create: two imports of the same new slug at once
    # both end with one article; an existing one is locked for the comparison below.
    article, created = Article.objects.get_or_create(
        slug=entry.slug,
        defaults={"category": entry.category, "is_published": entry.is_published},
    )
    outcome = "created" if created else "unchanged"
    if not created:
        article = Article.objects.select_for_update().get(pk=article.pk)
    existing = {row.language: row for row in article.translations.all()}
    changed = False
    for language, text in entry.translations.items():
        row = existing.get(language)
        if row is None:
            ArticleTranslation.objects.create(
                article=article,
                language=language,
                question=text.question,
                alternatives=text.alternatives,
                answer=text.answer,
            )
            changed = True
        elif (row.question, list(row.alternatives or []), row.answer) != (
            text.question,
            text.alternatives,
            text.answer,
        ):
            row.question, row.alternatives, row.answer = (
                text.question,
                text.alternatives,
                text.answer,
            )
            row.save(update_fields=["question", "alternatives", "answer"])
            changed = True
    if outcome == "created":
        return outcome, article
    if changed or (article.category, article.is_published) != (
        entry.category,
        entry.is_published,
    ):
        article.category, article.is_published = entry.category, entry.is_published
        article.save(update_fields=["category", "is_published", "updated_at"])
        return "updated", article
    return outcome, article


def import_articles(
    items: list[Any], *, acting_user: User | None, source_name: str = ""
) -> KbImportReport:
    """Upsert each article by slug; a bad article is reported by its number and skipped.

    Languages an entry gives replace that language's text; languages it leaves out
    are kept. An article whose text is already the same is not touched, so
    re-importing a file changes nothing (and keeps the bot's index).
    """
    report = KbImportReport(articles_read=len(items))
    first_seen: dict[str, int] = {}
    last_changed: Article | None = None
    for number, item in enumerate(items, start=1):
        slug = _slug_of(item)
        try:
            entry = _parse(item)
            if entry.slug in first_seen:
                raise _Invalid(
                    _("slug %(slug)s already given by article %(number)s")
                    % {"slug": entry.slug, "number": first_seen[entry.slug]}
                )
            first_seen[entry.slug] = number
        except _Invalid as problem:
            report.rejected.append(RejectedArticle(number, slug, str(problem)))
            continue
        outcome, article = _apply(entry)
        setattr(report, outcome, getattr(report, outcome) + 1)
        if outcome != "unchanged":
            last_changed = article
    if last_changed is not None:
        record_audit(
            "kb.imported",
            actor=acting_user,
            target=last_changed,
            source=source_name,
            created=report.created,
            updated=report.updated,
            rejected=len(report.rejected),
        )
    return report


@transaction.atomic
def record_feedback(
    article: Article,
    *,
    language: str,
    is_helpful: bool,
    question: str = "",
    chat_message: Message | None = None,
) -> ArticleFeedback:
    """One "was this helpful?" answer; the question is kept to improve the article. With
    `chat_message` (the bot's answer in a chat) it is one answer per message: a second
    call returns the first."""
    if language not in retrieval.LANGUAGES:
        language = "en"
    if chat_message is not None:
        feedback, _created = ArticleFeedback.objects.get_or_create(
            chat_message=chat_message,
            defaults={
                "article": article,
                "language": language,
                "is_helpful": is_helpful,
                "question": question.strip()[:MAX_FEEDBACK_QUESTION],
            },
        )
        return feedback
    return ArticleFeedback.objects.create(
        article=article,
        language=language,
        is_helpful=is_helpful,
        question=question.strip()[:MAX_FEEDBACK_QUESTION],
    )
