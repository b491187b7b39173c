"""Who may use the subscriber portal: a signed-in subscriber, on their own lines and orders.

Every portal view takes the signed-in Subscriber from `subscriber_view`: an
anonymous visitor is sent to sign in; a signed-in person without a subscriber
account (staff, a reseller) gets a polite page pointing at the console, with
403; another subscriber's line or order is 404 (the read queries check it).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Concatenate, ParamSpec, cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from simcare.accounts.models import Subscriber, User
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.lines import queries as line_queries
from simcare.lines.models import Line

P = ParamSpec("P")
SubscriberView = Callable[Concatenate[HttpRequest, Subscriber, P], HttpResponse]


def signed_in_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 (login_required ran)
    return user


def subscriber_view(view: SubscriberView[P]) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Sign-in required, subscribers only; the page renders in the business time zone."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        user = signed_in_user(request)
        try:
            subscriber = user.subscriber
        except Subscriber.DoesNotExist:
            return render(request, "portal/not_a_subscriber.html", status=403)
        if not user.is_active:
            raise Http404
        with timezone.override(settings.BUSINESS_TIME_ZONE):
            return view(request, subscriber, *args, **kwargs)

    return cast(Callable[Concatenate[HttpRequest, P], HttpResponse], login_required(wrapper))


def own_line(request: HttpRequest, msisdn: str) -> Line:
    """The signed-in subscriber's live line with this number, else 404."""
    user = signed_in_user(request)
    try:
        number = normalize_msisdn(msisdn)
        line = line_queries.line_for(user, number)
    except (InvalidPhoneNumber, Line.DoesNotExist) as error:
        raise Http404 from error
    if line.subscriber.user_id != user.pk:
        raise Http404  # staff can read every line, but the portal is for one's own
    return line


def form_token(request: HttpRequest) -> str:
    """A fresh per-form idempotency token; the order key is f"user:{pk}:{token}"."""
    posted = request.POST.get("token", "") if request.method == "POST" else ""
    if posted and _is_token(posted):
        return posted
    return uuid.uuid4().hex


def _is_token(value: str) -> bool:
    try:
        uuid.UUID(hex=value)
    except ValueError:
        return False
    return len(value) == 32


def idempotency_key(request: HttpRequest, token: str) -> str:
    return f"user:{signed_in_user(request).pk}:{token}"
