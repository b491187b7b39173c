"""The usage endpoint of the subscriber API: GET /api/v1/me/lines/{msisdn}/usage?days=30.

A django-ninja Router; the project's NinjaAPI (simcare/api.py) mounts it
under /api/v1 and provides the token auth. Another subscriber's line is a
404 (Line.DoesNotExist from the query), never a 403.
"""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from simcare.accounts.models import User
from simcare.lines.models import Line
from simcare.usage import queries

router = Router(tags=["usage"])


class UsageQuery(Schema):
    days: int = Field(30, ge=1, le=queries.MAX_DAYS)


class DayOut(Schema):
    day: dt.date
    data: int
    voice: int
    sms: int
    charged_cents: int


class UsageOut(Schema):
    msisdn: str
    days: int
    units: dict[str, str]
    daily: list[DayOut]


def _user(request: HttpRequest) -> User:
    # Token auth puts the user in request.auth; a session (the portal) in request.user.
    auth = getattr(request, "auth", None)
    user = auth if isinstance(auth, User) else request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise Http404
    return user


@router.get("/me/lines/{msisdn}/usage", response=UsageOut, url_name="line_usage")
def line_usage(request: HttpRequest, msisdn: str, params: Query[UsageQuery]) -> UsageOut:
    """Daily totals per kind for the last `days` days (today included, America/Toronto)."""
    try:
        usage = queries.daily_usage_for(_user(request), msisdn, params.days)
    except Line.DoesNotExist:
        raise Http404 from None
    return UsageOut(
        msisdn=usage.msisdn,
        days=usage.days,
        units=queries.UNITS,
        daily=[
            DayOut(
                day=total.day,
                data=total.data,
                voice=total.voice,
                sms=total.sms,
                charged_cents=total.charged_cents,
            )
            for total in usage.daily
        ],
    )
