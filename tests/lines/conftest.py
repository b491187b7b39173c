"""Fixtures for the stock, eSIM and admin tests: a store, and lines made by the real service."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.lines import services
from simcare.lines.models import Line, Number, SimCard, SimKind
from simcare.stores.models import Store
from tests.lines.stock_support import iccid

_serial = itertools.count(1)


@pytest.fixture
def store(db: Any) -> Store:
    return Store.objects.create(
        code="TOR-01",
        name="Toronto Downtown",
        address="300 Yonge St",
        city="Toronto",
        province="ON",
        postal_code="M5B 2L7",
    )


@pytest.fixture
def make_line(db: Any) -> Callable[..., Line]:
    """A line activated through lines.services on fresh stock."""

    def make(subscriber: Subscriber, plan: Plan, *, kind: SimKind = SimKind.PHYSICAL) -> Line:
        serial = 500000 + next(_serial)
        number = Number.objects.create(msisdn=f"+1905555{serial % 10000:04d}")
        if kind == SimKind.ESIM:
            sim = SimCard.objects.create(
                iccid=iccid(serial),
                kind=kind,
                smdp_address="smdp.example.com",
                matching_id=f"MATCH-{serial}",
            )
        else:
            sim = SimCard.objects.create(iccid=iccid(serial), kind=kind, location="WAREHOUSE")
        return services.activate_line(
            subscriber, plan, kind=kind, acting_user=None, sim=sim, msisdn=number.msisdn
        )

    return make
