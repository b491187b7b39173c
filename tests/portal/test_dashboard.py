from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from simcare.accounts.models import Role, Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Line
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db


def test_the_dashboard_shows_each_line_with_its_allowances_and_what_happens_next(
    lin_client: Client, lin: Subscriber, lin_line: Line, fund: Callable[[Subscriber, int], None]
) -> None:
    # given
    fund(lin, 1234)

    # when
    response = lin_client.get("/en/portal/")

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "Canada 30 days" in page
    assert "Active" in page
    assert "$12.34" in page
    assert "20 GB left of 20 GB" in page
    assert "<progress" in page
    assert "your number is kept until" in page
    assert f"/en/portal/lines/{lin_line.msisdn}/renew/" in page


def test_the_dashboard_speaks_french_and_chinese(lin_client: Client, lin_line: Line) -> None:
    assert "Jours restants" in lin_client.get("/fr/portal/").content.decode()
    assert "剩余天数" in lin_client.get("/zh-hans/portal/").content.decode()


def test_a_subscriber_without_lines_is_offered_the_plans(lin_client: Client) -> None:
    response = lin_client.get("/en/portal/")
    assert "You have no line yet" in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get("/en/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/en/accounts/login/")


def test_staff_get_a_polite_page_pointing_at_the_console(make_staff: Callable[..., object]) -> None:
    agent = make_staff(Role.AGENT)
    response = signed_in_client(agent).get("/en/portal/")  # type: ignore[arg-type]
    assert response.status_code == 403
    assert "use the console" in response.content.decode()


def test_another_subscribers_line_is_not_found(
    lin_line: Line, make_subscriber: Callable[..., Subscriber], plan: Plan
) -> None:
    other = signed_in_client(make_subscriber().user)
    for path in ("renew/", "renew/quote/", "auto-renew/", "esim/"):
        assert other.get(f"/en/portal/lines/{lin_line.msisdn}/{path}").status_code == 404
    assert other.get("/en/portal/lines/not-a-number/renew/").status_code == 404


def test_the_dashboard_reads_a_fixed_number_of_queries_however_many_lines(
    lin_client: Client, lin: Subscriber, plan: Plan, make_line: Callable[..., Line]
) -> None:
    make_line(lin, plan)
    with CaptureQueriesContext(connection) as one:
        lin_client.get("/en/portal/")
    make_line(lin, plan)
    make_line(lin, plan)
    with CaptureQueriesContext(connection) as three:
        response = lin_client.get("/en/portal/")

    assert response.content.decode().count('class="line-card"') == 3
    assert len(three) == len(one)
