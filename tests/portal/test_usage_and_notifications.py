"""The usage chart of a line and the list of the subscriber's notifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Line
from simcare.notify import services as notify
from simcare.notify.models import Notification, NotificationStatus
from tests.conftest import signed_in_client
from tests.portal.conftest import record_usage

pytestmark = pytest.mark.django_db


@pytest.fixture
def used_line(lin_line: Line) -> Line:
    record_usage(lin_line)
    return lin_line


def test_the_usage_page_charts_the_last_30_days_with_a_table_of_the_same_figures(
    lin_client: Client, used_line: Line
) -> None:
    # when
    response = lin_client.get(f"/en/portal/lines/{used_line.msisdn}/usage/")

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<svg class="usage-chart') == 3
    assert page.count('role="img"') == 3
    assert "Total: 3 MB" in page
    assert "Total: 3 min" in page
    assert "Total: 2 SMS" in page
    # one row a day per kind in the tables, bars only on days with usage
    assert page.count('<th scope="row">') == 90
    assert page.count('<rect class="bar"') == 3
    assert "<script" not in page.split("</main>")[0].split("<main")[1]


def test_a_line_without_usage_says_so(lin_client: Client, lin_line: Line) -> None:
    page = lin_client.get(f"/en/portal/lines/{lin_line.msisdn}/usage/").content.decode()
    assert page.count("No usage in this period.") == 3
    assert '<rect class="bar"' not in page


def test_the_usage_page_speaks_french_and_chinese(lin_client: Client, used_line: Line) -> None:
    french = lin_client.get(f"/fr/portal/lines/{used_line.msisdn}/usage/").content.decode()
    chinese = lin_client.get(f"/zh-hans/portal/lines/{used_line.msisdn}/usage/").content.decode()
    assert "Total : 3 Mo" in french or "Total : 3 Mo" in french.replace("\u202f", " ")
    assert "总计" in chinese


def test_the_dashboard_links_each_line_to_its_usage(lin_client: Client, lin_line: Line) -> None:
    page = lin_client.get("/en/portal/").content.decode()
    assert f"/en/portal/lines/{lin_line.msisdn}/usage/" in page


def test_another_subscribers_line_usage_is_not_found(
    make_subscriber: Callable[..., Subscriber], used_line: Line
) -> None:
    other = signed_in_client(make_subscriber().user)
    assert other.get(f"/en/portal/lines/{used_line.msisdn}/usage/").status_code == 404
    assert other.get("/en/portal/lines/not-a-number/usage/").status_code == 404


def test_notifications_list_the_subscribers_own_messages_newest_first(
    lin: Subscriber,
    *,
    lin_client: Client,
    lin_line: Line,
    make_subscriber: Callable[..., Subscriber],
    plan: Plan,
    make_line: Callable[..., Line],
) -> None:
    # given: lin's activation messages, sent; someone else's, not lin's
    other = make_subscriber(email="other@example.com")
    make_line(other, plan)
    notify.send_due(timezone.now() + dt.timedelta(seconds=1))
    mine = Notification.objects.filter(recipient=lin.user)
    assert mine.count() >= 2
    sent = mine.filter(status=NotificationStatus.SENT).first()
    assert sent is not None

    # when
    response = lin_client.get("/en/portal/notifications/")

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('<li>\n    <div class="notice-top">') == mine.count()
    assert "lin@example.com" in page
    assert "other@example.com" not in page
    assert "Sent" in page
    assert sent.subject in page


def test_a_message_not_yet_sent_shows_what_it_is_about_in_the_pages_language(
    lin: Subscriber, lin_client: Client, lin_line: Line
) -> None:
    queued = Notification.objects.filter(recipient=lin.user, status=NotificationStatus.QUEUED)
    assert queued.count() == 2
    assert set(queued.values_list("subject", flat=True)) == {""}

    english = lin_client.get("/en/portal/notifications/").content.decode()
    chinese = lin_client.get("/zh-hans/portal/notifications/").content.decode()

    assert english.count("Your line (905) 555-") == 2
    assert english.count("The text is written when the message goes out.") == 2
    assert chinese.count("已开通") >= 2


def test_notifications_are_paginated(lin: Subscriber, lin_client: Client) -> None:
    start = timezone.now() - dt.timedelta(days=1)
    for index in range(25):
        Notification.objects.create(
            recipient=lin.user,
            channel="email",
            template="lifecycle.expiry_reminder",
            subject=f"Message number {index:02d}",
            body="Hello",
            status=NotificationStatus.SENT,
            created_at=start + dt.timedelta(minutes=index),
            sent_at=start + dt.timedelta(minutes=index),
        )
    first = lin_client.get("/en/portal/notifications/").content.decode()
    assert "Message number 24" in first
    assert "Message number 04" not in first
    assert "Page 1 of 2" in first
    second = lin_client.get("/en/portal/notifications/?page=2").content.decode()
    assert "Message number 04" in second
    assert "Message number 24" not in second
    # a bad page number is the last page, not an error
    assert lin_client.get("/en/portal/notifications/?page=zzz").status_code == 200


def test_notifications_page_speaks_french_and_chinese(lin_client: Client) -> None:
    assert "Aucune notification" in lin_client.get("/fr/portal/notifications/").content.decode()
    assert "通知" in lin_client.get("/zh-hans/portal/notifications/").content.decode()
