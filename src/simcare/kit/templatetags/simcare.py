"""Template helpers: money, phone numbers, allowances, the language switcher, and `memo` for
the parts of a page that are the same on every request."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.urls import get_script_prefix, get_urlconf, translate_url
from django.utils.translation import get_language
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


MEMO_ENTRIES = 64  # per {% memo %} block: languages times the values it varies on


class MemoNode(template.Node):
    """Renders its content once per language, URL prefix and `vary` values, then repeats it.

    For navigation and other markup rendered on every request that depends on nothing else
    (translated labels, {% url %} links without arguments): the site header's links cost
    more to render than a page's own content. What varies per request (a CSRF token, the
    current path, the user's name) must stay outside, or be one of the `vary` values.
    """

    def __init__(self, nodelist: NodeList, vary: list[FilterExpression]) -> None:
        self.nodelist = nodelist
        self.vary = vary
        self.rendered: dict[tuple[Any, ...], str] = {}

    def render(self, context: template.Context) -> str:
        key = (
            get_language(),
            get_script_prefix(),
            get_urlconf(),
            *(value.resolve(context) for value in self.vary),
        )
        html = self.rendered.get(key)
        if html is None:
            html = self.nodelist.render(context)
            if len(self.rendered) < MEMO_ENTRIES:
                self.rendered[key] = html
        return html


@register.tag
def memo(parser: Parser, token: Token) -> MemoNode:
    """{% memo value… %}…{% endmemo %}: see MemoNode."""
    vary = [parser.compile_filter(bit) for bit in token.split_contents()[1:]]
    nodelist = parser.parse(("endmemo",))
    parser.delete_first_token()
    return MemoNode(nodelist, vary)
