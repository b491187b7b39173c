"""Buying an eSIM from the catalog, and the eSIM page with its QR code."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.test import Client

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Line, SimKind
from simcare.orders.models import Order, OrderKind, OrderState, Payment
from tests.conftest import signed_in_client
from tests.orders.stripe_standin import StripeStandIn
from tests.portal.conftest import assert_sent_to_stripe, balance

pytestmark = pytest.mark.django_db


def test_the_home_page_offers_each_plan_as_an_esim(client: Client, plan: Plan) -> None:
    page = client.get("/en/").content.decode()
    assert "/en/portal/buy/talk30/" in page


def test_buying_an_esim_from_the_wallet_opens_its_qr_page(
    lin_client: Client,
    lin: Subscriber,
    plan: Plan,
    fund: Callable[[Subscriber, int], None],
    esim_stock: Callable[[int], None],
) -> None:
    fund(lin, 5000)
    esim_stock(1)
    token = uuid.uuid4().hex

    page = lin_client.get("/en/portal/buy/talk30/").content.decode()
    response = lin_client.post("/en/portal/buy/talk30/", {"method": "wallet", "token": token})
    again = lin_client.post("/en/portal/buy/talk30/", {"method": "wallet", "token": token})

    assert "Get an eSIM on Canada 30 days" in page
    order = Order.objects.get()
    assert order.kind == OrderKind.NEW_LINE
    line = Line.objects.get(subscriber=lin)
    assert line.kind == SimKind.ESIM
    assert response["Location"] == again["Location"] == f"/en/portal/lines/{line.msisdn}/esim/"
    assert balance(lin) == 5000 - order.total_cents
    esim = lin_client.get(response["Location"])
    assert esim.status_code == 200
    assert esim["Cache-Control"].startswith("max-age=0")
    content = esim.content.decode()
    assert 'src="data:image/png;base64,' in content
    assert "iPhone" in content
    assert "Android" in content
    assert line.sim.matching_id in content


def test_a_short_wallet_buys_nothing(
    lin_client: Client,
    lin: Subscriber,
    plan: Plan,
    fund: Callable[[Subscriber, int], None],
    esim_stock: Callable[[int], None],
) -> None:
    fund(lin, 500)
    esim_stock(1)

    response = lin_client.post(
        "/en/portal/buy/talk30/", {"method": "wallet", "token": uuid.uuid4().hex}
    )

    assert response.status_code == 200
    assert balance(lin) == 500
    assert not Order.objects.exists()
    assert not Line.objects.exists()


def test_an_unknown_plan_is_not_found(lin_client: Client) -> None:
    assert lin_client.get("/en/portal/buy/no-such-plan/").status_code == 404


def test_buying_by_card_goes_to_stripe_checkout(
    lin_client: Client,
    plan: Plan,
    stripe_standin: StripeStandIn,
    esim_stock: Callable[[int], None],
) -> None:
    esim_stock(1)

    page = lin_client.get("/en/portal/buy/talk30/").content.decode()
    response = lin_client.post(
        "/en/portal/buy/talk30/", {"method": "card", "token": uuid.uuid4().hex}
    )

    assert 'value="card"' in page
    assert_sent_to_stripe(response)
    order = Order.objects.get()
    assert order.state == OrderState.PENDING
    assert Payment.objects.filter(order=order).count() == 1


def test_the_esim_page_of_a_physical_sim_or_of_someone_else_is_not_found(
    lin_client: Client,
    lin_line: Line,
    make_subscriber: Callable[..., Subscriber],
    make_line: Callable[..., Line],
    plan: Plan,
) -> None:
    theirs = make_line(make_subscriber(), plan, kind=SimKind.ESIM)

    assert lin_client.get(f"/en/portal/lines/{lin_line.msisdn}/esim/").status_code == 404
    assert lin_client.get(f"/en/portal/lines/{theirs.msisdn}/esim/").status_code == 404
    owner = signed_in_client(theirs.subscriber.user)
    assert owner.get(f"/zh-hans/portal/lines/{theirs.msisdn}/esim/").status_code == 200
