"""The subscriber's own notifications from the outbox: what was sent, on which channel,
when, and whether it went out; newest first, a page at a time."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from simcare.accounts.models import Subscriber
from simcare.notify import rendering
from simcare.notify.queries import notifications_for
from simcare.portal.access import signed_in_user, subscriber_view

PAGE_SIZE = 20


@subscriber_view
@never_cache  # messages may carry an eSIM activation code
@require_GET
def notifications(request: HttpRequest, subscriber: Subscriber) -> HttpResponse:
    rows = notifications_for(signed_in_user(request)).select_related("line__plan", "recipient")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    language = get_language() or "en"
    # A message keeps its subject once sent; one still queued (or skipped) has none yet, so
    # the page says what it is about, as it would be written now.
    notices = [
        (notice, notice.subject or rendering.subject_preview(notice, language=language))
        for notice in page.object_list
    ]
    return render(
        request,
        "portal/notifications.html",
        {"page": page, "notices": notices, "nav": "notifications"},
    )
