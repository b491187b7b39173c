"""Auto-renew settings of a line (on/off, the saved card, data auto-top-up and its threshold),
and "save a card" (Stripe's setup page) when cards are set up."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from simcare.accounts.models import Subscriber
from simcare.catalog.models import AddOn, UsageKind
from simcare.catalog.queries import addons_on_sale
from simcare.lines.models import Line
from simcare.orders import errors
from simcare.orders.models import AutoRenewSetting, SavedPaymentMethod
from simcare.orders.services import autorenew, cards
from simcare.portal.access import own_line, signed_in_user, subscriber_view
from simcare.portal.checkout import to_provider

DEFAULT_THRESHOLD_MB = 512


def _cards(subscriber: Subscriber) -> list[SavedPaymentMethod]:
    return list(subscriber.payment_methods.filter(removed_at__isnull=True))


def _data_addons() -> list[AddOn]:
    return list(addons_on_sale().filter(kind=UsageKind.DATA))


def _page(
    request: HttpRequest,
    subscriber: Subscriber,
    line: Line,
    *,
    error: str | None = None,
) -> HttpResponse:
    setting = AutoRenewSetting.objects.filter(line=line).first()
    threshold_mb = (
        setting.data_topup_threshold_kb // 1024 if setting is not None else DEFAULT_THRESHOLD_MB
    )
    context: dict[str, Any] = {
        "line": line,
        "setting": setting,
        "cards": _cards(subscriber),
        "addons": _data_addons(),
        "threshold_mb": threshold_mb,
        "min_threshold_mb": autorenew.MIN_THRESHOLD_KB // 1024,
        "max_threshold_mb": autorenew.MAX_THRESHOLD_KB // 1024,
        "cards_configured": cards.is_configured(),
        "error": error,
        "nav": "dashboard",
    }
    return render(request, "portal/auto_renew.html", context)


def _pick(items: list[Any], raw: str) -> Any | None:
    for item in items:
        if str(item.pk) == raw:
            return item
    return None


@subscriber_view
@require_http_methods(["GET", "POST"])
def auto_renew(request: HttpRequest, subscriber: Subscriber, msisdn: str) -> HttpResponse:
    line = own_line(request, msisdn)
    if request.method == "GET":
        return _page(request, subscriber, line)
    card_raw = request.POST.get("card", "")
    card = _pick(_cards(subscriber), card_raw)
    addon_raw = request.POST.get("addon", "")
    addon = _pick(_data_addons(), addon_raw)
    if (card_raw and card is None) or (addon_raw and addon is None):
        return _page(request, subscriber, line, error=_("Choose from the list."))
    threshold_kb = None
    if addon is not None:
        try:
            threshold_kb = int(request.POST.get("threshold_mb", "")) * 1024
        except ValueError:
            return _page(
                request,
                subscriber,
                line,
                error=_("Enter the threshold as a whole number of MB."),
            )
    try:
        autorenew.set_auto_renew(
            line,
            enabled=request.POST.get("enabled") == "on",
            payment_method=card,
            data_topup_addon=addon,
            threshold_kb=threshold_kb,
            acting_user=signed_in_user(request),
        )
    except errors.AutoRenewChoiceInvalid as refusal:
        return _page(request, subscriber, line, error=refusal.message)
    messages.success(request, _("Your auto-renew settings are saved."))
    return redirect("portal:dashboard")


@require_POST
@subscriber_view
def save_card(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    """Send the subscriber to Stripe to save a card for auto-renew (303 away)."""
    back = request.POST.get("next", "")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("portal:dashboard")
    if not cards.is_configured():
        messages.error(request, errors.PaymentMethodUnavailable().message)
        return redirect(back)
    absolute = request.build_absolute_uri(back)
    try:
        url = cards.start_card_setup(subscriber, success_url=absolute, cancel_url=absolute)
    except errors.OrderError as refusal:
        messages.error(request, refusal.message)
        return redirect(back)
    return to_provider(request, url)


@require_POST
@subscriber_view
def remove_card(request: HttpRequest, subscriber: Subscriber, card_id: int) -> HttpResponse:
    """Forget one of the subscriber's own saved cards (another's is a 404)."""
    back = request.POST.get("next", "")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("portal:dashboard")
    card = get_object_or_404(
        SavedPaymentMethod, pk=card_id, subscriber=subscriber, removed_at__isnull=True
    )
    try:
        cards.remove_saved_method(card, acting_user=signed_in_user(request))
    except errors.OrderError as refusal:
        messages.error(request, refusal.message)
        return redirect(back)
    messages.success(
        request,
        _("Your card %(card)s is removed; auto-renew now uses your wallet only.")
        % {"card": str(card)},
    )
    return redirect(back)
