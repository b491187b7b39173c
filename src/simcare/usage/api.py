"""The usage endpoint of the subscriber API: GET /api/v1/me/lines/{msisdn}/usage?days=30.

Mounted by simcare/api.py under /api/v1/me/ with the subscriber token auth.
Another subscriber's line, or no such line, is a 404 problem (Line.DoesNotExist
from the query, answered by the API's not-found handler), never a 403.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from simcare.accounts.api import api_user, subscriber_auth
from simcare.kit.api import problem_responses
from simcare.kit.phone import InvalidPhoneNumber, normalize_msisdn
from simcare.kit.problems import NotFound
from simcare.usage import queries

router = Router(tags=["usage"], auth=subscriber_auth)


class UsageQuery(Schema):
    days: int = Field(
        30, ge=1, le=queries.MAX_DAYS, description="How many days back, today included"
    )


class DayOut(Schema):
    day: dt.date
    data: int = Field(description="KB")
    voice: int = Field(description="minutes")
    sms: int = Field(description="messages")
    charged_cents: int


class UsageOut(Schema):
    msisdn: str
    days: int
    units: dict[str, str]
    daily: list[DayOut]


@router.get(
    "/lines/{msisdn}/usage",
    response={200: UsageOut, **problem_responses(401, 404, 422)},
    summary="My line's daily usage",
    description=(
        "Daily totals per kind (data in KB, voice in minutes, SMS in messages) for the last "
        "`days` days, today included, days in America/Toronto; every day is present."
    ),
    operation_id="my_line_usage",
)
def my_line_usage(request: HttpRequest, msisdn: str, params: Query[UsageQuery]) -> UsageOut:
    try:
        number = normalize_msisdn(msisdn)
    except InvalidPhoneNumber as error:
        raise NotFound() from error
    usage = queries.daily_usage_for(api_user(request), number, params.days)
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
