from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from simcare.accounts.models import Role, Subscriber
from simcare.catalog.models import AddOn, Plan, UsageKind
from simcare.lines.models import Bucket, BucketSource, Line, LineState, SimKind
from simcare.orders.models import SavedPaymentMethod
from simcare.orders.services import autorenew
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


# Session, user with its subscriber, the lines with their plan, their current buckets, the
# auto-renew settings with their cards (only when a line renews itself), the wallet balance:
# nothing per line, per bucket or per card.
DASHBOARD_QUERY_BOUND = 6


def test_the_dashboard_of_three_lines_with_add_ons_and_auto_renew_reads_a_bounded_number_of_queries(
    lin_client: Client, lin: Subscriber, plan: Plan, make_line: Callable[..., Line]
) -> None:
    # given: an eSIM renewing itself with a saved card, a SIM with a data add-on, a line in grace
    esim = make_line(lin, plan, kind=SimKind.ESIM)
    card = SavedPaymentMethod.objects.create(
        subscriber=lin,
        customer_reference="cus_1",
        method_reference="pm_1",
        brand="visa",
        last4="4242",
    )
    autorenew.set_auto_renew(esim, enabled=True, payment_method=card, acting_user=None)
    with_addon = make_line(lin, plan)
    addon = AddOn.objects.create(
        code="data5",
        name_en="5 GB extra",
        name_fr="5 Go de plus",
        name_zh_hans="额外5GB",
        kind=UsageKind.DATA,
        quantity=5120,
        price_cents=1500,
        validity_days=30,
    )
    now = timezone.now()
    Bucket.objects.create(
        line=with_addon,
        kind=UsageKind.DATA,
        source=BucketSource.ADDON,
        addon=addon,
        total=5120 * 1024,
        used=1024,
        starts_at=now - dt.timedelta(hours=1),
        expires_at=now + dt.timedelta(days=30),
    )
    in_grace = make_line(lin, plan)
    Line.objects.filter(pk=in_grace.pk).update(
        state=LineState.GRACE,
        period_start=now - dt.timedelta(days=32),
        period_end=now - dt.timedelta(days=2),
    )
    lin_client.get("/en/portal/")  # the session's first touch (e.g. a cycled key) is not counted

    # when
    with CaptureQueriesContext(connection) as queries:
        response = lin_client.get("/en/portal/")

    # then
    page = response.content.decode()
    assert page.count('class="line-card"') == 3
    assert "visa •••• 4242" in page
    assert "25 GB left of 25 GB" in page  # the plan's 20 GB and the add-on's 5 GB together
    assert "Your plan ended." in page
    assert len(queries) <= DASHBOARD_QUERY_BOUND, "\n".join(
        query["sql"] for query in queries.captured_queries
    )


def test_a_line_renewing_itself_without_a_setting_row_shows_on_without_a_query_of_its_own(
    lin_client: Client, lin: Subscriber, plan: Plan, make_line: Callable[..., Line]
) -> None:
    # given: the switch on, but no AutoRenewSetting row (wallet only)
    first = make_line(lin, plan)
    Line.objects.filter(pk=first.pk).update(auto_renew=True)
    lin_client.get("/en/portal/")
    with CaptureQueriesContext(connection) as one:
        lin_client.get("/en/portal/")
    second = make_line(lin, plan)
    Line.objects.filter(pk=second.pk).update(auto_renew=True)

    # when
    with CaptureQueriesContext(connection) as two:
        response = lin_client.get("/en/portal/")

    # then
    page = response.content.decode()
    assert page.count('<span class="on">On</span>') == 2
    assert len(two) == len(one)


def _card(page: str) -> str:
    return page[page.index('<li class="line-card"') : page.index("</li>\n  \n</ul>")]


def test_a_line_card_shows_each_change_on_the_next_visit(
    lin_client: Client, lin: Subscriber, plan: Plan, lin_line: Line
) -> None:
    """The cards are rendered once for the values they show ({% memo summary.card_key %}):
    every change a subscriber can see comes through on the next visit, and the same line
    shown twice gives the same card."""
    first = _card(lin_client.get("/en/portal/").content.decode())
    assert _card(lin_client.get("/en/portal/").content.decode()) == first
    assert "20 GB left of 20 GB" in first

    # usage
    Bucket.objects.filter(line=lin_line, kind=UsageKind.DATA).update(used=1024 * 1024)
    card = _card(lin_client.get("/en/portal/").content.decode())
    assert "19 GB left of 20 GB" in card

    # the plan's name
    Plan.objects.filter(pk=plan.pk).update(name_en="Canada 30 days plus")
    card = _card(lin_client.get("/en/portal/").content.decode())
    assert "Canada 30 days plus" in card

    # auto-renew with a card, then another card
    visa = SavedPaymentMethod.objects.create(
        subscriber=lin,
        customer_reference="cus_1",
        method_reference="pm_1",
        brand="visa",
        last4="4242",
    )
    autorenew.set_auto_renew(lin_line, enabled=True, payment_method=visa, acting_user=None)
    card = _card(lin_client.get("/en/portal/").content.decode())
    assert '<span class="on">On</span> · visa •••• 4242' in card
    assert "Auto-renew is on" in card
    mastercard = SavedPaymentMethod.objects.create(
        subscriber=lin,
        customer_reference="cus_1",
        method_reference="pm_2",
        brand="mastercard",
        last4="5100",
    )
    lin_line.refresh_from_db()
    autorenew.set_auto_renew(lin_line, enabled=True, payment_method=mastercard, acting_user=None)
    card = _card(lin_client.get("/en/portal/").content.decode())
    assert "mastercard •••• 5100" in card

    # the state, the period and the days left
    now = timezone.now()
    Line.objects.filter(pk=lin_line.pk).update(
        state=LineState.GRACE,
        period_start=now - dt.timedelta(days=32),
        period_end=now - dt.timedelta(days=2),
    )
    card = _card(lin_client.get("/en/portal/").content.decode())
    assert "Grace" in card
    assert "Your plan ended." in card
    assert '<dd class="big">0</dd>' in card

    # the language
    french = _card(lin_client.get("/fr/portal/").content.decode())
    assert "Jours restants" in french
    assert "/fr/portal/lines/" in french
