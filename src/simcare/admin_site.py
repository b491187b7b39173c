"""The back office: Django's admin with the unfold theme, for verified staff only."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from unfold.sites import UnfoldAdminSite

from simcare.accounts.forms import StaffOTPAuthenticationForm

STAFF_ROLES = ("admin", "agent", "clerk")


class SimcareAdminSite(UnfoldAdminSite):
    """Only staff who signed in with a TOTP code reach the admin (70-trust.md)."""

    login_form = StaffOTPAuthenticationForm
    login_template = "admin/simcare_login.html"
    site_header = "simcare"
    site_title = "simcare back office"
    index_title = "Back office"

    def has_permission(self, request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(super().has_permission(request) and user.is_verified())
