"""Back office of after-sales: return requests (read, with the agents' page for decisions) and the
review moderation queue (approve, reject, reply)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from simcare.accounts.models import User
from simcare.aftersales import services
from simcare.aftersales.models import ReturnRequest, Review, ReviewStatus


@admin.register(ReturnRequest)
class ReturnRequestAdmin(ModelAdmin):
    """Read-only: every step is a service call, made on the agents' page (the link below)."""

    list_display = ("number", "subscriber", "order", "kind", "state", "is_eligible", "created_at")
    list_filter = ("state", "kind", "is_eligible", "is_override")
    search_fields = ("subscriber__user__username", "line__msisdn", "old_iccid", "new_iccid")
    readonly_fields = ("decision_page",)
    list_select_related = ("subscriber__user", "order")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @display(description=_("decisions"))
    def decision_page(self, obj: ReturnRequest) -> str:
        url = reverse("aftersales:staff_return_detail", args=(obj.pk,))
        return format_html('<a href="{}">{}</a>', url, _("Open the agents' page"))


@admin.register(Review)
class ReviewAdmin(ModelAdmin):
    """The moderation queue: new reviews wait as pending; text is shown escaped."""

    list_display = ("created_at", "rating", "about", "language", "status", "excerpt")
    list_filter = ("status", "language", "about", "rating")
    search_fields = ("text", "subscriber__user__username")
    fields = (
        "subscriber",
        "order",
        "about",
        "plan",
        "store",
        "rating",
        "language",
        "text",
        "status",
        "moderated_by",
        "moderated_at",
        "reply",
        "replied_by",
        "replied_at",
    )
    readonly_fields = (
        "subscriber",
        "order",
        "about",
        "plan",
        "store",
        "rating",
        "language",
        "text",
        "status",
        "moderated_by",
        "moderated_at",
        "replied_by",
        "replied_at",
    )
    actions = ("approve", "reject")
    list_select_related = ("subscriber__user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @display(description=_("review"))
    def excerpt(self, obj: Review) -> str:
        return obj.text[:80]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Review]:
        return super().get_queryset(request).order_by("status", "-created_at")

    def save_model(self, request: HttpRequest, obj: Review, form: Any, change: bool) -> None:
        # Only the reply is editable; it goes through the service (audited).
        user = request.user
        assert isinstance(user, User)  # noqa: S101
        services.reply_to_review(obj, text=form.cleaned_data.get("reply", ""), acting_user=user)

    def _moderate(self, request: HttpRequest, queryset: QuerySet[Review], *, approve: bool) -> None:
        user = request.user
        assert isinstance(user, User)  # noqa: S101
        count = 0
        for review in queryset:
            services.moderate_review(review, approve=approve, acting_user=user)
            count += 1
        self.message_user(
            request, _("%(count)d reviews updated.") % {"count": count}, messages.SUCCESS
        )

    @action(description=_("Publish the selected reviews"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._moderate(request, queryset, approve=True)

    @action(description=_("Reject the selected reviews"))
    def reject(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        self._moderate(request, queryset, approve=False)


__all__ = ["ReturnRequestAdmin", "ReviewAdmin", "ReviewStatus"]
