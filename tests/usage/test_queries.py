"""Usage reads for the chart and the API: the query and its access check, the router over HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from simcare.accounts import services as account_services
from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.kit.time import business_zone
from simcare.lines.models import Line
from simcare.usage import queries
from tests.usage.conftest import cdr_bytes, run_import

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 1)


@pytest.fixture
def used_line(make_line: Callable[..., Line], subscriber: Subscriber, plan: Plan) -> Line:
    line = make_line(subscriber, plan, now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC))
    run_import(
        cdr_bytes(
            f"a,{line.msisdn},data,2026-12-01T10:00:00-05:00,2048,CA,",
            f"b,{line.msisdn},data,2026-12-01T23:30:00-05:00,1024,CA,",  # 04:30 UTC next day
            f"c,{line.msisdn},voice,2026-11-30T09:00:00-05:00,61,CA,out",
            f"d,{line.msisdn},sms,2026-11-30T09:00:00-05:00,1,CA,in",
        )
    )
    return line


def test_daily_usage_for_the_owner_has_every_day_in_toronto_time(
    used_line: Line, subscriber: Subscriber
) -> None:
    usage = queries.daily_usage_for(subscriber.user, used_line.msisdn, 3, today=TODAY)
    assert usage.msisdn == used_line.msisdn
    assert usage.days == 3
    assert usage.daily == [
        queries.DayTotals(day=dt.date(2026, 11, 29)),
        queries.DayTotals(day=dt.date(2026, 11, 30), voice=2, sms=1),
        queries.DayTotals(day=dt.date(2026, 12, 1), data=3),
    ]


def test_days_are_clamped(used_line: Line, subscriber: Subscriber) -> None:
    assert (
        len(queries.daily_usage_for(subscriber.user, used_line.msisdn, 0, today=TODAY).daily) == 1
    )
    assert len(queries.daily_usage_for(subscriber.user, used_line.msisdn, 9999).daily) == 366


def test_another_subscribers_line_does_not_exist(
    used_line: Line, make_subscriber: Callable[..., Subscriber]
) -> None:
    stranger = make_subscriber()
    with pytest.raises(Line.DoesNotExist):
        queries.daily_usage_for(stranger.user, used_line.msisdn)
    with pytest.raises(Line.DoesNotExist):
        queries.daily_usage_for(stranger.user, "+14165550000")


def _bearer(subscriber: Subscriber) -> dict[str, str]:
    _row, token = account_services.issue_api_token(subscriber.user)
    return {"Authorization": f"Bearer {token}"}


def test_the_api_serves_the_owner_and_404s_anyone_else(
    used_line: Line, subscriber: Subscriber, make_subscriber: Callable[..., Subscriber]
) -> None:
    client = Client()
    url = f"/api/v1/me/lines/{used_line.msisdn}/usage"
    response = client.get(f"{url}?days=2", headers=_bearer(subscriber))
    assert response.status_code == 200
    body = response.json()
    assert body["msisdn"] == used_line.msisdn
    assert body["days"] == 2
    assert body["units"] == {"data": "KB", "voice": "minute", "sms": "message"}
    today = timezone.now().astimezone(business_zone()).date()
    assert [day["day"] for day in body["daily"]] == [
        (today - dt.timedelta(days=1)).isoformat(),
        today.isoformat(),
    ]
    assert set(body["daily"][0]) == {"day", "data", "voice", "sms", "charged_cents"}

    # another subscriber's line, a number nobody has, and a malformed one: 404 problems
    stranger = _bearer(make_subscriber())
    for path in (url, "/api/v1/me/lines/+14165550000/usage", "/api/v1/me/lines/abc/usage"):
        refused = client.get(path, headers=stranger)
        assert refused.status_code == 404
        assert refused["Content-Type"].startswith("application/problem+json")
    assert client.get(f"{url}?days=0", headers=_bearer(subscriber)).status_code == 422
    assert client.get(f"{url}?days=367", headers=_bearer(subscriber)).status_code == 422
    assert client.get(url).status_code == 401
