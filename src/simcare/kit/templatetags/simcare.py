"""Template helpers: money, phone numbers, allowances, the language switcher."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import translate_url
from django.utils.translation import gettext as _

from simcare.kit.money import format_cents
from simcare.kit.phone import format_national

register = template.Library()


@register.filter
def money(cents: int | None) -> str:
    return format_cents(cents)


@register.filter
def phone(msisdn: str) -> str:
    try:
        return format_national(msisdn)
    except Exception:
        return msisdn


@register.filter
def allowance(amount: int | None, unit: str) -> str:
    """None → "Unlimited"; 20480 MB → "20 GB"."""
    if amount is None:
        return _("Unlimited")
    if unit == "MB":
        if amount >= 1024 and amount % 1024 == 0:
            return _("%(amount)s GB") % {"amount": amount // 1024}
        return _("%(amount)s MB") % {"amount": amount}
    if unit == "minute":
        return _("%(amount)s min") % {"amount": amount}
    return _("%(amount)s SMS") % {"amount": amount}


@register.simple_tag(takes_context=True)
def url_in_language(context: dict[str, Any], language: str) -> str:
    request = context["request"]
    return translate_url(request.get_full_path(), language)
