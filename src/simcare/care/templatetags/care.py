"""Article text in pages: escaped, with **bold**, links and line breaks made safely."""

from __future__ import annotations

import re

from django import template
from django.utils.html import urlize
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_BOLD = re.compile(r"\*\*(.+?)\*\*")


@register.filter
def kb_text(text: str) -> SafeString:
    # urlize escapes everything that is not a link, so what follows only adds tags
    # around text that is already escaped.
    html = urlize(text or "", nofollow=True, autoescape=True)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    return mark_safe(html.replace("\n", "<br>"))  # noqa: S308 - escaped by urlize above
