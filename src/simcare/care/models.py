"""The knowledge base the bot and the help center answer from, and what readers said of it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class KbLanguage(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    EN = "en", _("English")
    FR = "fr", _("French")


class Article(models.Model):
    """One help topic, e.g. slug "renew-plan-online", category "renewal".

    Its text lives in one ArticleTranslation per language. Only published
    articles are searched by the bot and the help center.
    """

    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    category = models.CharField(_("category"), max_length=40, blank=True)
    is_published = models.BooleanField(_("published"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    # Bumped by every save, admin edits of the translations included: the bot's
    # cached index is rebuilt when the newest stamp (or the count) changes.
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["category", "slug"]
        verbose_name = _("knowledge-base article")
        verbose_name_plural = _("knowledge-base articles")

    def __str__(self) -> str:
        return self.slug


class ArticleTranslation(models.Model):
    """An article in one language: its question, other ways of asking it, and the answer.

    Example (en): "How do I renew my plan online?", ["renew my plan", "how do I pay
    for next month"], "Sign in to My Account and choose Renew on your line…".
    """

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(_("language"), max_length=8, choices=KbLanguage.choices)
    question = models.CharField(_("question"), max_length=300)
    alternatives = models.JSONField(
        _("alternative phrasings"),
        default=list,
        blank=True,
        help_text=_("Other ways customers ask this question, as a JSON list of strings."),
    )
    answer = models.TextField(_("answer"))

    class Meta:
        ordering = ["article", "language"]
        verbose_name = _("translation")
        verbose_name_plural = _("translations")
        constraints = [
            models.UniqueConstraint(
                fields=["article", "language"], name="care_translation_one_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.article_id} {self.language}"


class ArticleFeedback(models.Model):
    """One "was this helpful?" answer, e.g. renew-plan-online, fr, not helpful,
    asked as "comment payer le mois prochain"."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feedback")
    language = models.CharField(_("language"), max_length=8, choices=KbLanguage.choices)
    is_helpful = models.BooleanField(_("helpful"))
    question = models.CharField(_("question asked"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("article feedback")
        verbose_name_plural = _("article feedback")
        indexes = [models.Index(fields=["article", "created_at"])]

    def __str__(self) -> str:
        return f"{self.article_id} {'+' if self.is_helpful else '-'}"
