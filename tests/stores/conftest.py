"""Fixtures of the store tests: two stores with hours and services, their clerks, stock."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from simcare.accounts.models import Role, User
from simcare.lines.models import Number, SimCard, SimKind
from simcare.stores.models import Store
from tests.lines.stock_support import iccid

_serial = itertools.count(1)

ALL_SERVICES = ["sim_sales", "esim", "renewals", "vouchers", "returns"]
WEEKDAYS_10_TO_19 = {
    "mon": [["10:00", "19:00"]],
    "tue": [["10:00", "19:00"]],
    "wed": [["10:00", "19:00"]],
    "thu": [["10:00", "19:00"]],
    "fri": [["10:00", "21:00"]],
    "sat": [["11:00", "14:00"], ["15:00", "18:00"]],
    "sun": [],
}


@pytest.fixture
def make_store(db: Any) -> Callable[..., Store]:
    def make(code: str, **overrides: Any) -> Store:
        fields: dict[str, Any] = {
            "name": f"Store {code}",
            "address": "317 Spadina Ave",
            "city": "Toronto",
            "province": "ON",
            "postal_code": "M5T 2E9",
            "phone": "+14169770100",
            "latitude": "43.654120",
            "longitude": "-79.398530",
            "hours": WEEKDAYS_10_TO_19,
            "services": ALL_SERVICES,
        }
        fields.update(overrides)
        return Store.objects.create(code=code, **fields)

    return make


@pytest.fixture
def shop(make_store: Callable[..., Store]) -> Store:
    return make_store("TOR-01", name="Toronto Chinatown")


@pytest.fixture
def other_shop(make_store: Callable[..., Store]) -> Store:
    return make_store(
        "VAN-01",
        name="Vancouver Cambie",
        address="3311 Cambie St",
        city="Vancouver",
        province="BC",
        postal_code="V5Z 2W6",
        latitude=None,
        longitude=None,
    )


@pytest.fixture
def clerk(make_staff: Callable[..., User], shop: Store) -> User:
    user = make_staff(Role.CLERK, username="clerk.tor")
    shop.clerks.add(user)
    return user


@pytest.fixture
def other_clerk(make_staff: Callable[..., User], other_shop: Store) -> User:
    user = make_staff(Role.CLERK, username="clerk.van")
    other_shop.clerks.add(user)
    return user


@pytest.fixture
def stock(db: Any) -> Callable[..., list[SimCard]]:
    """Put `count` physical SIMs on a store's shelf (and as many numbers in the pool)."""

    def put(store: Store | None, count: int = 1, *, kind: SimKind = SimKind.PHYSICAL) -> list:
        cards = []
        for _index in range(count):
            serial = 700000 + next(_serial)
            Number.objects.create(msisdn=f"+1647555{serial % 10000:04d}")
            if kind == SimKind.ESIM:
                cards.append(
                    SimCard.objects.create(
                        iccid=iccid(serial),
                        kind=kind,
                        smdp_address="smdp.example.com",
                        matching_id=f"MATCH-{serial}",
                    )
                )
            else:
                cards.append(
                    SimCard.objects.create(
                        iccid=iccid(serial),
                        kind=kind,
                        location=store.code if store else "WAREHOUSE",
                        store=store,
                    )
                )
        return cards

    return put
