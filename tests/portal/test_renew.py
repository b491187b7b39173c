"""The renewal flow through the pages: quote, coupon, wallet, voucher PIN, double submit."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.test import Client

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines.models import Line
from simcare.orders.models import Coupon, Order, OrderState, VoucherFailure
from tests.orders.stripe_standin import StripeStandIn
from tests.portal.conftest import assert_sent_to_stripe, balance

pytestmark = pytest.mark.django_db


def renew_url(line: Line, suffix: str = "") -> str:
    return f"/en/portal/lines/{line.msisdn}/renew/{suffix}"


def test_the_renewal_page_preselects_the_current_plan_and_quotes_it(
    lin_client: Client, lin_line: Line, make_plan: Callable[..., Plan]
) -> None:
    make_plan(code="big", name_en="Big 30", price_cents=6000)

    response = lin_client.get(renew_url(lin_line))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'value="talk30" checked' in page
    assert "Upgrade" in page
    assert "Current plan" in page
    assert "HST (13%)" in page  # Ontario
    assert 'name="token"' in page
    assert "simcare/vendor/htmx.min.js" in page


def test_the_quote_fragment_applies_a_coupon(
    lin_client: Client, lin_line: Line, coupon: Coupon
) -> None:
    response = lin_client.get(renew_url(lin_line, "quote/"), {"plan": "talk30", "coupon": "SAVE5"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert "Discount (SAVE5)" in page
    assert "-$5.00" in page
    assert "$33.90" in page  # (35.00 - 5.00) plus 13 % HST


def test_an_expired_coupon_is_explained_and_nothing_is_charged(
    lin_client: Client,
    lin: Subscriber,
    lin_line: Line,
    expired_coupon: Coupon,
    fund: Callable[[Subscriber, int], None],
) -> None:
    fund(lin, 10_000)
    end = lin_line.period_end

    response = lin_client.post(
        renew_url(lin_line),
        {"plan": "talk30", "coupon": "OLD10", "method": "wallet", "token": uuid.uuid4().hex},
    )

    assert response.status_code == 200
    assert "expired" in response.content.decode()
    assert balance(lin) == 10_000
    assert not Order.objects.exists()
    lin_line.refresh_from_db()
    assert lin_line.period_end == end


def test_renewing_from_the_wallet_extends_the_line_and_shows_the_receipt_links(
    lin_client: Client,
    lin: Subscriber,
    lin_line: Line,
    coupon: Coupon,
    fund: Callable[[Subscriber, int], None],
) -> None:
    fund(lin, 10_000)
    end = lin_line.period_end
    form = {"plan": "talk30", "coupon": "SAVE5", "method": "wallet", "token": uuid.uuid4().hex}

    response = lin_client.post(renew_url(lin_line), form, follow=True)

    order = Order.objects.get()
    assert order.state == OrderState.FULFILLED
    assert order.discount_cents == 500
    assert balance(lin) == 10_000 - order.total_cents
    lin_line.refresh_from_db()
    assert lin_line.period_end > end
    page = response.content.decode()
    assert "Your line is renewed" in page
    assert f"/en/orders/{order.pk}/receipt/" in page
    assert f"/en/orders/{order.pk}/receipt.pdf" in page


def test_a_double_submit_renews_once(
    lin_client: Client, lin: Subscriber, lin_line: Line, fund: Callable[[Subscriber, int], None]
) -> None:
    fund(lin, 10_000)
    form = {"plan": "talk30", "method": "wallet", "token": uuid.uuid4().hex}

    first = lin_client.post(renew_url(lin_line), form)
    second = lin_client.post(renew_url(lin_line), form)

    order = Order.objects.get()
    assert first["Location"] == second["Location"] == f"/en/portal/orders/{order.pk}/"
    assert balance(lin) == 10_000 - order.total_cents


def test_a_short_wallet_is_explained_and_nothing_changes(
    lin_client: Client, lin: Subscriber, lin_line: Line, fund: Callable[[Subscriber, int], None]
) -> None:
    fund(lin, 100)

    response = lin_client.post(
        renew_url(lin_line), {"plan": "talk30", "method": "wallet", "token": uuid.uuid4().hex}
    )

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert balance(lin) == 100
    assert not Order.objects.exists()


def test_a_voucher_pin_pays_the_renewal_in_one_step(
    lin_client: Client, lin: Subscriber, lin_line: Line, voucher_pin: Callable[[int], str]
) -> None:
    pin = voucher_pin(5000)

    response = lin_client.post(
        renew_url(lin_line),
        {"plan": "talk30", "method": "voucher", "pin": pin, "token": uuid.uuid4().hex},
    )

    order = Order.objects.get()
    assert response["Location"] == f"/en/portal/orders/{order.pk}/"
    assert order.payment_method == "wallet"
    assert balance(lin) == 5000 - order.total_cents


def test_a_wrong_voucher_pin_shows_the_error_in_french_and_changes_nothing(
    lin_client: Client, lin: Subscriber, lin_line: Line, voucher_pin: Callable[[int], str]
) -> None:
    voucher_pin(5000)

    response = lin_client.post(
        f"/fr/portal/lines/{lin_line.msisdn}/renew/",
        {"plan": "talk30", "method": "voucher", "pin": "1111 2222 3333", "token": uuid.uuid4().hex},
    )

    assert response.status_code == 200
    assert "NIP" in response.content.decode() or "code" in response.content.decode()
    assert balance(lin) == 0
    assert not Order.objects.exists()
    assert VoucherFailure.objects.count() == 1


def test_card_is_not_offered_without_stripe_keys(
    lin_client: Client, lin: Subscriber, lin_line: Line, fund: Callable[[Subscriber, int], None]
) -> None:
    fund(lin, 10_000)

    page = lin_client.get(renew_url(lin_line)).content.decode()
    refused = lin_client.post(
        renew_url(lin_line), {"plan": "talk30", "method": "card", "token": uuid.uuid4().hex}
    )

    assert 'value="card"' not in page
    assert refused.status_code == 200
    assert not Order.objects.exists()


def test_a_double_submit_with_a_voucher_redeems_it_once(
    lin_client: Client, lin: Subscriber, lin_line: Line, voucher_pin: Callable[[int], str]
) -> None:
    pin = voucher_pin(5000)
    form = {"plan": "talk30", "method": "voucher", "pin": pin, "token": uuid.uuid4().hex}

    first = lin_client.post(renew_url(lin_line), form)
    second = lin_client.post(renew_url(lin_line), form)

    order = Order.objects.get()
    assert first["Location"] == second["Location"] == f"/en/portal/orders/{order.pk}/"
    assert balance(lin) == 5000 - order.total_cents
    assert not VoucherFailure.objects.exists()


def test_renewing_by_card_goes_to_stripe_checkout_and_the_order_waits(
    lin_client: Client, lin_line: Line, stripe_standin: StripeStandIn
) -> None:
    end = lin_line.period_end

    page = lin_client.get(renew_url(lin_line)).content.decode()
    response = lin_client.post(
        renew_url(lin_line), {"plan": "talk30", "method": "card", "token": uuid.uuid4().hex}
    )

    assert 'value="card"' in page
    assert_sent_to_stripe(response)
    order = Order.objects.get()
    assert order.state == OrderState.PENDING
    done = lin_client.get(f"/en/portal/orders/{order.pk}/").content.decode()
    assert "Waiting for your payment" in done
    lin_line.refresh_from_db()
    assert lin_line.period_end == end


def test_an_upgrade_is_priced_and_renews_on_the_new_plan(
    lin_client: Client,
    lin: Subscriber,
    lin_line: Line,
    make_plan: Callable[..., Plan],
    fund: Callable[[Subscriber, int], None],
) -> None:
    big = make_plan(code="big", name_en="Big 30", price_cents=6000)
    fund(lin, 10_000)

    quote = lin_client.get(renew_url(lin_line, "quote/"), {"plan": "big"}).content.decode()
    lin_client.post(
        renew_url(lin_line), {"plan": "big", "method": "wallet", "token": uuid.uuid4().hex}
    )

    assert "$67.80" in quote  # 60.00 plus 13 % HST
    assert Order.objects.get().plan == big


def test_the_price_names_the_plan_in_the_pages_language(lin_client: Client, lin_line: Line) -> None:
    quote = lin_client.get(f"/zh-hans/portal/lines/{lin_line.msisdn}/renew/quote/")
    page = quote.content.decode()
    assert "加拿大30天" in page
    assert "统一销售税" in page
