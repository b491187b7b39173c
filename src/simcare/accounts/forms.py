from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.plugins.otp_totp.models import TOTPDevice

from simcare.accounts.models import Language
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn


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


class RegisterForm(forms.Form):
    """A new subscriber: an email address or a mobile number (or both), a password, a language."""

    email = forms.EmailField(
        label=_("Email address"),
        required=False,
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.CharField(
        label=_("Mobile number"),
        required=False,
        max_length=32,
        help_text=_("A Canadian or US number, e.g. 416 555 0142."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices)

    def clean_phone(self) -> str:
        raw = self.cleaned_data.get("phone", "").strip()
        if not raw:
            return ""
        try:
            return normalize_msisdn(raw)
        except InvalidPhoneNumber:
            raise forms.ValidationError(
                _("Enter a valid mobile number, e.g. 416 555 0142.")
            ) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("email") and not cleaned.get("phone") and not self.errors:
            raise forms.ValidationError(_("Enter an email address or a mobile number."))
        password = cleaned.get("password")
        if password:
            try:
                validate_password(password)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned
