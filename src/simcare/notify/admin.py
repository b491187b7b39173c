"""Back office for the outbox: every notification, read-only, and a retry for failed ones.

Rows are written by notify.services and the jobs; staff only look, and put
failed rows back in the queue (notify.outbox_admin.requeue) once the cause
is fixed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action

from simcare.admin_site import DistinctValuesFilter
from simcare.notify import outbox_admin
from simcare.notify.models import Notification


class TemplateFilter(DistinctValuesFilter):
    title = _("template")
    parameter_name = "template"


class LanguageFilter(DistinctValuesFilter):
    title = _("language")
    parameter_name = "language"


@admin.register(Notification)
class NotificationAdmin(ModelAdmin):
    list_display = (
        "created_at",
        "template",
        "channel",
        "status",
        "recipient",
        "language",
        "address",
        "attempts",
        "sent_at",
        "last_error",
    )
    list_filter = (
        ("status", ChoicesDropdownFilter),
        ("channel", ChoicesDropdownFilter),
        TemplateFilter,
        LanguageFilter,
    )
    list_filter_submit = True
    list_select_related = ("recipient",)
    search_fields = (
        "recipient__username",
        "recipient__email",
        "recipient__phone",
        "address",
        "template",
        "dedupe_key",
    )
    date_hierarchy = "created_at"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "template",
                    "channel",
                    "status",
                    "recipient",
                    "language",
                    "address",
                    "line",
                )
            },
        ),
        (_("Message"), {"fields": ("subject", "body")}),
        (
            _("Delivery"),
            {
                "fields": (
                    "created_at",
                    "send_after",
                    "attempts",
                    "sent_at",
                    "last_error",
                    "reference_at",
                    "dedupe_key",
                    "context",
                )
            },
        ),
        (
            _("SMS gateway"),
            {
                "fields": (
                    "gateway",
                    "provider_message_id",
                    "delivery_status",
                    "delivery_updated_at",
                    "delivery_error",
                )
            },
        ),
    )
    readonly_fields = (
        "template",
        "channel",
        "status",
        "recipient",
        "language",
        "address",
        "line",
        "subject",
        "body",
        "created_at",
        "send_after",
        "attempts",
        "sent_at",
        "last_error",
        "reference_at",
        "dedupe_key",
        "context",
        "gateway",
        "provider_message_id",
        "delivery_status",
        "delivery_updated_at",
        "delivery_error",
    )
    actions = ("retry_failed",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("notify.change_notification"))

    @action(description=_("Retry the selected failed notifications"), permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        acting_user: Any = request.user
        ids = list(queryset.values_list("pk", flat=True))
        moved = outbox_admin.requeue(ids, acting_user=acting_user)
        left = len(ids) - moved
        if moved:
            messages.success(
                request,
                ngettext(
                    "%(count)d notification is queued again.",
                    "%(count)d notifications are queued again.",
                    moved,
                )
                % {"count": moved},
            )
        if left:
            messages.warning(
                request,
                gettext("%(count)d selected were not failed and were left as they are.")
                % {"count": left},
            )
