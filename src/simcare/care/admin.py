"""Back office for the knowledge base: articles with their three translations, and feedback.

Alternative phrasings are edited one per line. Saving an article (its
translations included) bumps its updated_at, which is what tells every process
to rebuild the bot's index.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline
from unfold.contrib.filters.admin import BooleanRadioFilter, ChoicesDropdownFilter
from unfold.decorators import display

from simcare.admin_site import ReadOnlyModelAdmin
from simcare.care import chat_admin  # noqa: F401  (teams, hours, agents, chats, tickets)
from simcare.care.models import Article, ArticleFeedback, ArticleTranslation


class TranslationForm(forms.ModelForm):  # type: ignore[type-arg]
    alternatives = forms.CharField(
        label=_("alternative phrasings"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One way of asking per line."),
    )

    class Meta:
        model = ArticleTranslation
        fields = ("language", "question", "alternatives", "answer")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and isinstance(self.instance.alternatives, list):
            self.initial["alternatives"] = "\n".join(self.instance.alternatives)

    def clean_alternatives(self) -> list[str]:
        text: str = self.cleaned_data.get("alternatives") or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class TranslationInline(StackedInline):
    model = ArticleTranslation
    form = TranslationForm
    extra = 0
    min_num = 1
    max_num = 3


@admin.register(Article)
class ArticleAdmin(ModelAdmin):
    list_display = (
        "slug",
        "category",
        "is_published",
        "languages",
        "helpful",
        "not_helpful",
        "updated_at",
    )
    list_filter = (("is_published", BooleanRadioFilter), "category")
    list_filter_submit = True
    search_fields = ("slug", "category", "translations__question")
    readonly_fields = ("created_at", "updated_at")
    fields = ("slug", "category", "is_published", ("created_at", "updated_at"))
    inlines = (TranslationInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Article]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                helpful_count=Count("feedback", filter=Q(feedback__is_helpful=True), distinct=True),
                not_helpful_count=Count(
                    "feedback", filter=Q(feedback__is_helpful=False), distinct=True
                ),
            )
            .prefetch_related("translations")
        )

    @display(description=_("languages"))
    def languages(self, article: Article) -> str:
        return ", ".join(sorted(row.language for row in article.translations.all()))

    @display(description=_("helpful"), ordering="helpful_count")
    def helpful(self, article: Any) -> int:
        return int(article.helpful_count)

    @display(description=_("not helpful"), ordering="not_helpful_count")
    def not_helpful(self, article: Any) -> int:
        return int(article.not_helpful_count)


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(ReadOnlyModelAdmin):
    list_display = ("created_at", "article", "language", "is_helpful", "question")
    list_filter = (
        ("is_helpful", BooleanRadioFilter),
        ("language", ChoicesDropdownFilter),
    )
    list_filter_submit = True
    search_fields = ("article__slug", "question")
    list_select_related = ("article",)
