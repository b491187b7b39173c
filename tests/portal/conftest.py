"""Fixtures for the subscriber portal: a signed-in subscriber with a line, vouchers, coupons,
eSIM stock for a purchase."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.ledger import services as ledger
from simcare.lines.models import Line, Number, SimCard, SimKind
from simcare.orders.models import Coupon, DiscountKind
from simcare.orders.services import vouchers
from simcare.usage import services as usage_services
from tests.conftest import signed_in_client
from tests.lines.conftest import make_line
from tests.lines.stock_support import iccid
from tests.orders.conftest import stripe_standin

__all__ = ["make_line", "stripe_standin"]

_stock = itertools.count(1)


@pytest.fixture
def lin(make_subscriber: Callable[..., Subscriber]) -> Subscriber:
    return make_subscriber(username="lin", email="lin@example.com")


@pytest.fixture
def lin_client(lin: Subscriber) -> Client:
    return signed_in_client(lin.user)


@pytest.fixture
def lin_line(lin: Subscriber, plan: Plan, make_line: Callable[..., Line]) -> Line:
    return make_line(lin, plan)


@pytest.fixture
def fund(db: Any) -> Callable[[Subscriber, int], None]:
    def fund(subscriber: Subscriber, amount_cents: int) -> None:
        ledger.transfer(
            kind="wallet_topup",
            source=ledger.system_account("clearing:stripe"),
            destination=ledger.wallet_for(subscriber),
            amount_cents=amount_cents,
        )

    return fund


def balance(subscriber: Subscriber) -> int:
    return ledger.wallet_for(subscriber).cached_balance_cents


@pytest.fixture
def voucher_pin(db: Any) -> Callable[[int], str]:
    """A fresh voucher of value_cents; returns its PIN."""

    def make(value_cents: int = 5000) -> str:
        _batch, pins = vouchers.generate_batch(
            name=f"Test {next(_stock)}",
            value_cents=value_cents,
            count=1,
            expires_at=timezone.now() + dt.timedelta(days=365),
            acting_user=None,
        )
        return pins[0][1]

    return make


@pytest.fixture
def coupon(db: Any) -> Coupon:
    return Coupon.objects.create(code="SAVE5", kind=DiscountKind.FIXED, amount_off_cents=500)


@pytest.fixture
def expired_coupon(db: Any) -> Coupon:
    return Coupon.objects.create(
        code="OLD10",
        kind=DiscountKind.PERCENT,
        percent_off=10,
        valid_until=timezone.now() - dt.timedelta(days=1),
    )


@pytest.fixture
def esim_stock(db: Any) -> Callable[[int], None]:
    """Free numbers and eSIM profiles for new lines."""

    def add(count: int = 1) -> None:
        for _ in range(count):
            serial = 700000 + next(_stock)
            Number.objects.create(msisdn=f"+1647555{serial % 10000:04d}")
            SimCard.objects.create(
                iccid=iccid(serial),
                kind=SimKind.ESIM,
                smdp_address="smdp.example.com",
                matching_id=f"ESIM-{serial}",
            )

    return add


def assert_sent_to_stripe(response: HttpResponse) -> None:
    """The page that moves the buyer on to Stripe Checkout (meta refresh and a link)."""
    assert response.status_code == 200
    page = response.content.decode()
    assert 'http-equiv="refresh" content="0;url=https://checkout.stripe.test/' in page
    assert 'id="provider-link" href="https://checkout.stripe.test/' in page


def record_usage(line: Line) -> None:
    """Usage just now on line, through the CDR import: 3 MB of data, 3 call minutes, 2 texts."""
    moment = timezone.now().isoformat()  # after the activation: usage before it is refused
    rows = [
        f"a{line.pk},{line.msisdn},data,{moment},3145728,CA,",  # bytes
        f"b{line.pk},{line.msisdn},voice,{moment},125,CA,out",  # seconds: 3 started minutes
        f"c{line.pk},{line.msisdn},sms,{moment},1,CA,out",
        f"d{line.pk},{line.msisdn},sms,{moment},1,CA,out",
    ]
    header = "record_id,msisdn,type,started_at,quantity,zone,direction"
    report = usage_services.import_cdrs(
        io.BytesIO("\n".join([header, *rows, ""]).encode()),
        file_name="usage.csv",
        now=timezone.now() + dt.timedelta(minutes=1),
    )
    assert report.applied == len(rows)
