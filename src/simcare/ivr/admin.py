"""Back office for the hotline: the voicemails to call back, read-only, marked handled."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from simcare.ivr import services
from simcare.ivr.models import Voicemail


@admin.register(Voicemail)
class VoicemailAdmin(ModelAdmin):
    list_display = (
        "created_at",
        "caller",
        "subscriber",
        "language",
        "duration_seconds",
        "is_handled",
        "ticket_link",
        "recording_url",
    )
    list_filter = ("is_handled", "language")
    list_select_related = ("subscriber__user", "ticket")
    search_fields = ("caller", "subscriber__user__username", "subscriber__user__email")
    date_hierarchy = "created_at"
    readonly_fields = (
        "call_sid",
        "caller",
        "subscriber",
        "recording_url",
        "recording_sid",
        "duration_seconds",
        "language",
        "created_at",
        "is_handled",
        "ticket_link",
    )
    fields = readonly_fields
    actions = ("mark_handled",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @display(description=_("ticket"))
    def ticket_link(self, voicemail: Voicemail) -> str:
        if voicemail.ticket is None or voicemail.ticket.number is None:
            return "—"
        url = reverse("console:ticket", args=[voicemail.ticket.number])
        return format_html('<a href="{}">#{}</a>', url, voicemail.ticket.number)

    def has_handle_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("ivr.change_voicemail"))

    @action(description=_("Mark the selected voicemails as handled"), permissions=["handle"])
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[Voicemail]) -> None:
        acting_user: Any = request.user
        changed = services.mark_voicemails_handled(
            list(queryset.values_list("pk", flat=True)), acting_user=acting_user
        )
        messages.success(
            request,
            ngettext(
                "%(count)d voicemail is marked handled.",
                "%(count)d voicemails are marked handled.",
                changed,
            )
            % {"count": changed},
        )
