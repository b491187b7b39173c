from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.plugins.otp_totp.models import TOTPDevice


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label=_("Email, mobile number or username"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    error_messages = {
        "invalid_login": _(
            "That sign-in and password do not match an account. Check both and try again."
        ),
        "inactive": _("This account is closed."),
    }


class StaffOTPAuthenticationForm(OTPAdminAuthenticationForm):
    """Password plus the six-digit code of the staff member's authenticator app.

    django-otp asks for an explicit device; staff have one TOTP device each, so
    the form uses it when none is chosen instead of showing a device picker.
    """

    otp_token = forms.CharField(
        label=_("Authenticator code"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def _chosen_device(self, user: Any) -> Any:
        device = super()._chosen_device(user)
        if device is None:
            device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()
        return device
