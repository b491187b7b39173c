"""Sign in, register, sign out, and the language switch (remembered for signed-in users)."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import i18n
from django.views.decorators.http import require_http_methods, require_POST

from simcare.accounts import services
from simcare.accounts.forms import LoginForm, RegisterForm
from simcare.accounts.models import Subscriber


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url("portal:dashboard")


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Open a subscriber account with an email address or a mobile number, then sign in."""
    if request.user.is_authenticated:
        if Subscriber.objects.filter(user_id=request.user.pk).exists():
            return redirect(_safe_next(request))
        return redirect("portal:home")
    language = translation.get_language() or "en"
    form = RegisterForm(request.POST or None, initial={"language": language})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            subscriber = services.create_subscriber(
                username=data["email"] or data["phone"],
                password=data["password"],
                email=data["email"] or None,
                phone=data["phone"] or None,
                language=data["language"],
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            login(request, subscriber.user, backend="simcare.accounts.backends.EmailOrPhoneBackend")
            return redirect(_safe_next(request))
    return render(
        request,
        "accounts/register.html",
        {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")},
    )


class LogoutView(auth_views.LogoutView):
    pass


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    response = i18n.set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and response.status_code in (302, 204):
        services.set_preferred_language(request.user, language)
    return response
