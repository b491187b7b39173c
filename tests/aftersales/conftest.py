"""Fixtures for after-sales: SIM purchases placed through the real order service."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from PIL import Image

from simcare.accounts.models import Role, Subscriber, User
from simcare.catalog.models import Plan
from simcare.ledger import services as ledger
from simcare.lines.models import Number, SimCard, SimKind
from simcare.orders.models import Order, OrderKind
from simcare.orders.services import ordering
from simcare.stores.models import Store
from tests.lines.conftest import store
from tests.lines.stock_support import iccid
from tests.orders.conftest import assert_ledger_clean, balance

__all__ = ["assert_ledger_clean", "balance", "store"]

_serial = itertools.count(1)

# Tuesday 1 December 2026, 10:00 in Toronto.
DELIVERED = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


def add_stock(kind: SimKind = SimKind.PHYSICAL, *, store: Store | None = None) -> SimCard:
    serial = 700000 + next(_serial)
    Number.objects.create(msisdn=f"+1613555{serial % 10000:04d}")
    if kind == SimKind.ESIM:
        return SimCard.objects.create(
            iccid=iccid(serial),
            kind=kind,
            smdp_address="smdp.example.com",
            matching_id=f"MATCH-{serial}",
        )
    return SimCard.objects.create(
        iccid=iccid(serial), kind=kind, location=store.code if store else "WAREHOUSE", store=store
    )


def spare_sim(kind: SimKind = SimKind.PHYSICAL) -> SimCard:
    """A card in stock with no number beside it (what an agent picks for a swap)."""
    serial = 800000 + next(_serial)
    if kind == SimKind.ESIM:
        return SimCard.objects.create(
            iccid=iccid(serial),
            kind=kind,
            smdp_address="smdp.example.com",
            matching_id=f"NEW-{serial}",
        )
    return SimCard.objects.create(iccid=iccid(serial), kind=kind, location="WAREHOUSE")


def fund(subscriber: Subscriber, amount_cents: int) -> None:
    ledger.transfer(
        kind="wallet_topup",
        source=ledger.system_account("clearing:stripe"),
        destination=ledger.wallet_for(subscriber),
        amount_cents=amount_cents,
    )


@pytest.fixture
def buy_sim(db: Any, plan: Plan) -> Callable[..., Order]:
    """A fulfilled new-line order at `at` (default DELIVERED), paid from a funded wallet or cash."""

    def buy(
        subscriber: Subscriber,
        *,
        kind: SimKind = SimKind.PHYSICAL,
        at: dt.datetime = DELIVERED,
        payment_method: str = "wallet",
        store: Store | None = None,
    ) -> Order:
        add_stock(kind, store=store)
        with time_machine.travel(at, tick=False):
            if payment_method == "wallet":
                fund(subscriber, 5000)
            return ordering.place_order(
                kind=OrderKind.NEW_LINE,
                channel="store" if payment_method == "cash" else "web",
                subscriber=subscriber,
                payment_method=payment_method,
                idempotency_key=f"test:{next(_serial)}",
                acting_user=None,
                plan=plan,
                sim_kind=str(kind),
                store=store,
            )

    return buy


@pytest.fixture
def agent(make_staff: Callable[..., User]) -> User:
    return make_staff(Role.AGENT)


def image_bytes(image_format: str = "JPEG", *, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small photo with EXIF (camera, GPS-like tag) the way a phone writes one."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x9003] = "2026:12:01 10:00:00"  # DateTimeOriginal
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, exif=exif.tobytes())
    return buffer.getvalue()
