"""Fixtures for the reseller API: resellers made by the service, keys issued by it, floats
funded through the ledger, eSIM stock to activate from."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.kit.iccid import make_iccid
from simcare.lines.models import Line, Number, SimCard, SimKind
from simcare.partners import batching, services
from simcare.partners.models import Reseller
from tests.api.conftest import ApiClient, fund_wallet, make_line  # noqa: F401  (fixtures)

_serial = itertools.count(1)


@pytest.fixture
def make_reseller(db: Any) -> Callable[..., Reseller]:
    def make(slug: str = "maple", **overrides: Any) -> Reseller:
        return services.create_reseller(
            name=overrides.pop("name", f"{slug.title()} Shop"),
            slug=slug,
            acting_user=None,
            **overrides,
        )

    return make


@pytest.fixture
def reseller(make_reseller: Callable[..., Reseller]) -> Reseller:
    return make_reseller("maple")


def key_for(reseller: Reseller) -> str:
    _row, key = services.issue_api_key(reseller, label="test", acting_user=None)
    return key


@pytest.fixture
def reseller_key(reseller: Reseller) -> str:
    return key_for(reseller)


@pytest.fixture
def reseller_api(reseller_key: str) -> ApiClient:
    return ApiClient(reseller_key)


def fund(reseller: Reseller, amount_cents: int) -> None:
    services.top_up_float(
        reseller,
        amount_cents=amount_cents,
        source="clearing:bank",
        reference="wire",
        idempotency_key=f"test:{next(_serial)}",
        acting_user=None,
    )


@pytest.fixture
def esim_stock(db: Any) -> Callable[[int], None]:
    def stock(count: int = 1) -> None:
        for _ in range(count):
            serial = 800000 + next(_serial)
            Number.objects.create(msisdn=f"+1416555{serial % 10000:04d}")
            SimCard.objects.create(
                iccid=make_iccid(f"8912300001{serial:08d}"),
                kind=SimKind.ESIM,
                smdp_address="smdp.example.com",
                matching_id=f"RSL-{serial}",
            )

    return stock


@pytest.fixture
def line(subscriber: Subscriber, plan: Plan, make_line: Callable[..., Line]) -> Line:  # noqa: F811
    """A live line of the subscriber on the plan fixture, for resellers to renew."""
    return make_line(subscriber, plan)


@pytest.fixture
def threaded_batches(settings: Any) -> Iterator[None]:
    """The API's orders placed by this process's batcher thread, as under `simcare serve`
    (the tests' default places each in its request's thread); the thread is stopped and
    its connection closed afterwards. Needs a database other connections see
    (django_db(transaction=True))."""
    settings.SIMCARE_RESELLER_BATCH = "thread"
    batching.shutdown()
    yield
    batching.shutdown()
