"""Template helpers: money, phone numbers, allowances, the language switcher, and `memo` for
the parts of a page that are the same on every request."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.urls import get_script_prefix, get_urlconf, translate_url
from django.utils import timezone
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


MEMO_ENTRIES = 64  # per {% memo %} block, unless it says entries=N


class MemoNode(template.Node):
    """Renders its content once per language, time zone, URL prefix and `vary` values, then
    repeats it.

    For navigation and other markup rendered on every request that depends on nothing else
    (translated labels, {% url %} links without arguments): the site header's links cost
    more to render than a page's own content. What varies per request (a CSRF token, the
    current path, the user's name) must stay outside, or be one of the `vary` values; a
    block that shows data (a line's card) varies on every value it shows. A block keeps at
    most `entries` renderings and starts over when it has them all.
    """

    def __init__(self, nodelist: NodeList, vary: list[FilterExpression], entries: int) -> None:
        self.nodelist = nodelist
        self.vary = vary
        self.entries = entries
        self.rendered: dict[tuple[Any, ...], str] = {}

    def render(self, context: template.Context) -> str:
        key = (
            get_language(),
            timezone.get_current_timezone_name(),
            get_script_prefix(),
            get_urlconf(),
            *(value.resolve(context) for value in self.vary),
        )
        html = self.rendered.get(key)
        if html is None:
            html = self.nodelist.render(context)
            if len(self.rendered) >= self.entries:
                self.rendered.clear()
            self.rendered[key] = html
        return html


@register.tag
def memo(parser: Parser, token: Token) -> MemoNode:
    """{% memo value… [entries=N] %}…{% endmemo %}: see MemoNode."""
    bits = token.split_contents()[1:]
    entries = MEMO_ENTRIES
    if bits and bits[-1].startswith("entries="):
        try:
            entries = int(bits.pop()[len("entries=") :])
        except ValueError as error:
            raise template.TemplateSyntaxError("memo: entries=N takes a whole number") from error
        if entries < 1:
            raise template.TemplateSyntaxError("memo: entries=N takes a number above 0")
    vary = [parser.compile_filter(bit) for bit in bits]
    nodelist = parser.parse(("endmemo",))
    parser.delete_first_token()
    return MemoNode(nodelist, vary, entries)
