"""The subscriber's profile: who we have on file (the identity document masked), the page
language, how we reach them, marketing consent, and the account PIN."""

from __future__ import annotations

from typing import Any, Literal, cast

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, translate_url
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from simcare.accounts import errors, preferences
from simcare.accounts.models import Language, Subscriber
from simcare.portal.access import signed_in_user, subscriber_view


def _page(
    request: HttpRequest,
    subscriber: Subscriber,
    *,
    error: str | None = None,
    pin_error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    user = subscriber.user
    context: dict[str, Any] = {
        "subscriber": subscriber,
        "profile_user": user,
        "language_choices": Language.choices,
        "consent_version": preferences.MARKETING_CONSENT_WORDING_VERSION,
        "error": error,
        "pin_error": pin_error,
        "nav": "profile",
    }
    return render(request, "portal/profile.html", context, status=status)


@subscriber_view
@never_cache
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    if request.method == "GET":
        return _page(request, subscriber)
    chosen = preferences.Preferences(
        language=request.POST.get("language", ""),
        email_notifications=request.POST.get("email_notifications") == "on",
        sms_notifications=request.POST.get("sms_notifications") == "on",
        marketing_consent=request.POST.get("marketing_consent") == "on",
    )
    try:
        preferences.update_preferences(subscriber, chosen, acting_user=signed_in_user(request))
    except errors.AccountError as refusal:
        subscriber.refresh_from_db()
        return _page(request, subscriber, error=refusal.message)
    # The page language follows at once and is remembered, as the header's switcher does.
    translation.activate(chosen.language)
    messages.success(request, _("Your preferences are saved."))
    response = HttpResponseRedirect(translate_url(reverse("portal:profile"), chosen.language))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        chosen.language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite=cast(Literal["Lax", "Strict", "None"], settings.LANGUAGE_COOKIE_SAMESITE),
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
    )
    return response


@require_POST
@subscriber_view
def change_pin(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    try:
        preferences.change_account_pin(
            subscriber,
            password=request.POST.get("password", ""),
            new_pin=request.POST.get("pin", "").strip(),
            repeated_pin=request.POST.get("pin_again", "").strip(),
            acting_user=signed_in_user(request),
        )
    except errors.AccountError as refusal:
        return _page(request, subscriber, pin_error=refusal.message)
    messages.success(request, _("Your account PIN is changed."))
    return redirect("portal:profile")
