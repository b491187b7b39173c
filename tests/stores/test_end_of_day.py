"""The end-of-day report of one store and one Toronto business day: exact figures on the page
and in the CSV, with sales just outside the day and at another store left out; and the
voucher counter through the console."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from simcare.accounts.models import Subscriber, User
from simcare.catalog.models import Plan
from simcare.ledger import services as ledger
from simcare.lines.models import Line, SimCard
from simcare.orders.models import OrderKind
from simcare.orders.services import vouchers
from simcare.stores import services
from simcare.stores.models import Store
from tests.conftest import signed_in_client
from tests.lines.conftest import make_line
from tests.orders.conftest import assert_ledger_clean, fund
from tests.orders.vouchers_support import Batch, batch, make_batch, voucher_admin

__all__ = ["batch", "fund", "make_batch", "make_line", "voucher_admin"]

pytestmark = pytest.mark.django_db

TORONTO = ZoneInfo("America/Toronto")


def at(day: int, time: str, month: int = 11) -> dt.datetime:
    hours, minutes = (int(part) for part in time.split(":"))
    return dt.datetime(2026, month, day, hours, minutes, tzinfo=TORONTO)


@pytest.fixture
def day_of_sales(
    clerk: User,
    other_clerk: User,
    shop: Store,
    *,
    other_shop: Store,
    plan: Plan,
    subscriber: Subscriber,
    stock: Callable[..., list[SimCard]],
    make_line: Callable[..., Line],
    fund: Callable[..., object],
    batch: Batch,
) -> None:
    """Monday 2026-11-30 at TOR-01, and sales around it that the report must leave out."""
    sims = stock(shop, 4)
    (vancouver_sim,) = stock(other_shop, 1)
    line = make_line(subscriber, plan)
    fund(subscriber, 10_000)

    def sell(moment: dt.datetime, sim: SimCard, token: str, store: Store = shop) -> None:
        with time_machine.travel(moment, tick=False):
            services.sell_new_line(
                store=store,
                clerk=clerk if store == shop else other_clerk,
                plan=plan,
                sim_kind="physical",
                form_token=token,
                subscriber=subscriber,
                sim=sim,
            )

    def renew(moment: dt.datetime, method: str, token: str) -> None:
        with time_machine.travel(moment, tick=False):
            services.renew_at_store(
                store=shop, clerk=clerk, line=line, payment_method=method, form_token=token
            )

    sell(at(29, "23:30"), sims[0], "sunday-night-sale")  # the day before
    sell(at(30, "00:10"), sims[1], "monday-first-sale")
    renew(at(30, "10:00"), "cash", "monday-cash-renewal")
    renew(at(30, "12:00"), "wallet", "monday-wallet-renewal")
    with time_machine.travel(at(30, "13:00"), tick=False):
        vouchers.sell_voucher(
            batch[1][0][0], store=shop, acting_user=clerk, idempotency_key="store:v:1"
        )
    sell(at(30, "20:00"), sims[2], "monday-evening-sale")  # already Tuesday in UTC
    sell(at(30, "21:00"), vancouver_sim, "vancouver-sale", store=other_shop)
    sell(at(1, "00:05", 12), sims[3], "tuesday-sale")  # the day after


@pytest.mark.usefixtures("day_of_sales")
def test_the_days_figures_are_exact(clerk: User) -> None:
    response = signed_in_client(clerk).get("/en/store-console/TOR-01/day/?date=2026-11-30")

    assert response.status_code == 200
    report = response.context["report"]
    rows = [
        (
            row.kind,
            row.payment_method,
            row.count,
            row.subtotal_cents,
            row.tax_cents,
            row.total_cents,
        )
        for row in report.rows
    ]
    assert rows == [
        (OrderKind.NEW_LINE, "cash", 2, 7000, 910, 7910),
        (OrderKind.RENEWAL, "cash", 1, 3500, 455, 3955),
        (OrderKind.RENEWAL, "wallet", 1, 3500, 455, 3955),
    ]
    assert (report.order_count, report.subtotal_cents, report.tax_cents, report.total_cents) == (
        4,
        14000,
        1820,
        15820,
    )
    assert (report.vouchers_sold, report.vouchers_cents) == (1, 2500)
    assert report.drawer_opening_cents == 3955
    assert report.drawer_in_cents == 7910 + 3955 + 2500
    assert report.cash_sales_cents == report.drawer_in_cents
    assert report.drawer_closing_cents == 3955 + 14365
    body = response.content.decode()
    assert "$143.65" in body
    assert "$158.20" in body
    assert_ledger_clean()


@pytest.mark.usefixtures("day_of_sales")
def test_the_csv_download(clerk: User) -> None:
    response = signed_in_client(clerk).get("/en/store-console/TOR-01/day.csv?date=2026-11-30")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="end-of-day-TOR-01-2026-11-30.csv"'
    )
    assert response.content.decode().splitlines() == [
        "store,business_day,line,kind,payment_method,count,subtotal,discount,tax,total",
        "TOR-01,2026-11-30,sales,new_line,cash,2,70.00,0.00,9.10,79.10",
        "TOR-01,2026-11-30,sales,renewal,cash,1,35.00,0.00,4.55,39.55",
        "TOR-01,2026-11-30,sales,renewal,wallet,1,35.00,0.00,4.55,39.55",
        "TOR-01,2026-11-30,vouchers,voucher,cash,1,25.00,0.00,0.00,25.00",
        "TOR-01,2026-11-30,total,,,5,165.00,0.00,18.20,183.20",
        "TOR-01,2026-11-30,drawer_opening,,cash,,,,,39.55",
        "TOR-01,2026-11-30,drawer_in,,cash,,,,,143.65",
        "TOR-01,2026-11-30,drawer_closing,,cash,,,,,183.20",
    ]


@pytest.mark.usefixtures("day_of_sales")
def test_another_store_has_its_own_day(other_clerk: User, clerk: User) -> None:
    client = signed_in_client(other_clerk)
    report = client.get("/en/store-console/VAN-01/day/?date=2026-11-30").context["report"]

    assert [(row.kind, row.count, row.total_cents) for row in report.rows] == [
        (OrderKind.NEW_LINE, 1, 3500 + 175 + 245)  # BC: GST 5% + PST 7%
    ]
    assert client.get("/en/store-console/TOR-01/day/?date=2026-11-30").status_code == 404
    assert client.get("/en/store-console/TOR-01/day.csv?date=2026-11-30").status_code == 404
    assert signed_in_client(clerk).get("/en/store-console/VAN-01/day.csv").status_code == 404


@pytest.mark.parametrize("query", ["date=yesterday", "date=2026-13-45", "date=" + "9" * 300])
def test_a_bad_date_is_a_field_error_on_todays_report(clerk: User, query: str) -> None:
    response = signed_in_client(clerk).get(f"/en/store-console/TOR-01/day/?{query}")

    assert response.status_code == 200
    assert "date" in response.context["form"].errors
    assert signed_in_client(clerk).get(f"/en/store-console/TOR-01/day.csv?{query}").status_code == (
        200
    )


def test_an_empty_day_reports_zero(clerk: User) -> None:
    response = signed_in_client(clerk).get("/en/store-console/TOR-01/day.csv?date=2026-01-01")

    assert response.content.decode().splitlines()[1:] == [
        "TOR-01,2026-01-01,vouchers,voucher,cash,0,0.00,0.00,0.00,0.00",
        "TOR-01,2026-01-01,total,,,0,0.00,0.00,0.00,0.00",
        "TOR-01,2026-01-01,drawer_opening,,cash,,,,,0.00",
        "TOR-01,2026-01-01,drawer_in,,cash,,,,,0.00",
        "TOR-01,2026-01-01,drawer_closing,,cash,,,,,0.00",
    ]


# --- the voucher counter through the console ------------------------------------------------


def voucher_token(client: Client) -> str:
    page = client.get("/en/store-console/TOR-01/vouchers/").content
    match = re.search(rb'name="form_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1).decode()


def test_a_voucher_card_is_sold_once_through_the_console(
    clerk: User, shop: Store, batch: Batch
) -> None:
    serial = batch[1][0][0]
    client = signed_in_client(clerk)
    data = {"form_token": voucher_token(client), "serial": serial}

    first = client.post("/en/store-console/TOR-01/vouchers/", data, follow=True)
    again = client.post("/en/store-console/TOR-01/vouchers/", data)
    other = client.post(
        "/en/store-console/TOR-01/vouchers/",
        {"form_token": voucher_token(client), "serial": serial},
    )

    assert f"Voucher card {serial} sold: take $25.00 in cash." in first.content.decode()
    assert again.status_code == 302
    assert other.status_code == 422
    assert "This voucher card has already been sold." in other.content.decode()
    assert ledger.store_drawer(shop).cached_balance_cents == -2500
    assert serial in client.get("/en/store-console/TOR-01/vouchers/").content.decode()


def test_a_store_without_vouchers_does_not_sell_them(
    clerk: User, shop: Store, batch: Batch
) -> None:
    shop.services = ["sim_sales"]
    shop.save()
    client = signed_in_client(clerk)

    response = client.post(
        "/en/store-console/TOR-01/vouchers/",
        {"form_token": voucher_token(client), "serial": batch[1][0][0]},
    )

    assert response.status_code == 422
    assert "This store does not offer this service." in response.content.decode()
    assert ledger.store_drawer(shop).cached_balance_cents == 0
