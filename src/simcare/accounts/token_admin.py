"""Back office of API tokens: who holds which token, when it was last used; revoke.

Read-only: a token is issued only to its owner through the API (it is shown once
and stored as a hash), so the admin lists tokens and revokes them, nothing else.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from simcare.accounts import services
from simcare.accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(ModelAdmin):
    list_display = ("prefix", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "user__username", "user__email", "user__phone")
    fields = ("prefix", "user", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    list_select_related = ("user",)
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = sum(
            services.revoke_api_token(token, acting_user=request.user)  # type: ignore[arg-type]
            for token in queryset.order_by("pk")
        )
        self.message_user(
            request,
            gettext("%(count)d token(s) revoked.") % {"count": revoked},
            messages.SUCCESS,
        )
